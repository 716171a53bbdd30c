"""Reading and writing tables at the pipeline's edges.

Reading checks a file against a column contract before any row is looked at, so a table
that cannot be validated row by row (missing file, CSV instead of parquet, missing column,
wrong dtype) fails loudly with a message naming the table, the column and the check.
Nothing is coerced: a wrong dtype is an upstream bug to fix, not to paper over.
Writing goes through a temporary file and a rename, so a crash never leaves half a file.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from clm.data.contract import RAW_TABLES

logger = logging.getLogger(__name__)

PARQUET_MAGIC = b"PAR1"


class TableError(ValueError):
    """A whole table is unusable: row-level checks cannot run on it.

    Attributes:
        table: Name of the table, e.g. ``usage_monthly``.
        column: The offending column, or None when the problem is the whole table.
        check: Short name of the failed check, e.g. ``dtype`` or ``file_exists``.
    """

    def __init__(self, table: str, check: str, detail: str, column: str | None = None) -> None:
        self.table = table
        self.column = column
        self.check = check
        where = f"column '{column}'" if column else "whole table"
        super().__init__(f"table '{table}', {where}, check '{check}': {detail}")


def check_contract(
    schema: Mapping[str, pl.DataType], table_name: str, contract: Mapping[str, pl.DataType]
) -> None:
    """Raise TableError unless every contract column is present with exactly its dtype.

    Extra columns are allowed (the contract may be extended); they are passed through unchecked.
    """
    missing = [column for column in contract if column not in schema]
    if missing:
        raise TableError(
            table_name,
            "column_present",
            f"missing column(s) {missing}; found {list(schema)}",
            column=missing[0],
        )
    for column, expected in contract.items():
        found = schema[column]
        if found != expected:
            raise TableError(
                table_name,
                "dtype",
                f"expected {expected}, found {found}; fix the writer, clm does not coerce",
                column=column,
            )


def read_table(
    path: Path, table_name: str, contract: Mapping[str, pl.DataType] | None = None
) -> pl.DataFrame:
    """Read a parquet table after checking it against its column contract.

    Args:
        path: Parquet file to read.
        table_name: Name used in error messages; also picks the raw contract by default.
        contract: Column name to polars dtype; defaults to ``RAW_TABLES[table_name]``.

    Raises:
        TableError: the file is missing, is not parquet, cannot be read, lacks a contract
            column or has a column of another dtype.
    """
    if contract is None:
        if table_name not in RAW_TABLES:
            raise TableError(table_name, "contract", f"no contract known; pass one for {path}")
        contract = RAW_TABLES[table_name]
    _require_parquet_file(path, table_name)
    try:
        schema = pl.scan_parquet(path).collect_schema()
    except (pl.exceptions.PolarsError, OSError) as error:
        raise TableError(table_name, "readable", f"cannot read {path}: {error}") from error
    check_contract(schema, table_name, contract)
    frame = pl.read_parquet(path)
    logger.debug("read %s: %d rows from %s", table_name, frame.height, path)
    return frame


def _require_parquet_file(path: Path, table_name: str) -> None:
    """Fail with a clear message before polars gives an obscure one."""
    if not path.is_file():
        raise TableError(table_name, "file_exists", f"{path} does not exist or is not a file")
    with path.open("rb") as handle:
        head = handle.read(len(PARQUET_MAGIC))
    if head != PARQUET_MAGIC:
        raise TableError(
            table_name,
            "parquet_format",
            f"{path} is not a parquet file (starts with {head!r}, not {PARQUET_MAGIC!r}); "
            "CSV and other formats are not accepted",
        )


def write_parquet_atomic(frame: pl.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` so readers see either the old file or the new one."""
    _replace_atomic(path, frame.write_parquet)


def write_text_atomic(text: str, path: Path) -> None:
    """Write ``text`` (UTF-8) to ``path`` so readers see either the old file or the new one."""
    _replace_atomic(path, lambda temp: temp.write_text(text, encoding="utf-8"))


def _replace_atomic(path: Path, write: Callable[[Path], object]) -> None:
    """Write through a temporary file in the same folder, then rename it over ``path``."""
    temp = _temp_beside(path)
    try:
        write(temp)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _temp_beside(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(handle)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(name, 0o666 & ~umask)  # mkstemp's 0600 would make outputs private to the writer
    return Path(name)


@contextmanager
def parquet_stream(path: Path) -> Iterator[Callable[[pl.DataFrame], None]]:
    """Append frames of one schema to ``path`` as row groups, one frame in memory at a time.

    The file appears at ``path`` only when the block ends without error, replacing any old one.
    """
    temp = _temp_beside(path)
    writer: pq.ParquetWriter | None = None

    def append(frame: pl.DataFrame) -> None:
        nonlocal writer
        table = frame.to_arrow()
        if writer is None:
            writer = pq.ParquetWriter(temp, table.schema)
        writer.write_table(table)

    try:
        yield append
        if writer is None:
            raise ValueError(f"{path}: no rows were written")
        writer.close()
        writer = None
        os.replace(temp, path)
    finally:
        if writer is not None:
            writer.close()
        temp.unlink(missing_ok=True)
