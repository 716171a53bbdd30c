"""Validate the raw tables: accept good rows, quarantine bad ones, never drop a row silently.

Every row of a raw table ends up in exactly one place: the validated table or the quarantine
table, where a ``failed_checks`` column lists each ``column:check`` it failed (a row failing
several checks is quarantined once). Row checks come from the pandera schemas of
``clm.data.schemas``, run lazily so all failures are collected; checks across tables are
small polars functions here. They compare against the *accepted* rows of the referenced
table, so the validated tables are consistent with each other: an accepted usage row always
has an accepted subscriber, lies in ``[join_month, churn_month)``, and its subscriber's churn
event (if any) was accepted too.

Problems that make row checks impossible (missing file or column, wrong dtype, empty table)
raise ``clm.data.io.TableError`` instead. When a table's quarantined share exceeds
``validate.max_quarantined_share``, the step writes the report and the quarantine files (so the
cause can be inspected) but leaves the previous validated tables untouched, then fails.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandera.polars as pa
import polars as pl
from pandera.config import ValidationDepth, config_context
from pandera.errors import SchemaErrors

from clm import paths
from clm.config import ConfigError
from clm.data.contract import RAW_TABLES
from clm.data.io import (
    TableError,
    check_contract,
    read_table,
    write_together,
)
from clm.data.schemas import RAW_SCHEMAS

logger = logging.getLogger(__name__)

FAILED_CHECKS = "failed_checks"  # quarantine column: list of "column:check"
_ROW = "_clm_row"
_FAILURE_SCHEMA = {_ROW: pl.UInt32(), "column": pl.String(), "check": pl.String()}


@dataclass(frozen=True)
class ValidateConfig:
    """The ``validate`` section of params.yaml.

    Attributes:
        max_quarantined_share: Largest share of a table's rows that may be quarantined
            before the step fails; above it the data, not a few rows, is broken.
    """

    max_quarantined_share: float

    def __post_init__(self) -> None:
        share = self.max_quarantined_share
        if not 0.0 <= share <= 1.0:
            raise ConfigError(f"validate.max_quarantined_share must be in [0, 1], got {share}")


@dataclass(frozen=True)
class TableValidation:
    """The outcome for one table: every input row is in exactly one of the two frames.

    Attributes:
        table: Table name.
        accepted: Rows that passed every check, in input order, columns unchanged.
        quarantined: Rows that failed, in input order, plus the ``failed_checks`` column.
        failures: One row per (row, column, check) failure, for counting.
    """

    table: str
    accepted: pl.DataFrame
    quarantined: pl.DataFrame
    failures: pl.DataFrame

    @property
    def rows_in(self) -> int:
        return self.accepted.height + self.quarantined.height


class QuarantineShareError(RuntimeError):
    """Too large a share of a table was quarantined: the step must fail, not carry on."""

    def __init__(self, shares: dict[str, float], limit: float, see: str) -> None:
        self.shares = shares
        self.limit = limit
        tables = ", ".join(f"'{table}' {share:.2%}" for table, share in shares.items())
        super().__init__(
            f"quarantined share above validate.max_quarantined_share={limit:.2%} in table(s) "
            f"{tables}; see {see} (validated tables left as they were)"
        )


def schema_failures(frame: pl.DataFrame, table: str, schema: pa.DataFrameSchema) -> pl.DataFrame:
    """Run ``schema`` lazily and return its row failures as (row, column, check).

    Raises:
        TableError: pandera reported a failure that concerns no row (e.g. a wrong dtype).
    """
    # PANDERA_VALIDATION_ENABLED=False or a schema-only depth in the environment would make
    # pandera skip the data checks silently and accept every row.
    try:
        with config_context(
            validation_enabled=True, validation_depth=ValidationDepth.SCHEMA_AND_DATA
        ):
            schema.validate(frame, lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
    else:
        return pl.DataFrame(schema=_FAILURE_SCHEMA)
    table_level = cases.filter(pl.col("index").is_null())
    if table_level.height:
        first = table_level.row(0, named=True)
        raise TableError(table, first["check"], f"found {first['failure_case']}", first["column"])
    # The only frame-wide row check is the multi-column key; pandera names it after the
    # schema, so name it after the key's columns instead.
    key = "+".join(schema.unique or [])
    frame_wide = pl.col("schema_context") == "DataFrameSchema"
    return cases.select(
        pl.col("index").cast(pl.UInt32).alias(_ROW),
        pl.when(frame_wide).then(pl.lit(key)).otherwise(pl.col("column")).alias("column"),
        pl.col("check"),
    )


def failures_where(context: pl.DataFrame, checks: dict[tuple[str, str], pl.Expr]) -> pl.DataFrame:
    """Rows of ``context`` where each (column, check) condition holds, as (row, column, check).

    ``context`` must be row-aligned with the table being checked.
    """
    indexed = context.lazy().with_row_index(_ROW)
    parts = [
        indexed.filter(failed).select(_ROW, column=pl.lit(column), check=pl.lit(check))
        for (column, check), failed in checks.items()
    ]
    return pl.concat(parts).collect()


def unknown_reference(ids: pl.Expr, raw_ids: pl.Series) -> pl.Expr:
    """True for ids absent from the referenced table."""
    return ~ids.is_in(raw_ids.implode())


def quarantined_reference(ids: pl.Expr, raw_ids: pl.Series, accepted_ids: pl.Series) -> pl.Expr:
    """True for ids whose row in the referenced table was quarantined."""
    return ids.is_in(raw_ids.implode()) & ~ids.is_in(accepted_ids.implode())


def subscriber_reference_checks(
    subscribers_raw: pl.DataFrame, subscribers: pl.DataFrame
) -> dict[tuple[str, str], pl.Expr]:
    """A row's subscriber must exist and its subscriber row must have been accepted."""
    ids = pl.col("subscriber_id")
    raw_ids = subscribers_raw["subscriber_id"]
    return {
        ("subscriber_id", "unknown_subscriber"): unknown_reference(ids, raw_ids),
        ("subscriber_id", "subscriber_quarantined"): quarantined_reference(
            ids, raw_ids, subscribers["subscriber_id"]
        ),
    }


