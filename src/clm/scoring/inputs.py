"""The scorer's input: one row per subscriber and month, usage and subscriber columns side by side.

One frame carries everything the features need, so the pyfunc takes a single DataFrame: the
``usage_monthly`` columns of the raw contract plus every ``subscribers`` column, repeated on
each of the subscriber's months (``scoring_input`` builds it from the two raw tables). Rows
are checked with the project's pandera schemas, and each subscriber scored at T must have a row
in every month of its feature window (``clm.features.history``) unless params say to impute
them; a subscriber with any failing row cannot be scored, so all of that subscriber's rows are
quarantined with the checks they failed.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from datetime import date
from functools import cache

import pandera.polars as pa
import polars as pl

from clm.data.contract import SUBSCRIBERS, USAGE_MONTHLY
from clm.data.io import check_contract
from clm.data.schemas import SUBSCRIBERS_SCHEMA, USAGE_MONTHLY_SCHEMA
from clm.data.validate import FAILED_CHECKS, failures_where, schema_failures, split_rows
from clm.errors import InputError
from clm.features.build import LOOKBACK_MONTHS
from clm.features.history import HISTORY_GAP, missing_months, scoring_spans
from clm.months import from_index, to_index

logger = logging.getLogger(__name__)

TABLE = "scoring_input"
SCORED_TABLES = ("usage_monthly", "subscribers")  # the raw tables scoring reads, in this order
SCORING_INPUT: dict[str, pl.DataType] = {
    **USAGE_MONTHLY,
    **{name: dtype for name, dtype in SUBSCRIBERS.items() if name != "subscriber_id"},
}
OTHER_ROW_FAILED = "subscriber_id:other_row_of_subscriber_failed"
UNKNOWN_TO_MODEL = "unknown_to_model"


class HistoryError(InputError):
    """The input lacks a month the features of the scoring month read."""


def scoring_input(subscribers: pl.LazyFrame, usage: pl.LazyFrame) -> pl.LazyFrame:
    """The scorer's input from the raw ``subscribers`` and ``usage_monthly`` tables."""
    return usage.join(subscribers, on="subscriber_id", how="inner", maintain_order="left").select(
        list(SCORING_INPUT)
    )


def check_columns(schema: pl.Schema) -> None:
    """Raise TableError unless every input column is present with its contract dtype."""
    check_contract(schema, TABLE, SCORING_INPUT)


def required_months(scoring_month: date) -> list[date]:
    """The months every feature of ``scoring_month`` reads: the lookback window and T."""
    last = to_index(scoring_month)
    return [from_index(index) for index in range(last - LOOKBACK_MONTHS, last + 1)]


def check_history(months: set[date], scoring_month: date) -> None:
    """Raise HistoryError unless every month the features read has some rows."""
    missing = [month for month in required_months(scoring_month) if month not in months]
    if missing:
        shown = ", ".join(str(month) for month in missing)
        raise HistoryError(
            f"table '{TABLE}': no rows for month(s) {shown}; scoring {scoring_month} needs "
            f"every month from {required_months(scoring_month)[0]} on ({LOOKBACK_MONTHS} months "
            "of history)"
        )


@cache
def input_schema() -> pa.DataFrameSchema:
    """The usage table's row checks plus the subscriber table's, minus one-row-per-subscriber."""
    subscriber_columns = SUBSCRIBERS_SCHEMA.update_column("subscriber_id", unique=False).columns
    return USAGE_MONTHLY_SCHEMA.add_columns(
        {name: column for name, column in subscriber_columns.items() if name != "subscriber_id"}
    )


def split_scorable(
    frame: pl.DataFrame,
    scoring_month: date,
    history_gaps: str,
    trained_levels: Mapping[str, Collection[str]],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows of scorable subscribers, and the quarantined rest with ``failed_checks``.

    ``history_gaps`` is ``features.history_gaps``: under ``quarantine`` a subscriber missing a
    month of its feature window fails ``month:history_gap`` on every row. ``trained_levels``
    (``Scorer.trained_levels``) holds the levels the models know per categorical column: a row
    with another (a region opened after training) fails ``<column>:unknown_to_model``. Every
    row lands in exactly one of the two frames. Raises TableError when a column is missing or
    has another dtype (no row can be checked then).
    """
    check_columns(frame.schema)
    row_checks = {("month", "usage_before_join"): pl.col("month") < pl.col("join_month")}
    for column, levels in trained_levels.items():
        row_checks[column, UNKNOWN_TO_MODEL] = ~pl.col(column).is_in(list(levels))
    if history_gaps == "quarantine":
        gaps = missing_months(frame.lazy(), scoring_spans(frame.lazy(), scoring_month))
        gap_ids = gaps["subscriber_id"].unique().implode()
        row_checks["month", HISTORY_GAP] = pl.col("subscriber_id").is_in(gap_ids)
    failures = pl.concat(
        [schema_failures(frame, TABLE, input_schema()), failures_where(frame, row_checks)]
    )
    checked = split_rows(frame, TABLE, failures)
    bad_ids = checked.quarantined["subscriber_id"].unique().implode()
    spoiled = pl.col("subscriber_id").is_in(bad_ids)
    quarantined = pl.concat(
        [
            checked.quarantined,
            checked.accepted.filter(spoiled).with_columns(
                pl.lit([OTHER_ROW_FAILED], dtype=pl.List(pl.String)).alias(FAILED_CHECKS)
            ),
        ]
    )
    if quarantined.height:
        logger.info("quarantined %d rows of %d subscribers", quarantined.height, len(bad_ids[0]))
    return checked.accepted.filter(~spoiled), quarantined


def failed_check_counts(quarantined: pl.DataFrame) -> dict[str, int]:
    """Quarantined rows per failed check, most frequent first (a row may fail several)."""
    return dict(quarantined[FAILED_CHECKS].explode().drop_nulls().value_counts(sort=True).rows())


def failed_checks_summary(quarantined: pl.DataFrame) -> str:
    """The most frequent failed checks of quarantined rows, for a one-line error message."""
    counts = list(failed_check_counts(quarantined).items())[:5]
    return "most failed checks: " + ", ".join(f"{check} ({rows} rows)" for check, rows in counts)
