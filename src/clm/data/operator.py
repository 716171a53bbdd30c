"""An operator's own raw tables, brought into clm's raw contract without code changes.

The operator names its columns its own way and may export CSV; a column mapping in params
renames them, a value mapping turns its codes into the contract's vocabularies (its brand
names into ``flagship`` / ``youth`` / ``budget``, ``Y``/``N`` into flags), and every contract
column is cast to its contract type, losslessly or not at all: a value that does not parse,
or that a column's value mapping does not list, is an error naming table, column and an
example, never a silent null. Months may come as dates, ``YYYY-MM``/``YYYY-MM-DD`` text or
``YYYYMM`` numbers (账期), and become first-of-month dates.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq

from clm.data.contract import RAW_TABLES
from clm.data.io import TableError, check_contract, parquet_appender

log = logging.getLogger(__name__)

SUFFIXES = (".parquet", ".csv")
# What a campaign's outcome months need, with the month column that places each row.
OUTCOME_TABLES = {"usage_monthly": "month", "churn_events": "churn_month"}


@dataclass(frozen=True)
class OperatorTables:
    """Where the operator's tables are and how their columns are named."""

    folder: str  # "" while data.source is synthetic
    columns: dict[str, dict[str, str]]  # table -> {theirs: ours}; a table not listed: as is
    # table -> {clm column: {their value: clm value}}; a column not listed: as is
    values: dict[str, dict[str, dict[Any, Any]]]
    # where the later export holding the months after a campaign plan goes (a DVC dep of the
    # outcome stage); until it holds them the campaign waits
    outcome_folder: str


@dataclass(frozen=True)
class DataConfig:
    """The ``data`` section: which raw data the pipeline runs on."""

    source: str  # synthetic | operator
    operator: OperatorTables

    def __post_init__(self) -> None:
        if self.source not in ("synthetic", "operator"):
            raise ValueError(f"data.source must be synthetic or operator, got {self.source!r}")
        if self.source == "operator" and not self.operator.folder:
            raise ValueError("data.source is operator but data.operator.folder is empty")
        if not self.operator.outcome_folder:
            raise ValueError(
                "data.operator.outcome_folder is empty: name the folder the months after a "
                "campaign plan are exported to (DVC tracks it; the campaign waits while it "
                "holds no usage_monthly or churn_events)"
            )
        for key in ("columns", "values"):
            unknown = set(getattr(self.operator, key)) - set(RAW_TABLES)
            if unknown:
                raise ValueError(f"data.operator.{key}: unknown tables {sorted(unknown)}")
        for table, columns in self.operator.values.items():
            for column, values in columns.items():
                where = f"data.operator.values.{table}.{column}"
                if column not in RAW_TABLES[table]:
                    raise ValueError(f"{where}: {column!r} is not a column of clm's {table}")
                booleans = [key for key in values if isinstance(key, bool)]
                if booleans:
                    raise ValueError(
                        f"{where}: YAML read the key {booleans[0]!r} as a boolean (Yes, No, "
                        "on, off ...); quote the data value as it is in the file"
                    )


def import_operator_tables(tables: OperatorTables, base: Path = Path()) -> dict[str, pl.DataFrame]:
    """Read, rename and type the operator's three tables (``base`` resolves a relative folder)."""
    return _import(tables, base / tables.folder, RAW_TABLES)


def holds_outcome(tables: OperatorTables, base: Path = Path()) -> bool:
    """Whether the outcome folder holds any outcome table yet (an export of the months after
    a plan, which may be lived months away)."""
    folder = base / tables.outcome_folder
    return any(_table_file(folder, name) for name in OUTCOME_TABLES)


def import_outcome_tables(tables: OperatorTables, base: Path = Path()) -> dict[str, pl.DataFrame]:
    """``usage_monthly`` and ``churn_events`` of the outcome export, read like the others."""
    return _import(tables, base / tables.outcome_folder, OUTCOME_TABLES)


def _import(tables: OperatorTables, folder: Path, names: Iterable[str]) -> dict[str, pl.DataFrame]:
    return {name: conform(_read(folder, name), name, tables) for name in names}