def churn_event_failures(
    churn_events: pl.DataFrame, subscribers_raw: pl.DataFrame, subscribers: pl.DataFrame
) -> pl.DataFrame:
    """Churn events must belong to an accepted subscriber and come after the join month."""
    context = churn_events.select("subscriber_id", "churn_month").join(
        subscribers.select("subscriber_id", "join_month"),
        on="subscriber_id",
        how="left",
        maintain_order="left",
    )
    return failures_where(
        context,
        {
            **subscriber_reference_checks(subscribers_raw, subscribers),
            ("churn_month", "churn_not_after_join"): pl.col("churn_month") <= pl.col("join_month"),
        },
    )


def usage_failures(
    usage: pl.DataFrame,
    subscribers_raw: pl.DataFrame,
    subscribers: pl.DataFrame,
    churn_events_raw: pl.DataFrame,
    churn_events: pl.DataFrame,
) -> pl.DataFrame:
    """Usage must belong to an accepted subscriber and fall in ``[join_month, churn_month)``."""
    context = (
        usage.select("subscriber_id", "month")
        .join(
            subscribers.select("subscriber_id", "join_month"),
            on="subscriber_id",
            how="left",
            maintain_order="left",
        )
        .join(
            churn_events.select("subscriber_id", "churn_month"),
            on="subscriber_id",
            how="left",
            maintain_order="left",
        )
    )
    return failures_where(
        context,
        {
            **subscriber_reference_checks(subscribers_raw, subscribers),
            # A subscriber without a churn event is normal; one whose event was quarantined
            # would look like a stayer in the validated data.
            ("subscriber_id", "churn_event_quarantined"): quarantined_reference(
                pl.col("subscriber_id"),
                churn_events_raw["subscriber_id"],
                churn_events["subscriber_id"],
            ),
            ("month", "usage_before_join"): pl.col("month") < pl.col("join_month"),
            ("month", "usage_after_churn"): pl.col("month") >= pl.col("churn_month"),
        },
    )


def split_rows(frame: pl.DataFrame, table: str, failures: pl.DataFrame) -> TableValidation:
    """Split ``frame`` into accepted and quarantined rows; each row lands in exactly one."""
    failed = failures.group_by(_ROW).agg(
        pl.format("{}:{}", "column", "check").unique().sort().alias(FAILED_CHECKS)
    )
    indexed = frame.with_row_index(_ROW)
    accepted = indexed.join(failed, on=_ROW, how="anti", maintain_order="left").drop(_ROW)
    quarantined = indexed.join(failed, on=_ROW, how="inner").sort(_ROW).drop(_ROW)
    return TableValidation(table, accepted, quarantined, failures)


def require_checkable(frame: pl.DataFrame, table: str) -> None:
    """Raise TableError unless row checks can run: contract columns and dtypes, some rows."""
    check_contract(frame.schema, table, RAW_TABLES[table])
    if frame.height == 0:
        raise TableError(table, "non_empty", "the table has no rows")


