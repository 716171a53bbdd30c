"""Reading and writing tables at the pipeline's edges.

Reading checks a file against a column contract before any row is looked at, so a table
that cannot be validated row by row (missing file, CSV instead of parquet, missing column,
wrong dtype) fails loudly with a message naming the table, the column and the check.
Nothing is coerced: a wrong dtype is an upstream bug to fix, not to paper over.

Writing goes through ``write_together``: the files of one step are written into a staging
folder, then moved into place as one commit, so a crash or ``kill -9`` never leaves half a file
nor new files beside old ones, and its leftovers are finished or removed by the next write.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from clm.data.contract import RAW_TABLES
from clm.errors import InputError

logger = logging.getLogger(__name__)

PARQUET_MAGIC = b"PAR1"
STAGING_PREFIX = ".clm-staging-"
COMMIT_MARKER = "COMMIT"  # written last in a staging folder: its files are to be moved in


class TableError(InputError):
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
    require_parquet_file(path, table_name)
    check_contract(
        schema_checked(pl.scan_parquet(path), table_name, f"{path}: "), table_name, contract
    )
    frame = collect_checked(pl.scan_parquet(path), table_name, f"{path}: ")
    logger.debug("read %s: %d rows from %s", table_name, frame.height, path)
    return frame


def schema_checked(frame: pl.LazyFrame, table_name: str, where: str = "") -> pl.Schema:
    """The schema of ``frame``, or TableError when its file's metadata cannot be read."""
    try:
        return frame.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as error:
        raise TableError(table_name, "readable", f"{where}cannot read: {error}") from error


def collect_checked(frame: pl.LazyFrame, table_name: str, where: str = "") -> pl.DataFrame:
    """Collect ``frame``, or raise TableError naming the first column whose data cannot be read.

    A corrupt data page or invalid UTF-8 shows only when the rows are read, and polars does not
    say in which column; each column is read alone to find it, on this failure path only.
    """
    try:
        return frame.collect()
    except pl.exceptions.ComputeError as error:
        column = next(
            (name for name in frame.collect_schema() if not _readable(frame.select(name))), None
        )
        detail = f"{where}cannot read the data: {error}"
        raise TableError(table_name, "readable", detail, column) from error


def _readable(column: pl.LazyFrame) -> bool:
    try:
        column.collect()
    except pl.exceptions.ComputeError:
        return False
    return True


def require_parquet_file(path: Path, table_name: str) -> None:
    """Raise TableError unless ``path`` is a parquet file, before polars gives an obscure error."""
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
    with write_together(path) as (staged,):
        frame.write_parquet(staged)


def write_text_atomic(text: str, path: Path) -> None:
    """Write ``text`` (UTF-8) to ``path`` so readers see either the old file or the new one."""
    with write_together(path) as (staged,):
        staged.write_text(text, encoding="utf-8")


@contextmanager
def write_together(*targets: Path) -> Iterator[tuple[Path, ...]]:
    """Write several output files as one commit: readers get all new files or all old ones.

    Yields one staging path per target, in a staging folder beside the targets (in their
    common parent, so the moves are renames on one filesystem); other files the block writes
    in that folder are scratch, discarded with it. When the block ends without error, the
    files are flushed to disk, a commit marker is written, and each is renamed over its
    target. A run killed before the marker leaves the old files; one killed after it is
    finished by the next ``write_together`` in the same folder, which also removes the
    staging folders of killed runs. Runs writing the same targets must not overlap.
    """
    root = Path(os.path.commonpath([target.absolute().parent for target in targets]))
    root.mkdir(parents=True, exist_ok=True)
    recover_staging(root)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=root))
    moves = {staging / target.absolute().relative_to(root): target for target in targets}
    try:
        for staged in moves:
            staged.parent.mkdir(parents=True, exist_ok=True)
        yield tuple(moves)
        for staged in moves:
            _fsync(staged)
        marker = {
            str(staged.relative_to(staging)): str(target.absolute())
            for staged, target in moves.items()
        }
        (staging / f"{COMMIT_MARKER}.tmp").write_text(json.dumps(marker), encoding="utf-8")
        _fsync(staging / f"{COMMIT_MARKER}.tmp")
        os.replace(staging / f"{COMMIT_MARKER}.tmp", staging / COMMIT_MARKER)
        _fsync(staging)
        _move_committed(staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def recover_staging(root: Path) -> None:
    """Finish the commits that killed runs left in ``root``, remove their other leftovers."""
    for staging in sorted(root.glob(f"{STAGING_PREFIX}*")):
        if (staging / COMMIT_MARKER).is_file():
            logger.warning("finishing the commit of an interrupted run: %s", staging)
            _move_committed(staging)
        else:
            logger.warning("removing the staging folder of an interrupted run: %s", staging)
        shutil.rmtree(staging, ignore_errors=True)


def _move_committed(staging: Path) -> None:
    """Rename each staged file of a committed staging folder over its target (redo-safe)."""
    moves = json.loads((staging / COMMIT_MARKER).read_text(encoding="utf-8"))
    for staged_name, target_name in moves.items():
        staged, target = staging / staged_name, Path(target_name)
        if staged.exists():  # already moved when a previous attempt was interrupted
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staged, target)
            _fsync(target.parent)


def _fsync(path: Path) -> None:
    """Flush a file or a folder entry to disk, so a rename never exposes unwritten data."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextmanager
def parquet_stream(path: Path) -> Iterator[Callable[[pl.DataFrame], None]]:
    """Append frames of one schema to ``path`` as row groups, one frame in memory at a time.

    The file appears at ``path`` only when the block ends without error, replacing any old one.
    """
    with write_together(path) as (staged,), parquet_appender(staged) as append:
        yield append


@contextmanager
def parquet_appender(path: Path) -> Iterator[Callable[[pl.DataFrame], None]]:
    """Append frames of one schema to ``path`` as row groups; for files in a staging folder."""
    writer: pq.ParquetWriter | None = None

    def append(frame: pl.DataFrame) -> None:
        nonlocal writer
        table = frame.to_arrow()
        if writer is None:
            writer = pq.ParquetWriter(path, table.schema)
        writer.write_table(table)

    try:
        yield append
        if writer is None:
            raise ValueError(f"{path}: no rows were written")
    finally:
        if writer is not None:
            writer.close()