def write_in_contract(
    tables: OperatorTables, folder: Path, names: Iterable[str], out: Path, batch_rows: int
) -> None:
    """The operator's ``names`` tables in ``folder`` (its names and codes, parquet or CSV)
    written to ``out/<name>.parquet`` in clm's raw contract, in bounded memory: a quarter of
    ``batch_rows`` (``scoring.batch_rows``) rows at a time, since rows read as text weigh more
    than the numbers they become (1M subscribers from CSV: 2.28 GiB peak, 2.63 GiB with whole
    batches). CSV is read as text, as Spark reads it: ``conform`` casts each contract column
    and leaves no other."""
    if out.resolve() == folder.resolve():
        raise ValueError(f"{out}: the converted tables would overwrite the operator's export")
    for name in names:
        source = _require_table_file(folder, name)
        log.info("converting %s from %s", name, source)
        text = out / f"{name}.text.parquet"  # a CSV's columns as text, read in batches
        if source.suffix == ".csv":
            try:
                pl.scan_csv(source, infer_schema=False).sink_parquet(text)
            except pl.exceptions.PolarsError as error:
                raise TableError(name, "csv_parse", f"{source}: {error}") from error
            source = text
        rows = pq.ParquetFile(source)
        if rows.metadata.num_rows == 0:
            raise TableError(name, "non_empty", f"{source} has no rows")
        with parquet_appender(out / f"{name}.parquet") as append:
            for batch in rows.iter_batches(max(1, batch_rows // 4)):
                append(to_contract(pl.from_arrow(batch), name, tables))
        text.unlink(missing_ok=True)


def to_contract(frame: pl.DataFrame, table: str, tables: OperatorTables) -> pl.DataFrame:
    """``conform``, keeping only the contract's columns, in its order: the same schema for
    every batch of a table converted batch by batch."""
    return conform(frame, table, tables).select(list(RAW_TABLES[table]))


def conform(frame: pl.DataFrame, table: str, tables: OperatorTables) -> pl.DataFrame:
    """Rename ``table``'s columns to contract names by ``tables.columns``, map the values of
    the columns ``tables.values`` lists (clm column -> {their value: clm value}) and cast
    every contract column to its contract dtype."""
    renames, recodes = tables.columns.get(table, {}), tables.values.get(table, {})
    missing_sources = sorted(set(renames) - set(frame.columns))
    if missing_sources:
        raise TableError(table, "column_present", f"mapped columns {missing_sources} not found")
    frame = frame.rename(renames)
    contract = RAW_TABLES[table]
    absent = [c for c in contract if c not in frame.columns]
    if absent:
        raise TableError(
            table, "column_present", f"missing after renaming: {absent}", column=absent[0]
        )
    frame = frame.with_columns(
        _recode(frame[name], values, table) for name, values in recodes.items()
    )
    typed = frame.with_columns(_cast(frame[name], dtype, table) for name, dtype in contract.items())
    check_contract(typed.schema, table, contract)
    return typed


def _read(folder: Path, table: str) -> pl.DataFrame:
    path = _require_table_file(folder, table)
    log.info("reading %s from %s", table, path)
    return pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_csv(path)


def _require_table_file(folder: Path, table: str) -> Path:
    path = _table_file(folder, table)
    if path is None:
        raise TableError(
            table, "file_exists", f"no {table}.parquet or {table}.csv in {folder.resolve()}"
        )
    return path


def _table_file(folder: Path, table: str) -> Path | None:
    """``<table>.parquet`` or ``<table>.csv`` in ``folder``, the first there."""
    return next(
        (path for suffix in SUFFIXES if (path := folder / f"{table}{suffix}").exists()), None
    )


def _recode(series: pl.Series, values: dict[Any, Any], table: str) -> pl.Series:
    """Each value replaced by its entry in ``values`` (keys compared as text, so ``1`` and
    ``"1"`` match a CSV's 1); a value the mapping does not list is an error."""
    text = series.cast(pl.String)
    lookup = {str(theirs): ours for theirs, ours in values.items()}
    unlisted = text.is_not_null() & ~text.is_in(list(lookup))
    if unlisted.any():
        examples = text.filter(unlisted).unique(maintain_order=True).head(3).to_list()
        raise TableError(
            table,
            "value_mapped",
            f"{unlisted.sum()} values not listed in data.operator.values, e.g. {examples}",
            column=series.name,
        )
    return text.replace_strict(lookup)


def _cast(series: pl.Series, dtype: pl.DataType, table: str) -> pl.Series:
    if series.dtype == dtype:
        return series
    if dtype == pl.Date():
        cast = _to_month(series)
    elif dtype == pl.Boolean() and series.dtype == pl.String:
        cast = series.str.to_lowercase().replace_strict(
            {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False},
            default=None,
            return_dtype=pl.Boolean,
        )
    else:
        cast = series.cast(dtype, strict=False)
    broken = series.is_not_null() & cast.is_null()
    if broken.any():
        example = series.filter(broken)[0]
        raise TableError(
            table,
            "dtype",
            f"{broken.sum()} values do not convert to {dtype}, e.g. {example!r}",
            column=series.name,
        )
    return cast


def _to_month(series: pl.Series) -> pl.Series:
    """First-of-month dates from dates, datetimes, 'YYYY-MM[-DD]' text or YYYYMM numbers."""
    if series.dtype in (pl.Date, pl.Datetime):
        return series.cast(pl.Date).dt.truncate("1mo")
    text = series.cast(pl.String).str.strip_chars()
    compact = text.str.replace(r"^(\d{4})(\d{2})$", "$1-$2")
    first_of_month = compact.str.slice(0, 7) + "-01"
    return first_of_month.str.to_date("%Y-%m-%d", strict=False).alias(series.name)