def validate_table(
    frame: pl.DataFrame, table: str, cross_failures: pl.DataFrame | None = None
) -> TableValidation:
    """Check one raw table against its contract and schema, plus any cross-table failures.

    Raises:
        TableError: a contract column is missing or mistyped, or the table is empty.
    """
    require_checkable(frame, table)
    failures = schema_failures(frame, table, RAW_SCHEMAS[table])
    if cross_failures is not None:
        failures = pl.concat([failures, cross_failures])
    result = split_rows(frame, table, failures)
    logger.info(
        "%s: %d rows in, %d accepted, %d quarantined",
        table,
        result.rows_in,
        result.accepted.height,
        result.quarantined.height,
    )
    return result


def validate_tables(tables: dict[str, pl.DataFrame]) -> dict[str, TableValidation]:
    """Validate the three raw tables, referenced tables first so references see accepted rows.

    Raises:
        TableError: any of the tables cannot be checked row by row.
    """
    for table in RAW_TABLES:
        require_checkable(tables[table], table)
    subscribers = validate_table(tables["subscribers"], "subscribers")
    churn_raw = tables["churn_events"]
    churn = validate_table(
        churn_raw,
        "churn_events",
        churn_event_failures(churn_raw, tables["subscribers"], subscribers.accepted),
    )
    usage_raw = tables["usage_monthly"]
    usage = validate_table(
        usage_raw,
        "usage_monthly",
        usage_failures(
            usage_raw, tables["subscribers"], subscribers.accepted, churn_raw, churn.accepted
        ),
    )
    return {result.table: result for result in (subscribers, usage, churn)}


def table_report(result: TableValidation) -> dict[str, Any]:
    """Counts for one table; ``failures`` counts rows per column and check."""
    counts = (
        result.failures.unique()
        .group_by("column", "check")
        .len()
        .sort("column", "check")
        .iter_rows()
    )
    failures: dict[str, dict[str, int]] = {}
    for column, check, rows in counts:
        failures.setdefault(column, {})[check] = rows
    rows_in = result.rows_in
    return {
        "rows_in": rows_in,
        "rows_accepted": result.accepted.height,
        "rows_quarantined": result.quarantined.height,
        "quarantined_share": result.quarantined.height / rows_in,  # empty tables raise
        "failures": failures,
    }


def build_report(results: dict[str, TableValidation], max_quarantined_share: float) -> dict:
    """The validation report; ``clean`` is False when any table's share exceeds the limit."""
    tables = {table: table_report(result) for table, result in results.items()}
    over = shares_over_limit(tables, max_quarantined_share)
    return {
        "clean": not over,
        "max_quarantined_share": max_quarantined_share,
        "rows_quarantined": sum(table["rows_quarantined"] for table in tables.values()),
        "tables_over_limit": sorted(over),
        "tables": tables,
    }


def shares_over_limit(tables: dict[str, dict[str, Any]], limit: float) -> dict[str, float]:
    """Quarantined share of each table whose share is above ``limit``."""
    return {
        table: counts["quarantined_share"]
        for table, counts in tables.items()
        if counts["quarantined_share"] > limit
    }


def run_validate(
    config: ValidateConfig,
    raw_dir: Path = paths.RAW_DIR,
    validated_dir: Path = paths.VALIDATED_DIR,
    quarantine_dir: Path = paths.QUARANTINE_DIR,
    report_path: Path = paths.VALIDATION_REPORT,
) -> dict:
    """The validate step's I/O: read ``raw_dir``, write validated, quarantine and report.

    The files are written together (``clm.data.io.write_together``), so a run that fails or is
    killed leaves the previous ones as they were.

    Raises:
        TableError: a raw table cannot be validated row by row; nothing is written.
        QuarantineShareError: a table's quarantined share exceeds the limit; the report and
            quarantine files are written together, the validated tables are left as they were.
    """
    tables = {table: read_table(raw_dir / f"{table}.parquet", table) for table in RAW_TABLES}
    results = validate_tables(tables)
    report = build_report(results, config.max_quarantined_share)
    over = shares_over_limit(report["tables"], config.max_quarantined_share)
    outputs = {
        quarantine_dir / f"{table}.parquet": result.quarantined for table, result in results.items()
    }
    if not over:
        outputs |= {
            validated_dir / f"{table}.parquet": result.accepted for table, result in results.items()
        }
    with write_together(report_path, *outputs) as (staged_report, *staged_tables):
        staged_report.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        for staged, frame in zip(staged_tables, outputs.values(), strict=True):
            frame.write_parquet(staged)
    if over:
        see = f"{quarantine_dir} and {report_path}"
        raise QuarantineShareError(over, config.max_quarantined_share, see)
    return report
