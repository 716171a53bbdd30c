"""Months missing inside a subscriber's history: find them, and fill them where params say so.

The features read each subscriber's months as a dense calendar, so a month without a usage
row would read as a month of zero usage: a sudden drop that raises churn risk and lowers the
value tier. A missing month is never scored as if the history were complete.
``features.history_gaps`` decides what happens instead: ``quarantine`` (the default) sets the
subscriber aside with the check ``month:history_gap``; ``impute`` repeats the subscriber's
nearest recorded month (the one before, else the one after) and counts the imputed months,
which the scores carry as ``imputed_months``.

A subscriber's expected months form a span: in training from ``max(join_month, first month of
data)`` to the month before churn (or the last month of data); when scoring month T, from
``max(join_month, T - LOOKBACK_MONTHS)`` to T.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from clm.data.validate import FAILED_CHECKS
from clm.features.build import LOOKBACK_MONTHS
from clm.months import add_months

HISTORY_GAP = "history_gap"  # the check's name in quarantine files (column "month")
IMPUTED_MONTHS = "imputed_months"


def training_spans(
    subscribers: pl.LazyFrame, churn_events: pl.LazyFrame, first_month: date, last_month: date
) -> pl.LazyFrame:
    """Each subscriber's expected months in data running from ``first_month`` to ``last_month``."""
    return (
        subscribers.select("subscriber_id", "join_month")
        .join(churn_events.select("subscriber_id", "churn_month"), on="subscriber_id", how="left")
        .select(
            "subscriber_id",
            first_month=pl.max_horizontal("join_month", pl.lit(first_month)),
            last_month=pl.min_horizontal(
                pl.col("churn_month").dt.offset_by("-1mo"), pl.lit(last_month)
            ),
        )
    )


def scoring_spans(frame: pl.LazyFrame, scoring_month: date) -> pl.LazyFrame:
    """Expected months of the subscribers with a row in ``scoring_month`` (scoring input)."""
    window_start = add_months(scoring_month, -LOOKBACK_MONTHS)
    return frame.filter(pl.col("month") == scoring_month).select(
        "subscriber_id",
        first_month=pl.max_horizontal("join_month", pl.lit(window_start)),
        last_month=pl.lit(scoring_month),
    )


def missing_months(usage: pl.LazyFrame, spans: pl.LazyFrame) -> pl.DataFrame:
    """(subscriber_id, month) for every month of a span without a usage row, sorted."""
    expected = (
        spans.filter(pl.col("last_month") >= pl.col("first_month"))
        .select("subscriber_id", month=pl.date_ranges("first_month", "last_month", "1mo"))
        .explode("month")
    )
    recorded = usage.select("subscriber_id", "month")
    return (
        expected.join(recorded, on=["subscriber_id", "month"], how="anti")
        .sort("subscriber_id", "month")
        .collect()
    )


def imputed_rows(usage: pl.LazyFrame, missing: pl.DataFrame) -> pl.DataFrame:
    """A row for each missing month that has a recorded neighbour, with ``usage``'s columns.

    Each copies the subscriber's last recorded month before it, else its first one after it:
    a neighbour's usage keeps the deltas and trends flat, where zeros would invent a drop.
    A subscriber without any recorded month gets no rows.
    """
    columns = usage.collect_schema().names()
    recorded = (
        usage.filter(pl.col("subscriber_id").is_in(missing["subscriber_id"].unique().implode()))
        .with_columns(_recorded=pl.lit(True))
        .collect()
        .sort("month")
    )
    targets = missing.sort("month")
    # Both sides are sorted by month, hence within each subscriber too (polars cannot check).
    before, after = (
        targets.join_asof(
            recorded, on="month", by="subscriber_id", strategy=strategy, check_sortedness=False
        ).filter(pl.col("_recorded"))
        for strategy in ("backward", "forward")
    )
    after = after.join(before, on=["subscriber_id", "month"], how="anti")
    return pl.concat([before, after]).select(columns).sort("subscriber_id", "month")


def fill_gaps(usage: pl.LazyFrame, missing: pl.DataFrame) -> tuple[pl.LazyFrame, pl.DataFrame]:
    """``usage`` with each fillable ``missing`` month imputed; the imputed (subscriber, month)."""
    rows = imputed_rows(usage, missing)
    return pl.concat([usage, rows.lazy()]), rows.select("subscriber_id", "month")


@dataclass(frozen=True)
class SettledTables:
    """The validated tables after the gap policy, and what it did.

    Attributes:
        subscribers: Subscribers to build features for.
        usage: Their usage, with any imputed months added.
        churn_events: Their churn events.
        quarantined: One ``subscribers`` row per subscriber set aside, with ``failed_checks``
            and the ``missing_months`` of its history.
        imputed: The (subscriber_id, month) rows imputed.
    """

    subscribers: pl.LazyFrame
    usage: pl.LazyFrame
    churn_events: pl.LazyFrame
    quarantined: pl.DataFrame
    imputed: pl.DataFrame


def settle_training_gaps(
    subscribers: pl.LazyFrame,
    usage: pl.LazyFrame,
    churn_events: pl.LazyFrame,
    history_gaps: str,
) -> SettledTables:
    """Apply ``features.history_gaps`` to the validated tables before features are built.

    Under ``impute`` only subscribers without a single usage row are set aside (nothing to
    impute from); under ``quarantine`` every subscriber missing a month is.
    """
    first_month, last_month = (
        usage.select(pl.col("month").min().alias("first"), pl.col("month").max().alias("last"))
        .collect()
        .row(0)
    )
    spans = training_spans(subscribers, churn_events, first_month, last_month)
    missing = missing_months(usage, spans)
    imputed = pl.DataFrame(schema=missing.schema)
    if history_gaps == "impute":
        usage, imputed = fill_gaps(usage, missing)
        missing = missing.join(imputed, on=["subscriber_id", "month"], how="anti")
    gaps = missing.group_by("subscriber_id").agg(missing_months=pl.col("month").sort())
    kept = pl.col("subscriber_id").is_in(gaps["subscriber_id"].implode()).not_()
    quarantined = (
        subscribers.join(gaps.lazy(), on="subscriber_id", how="inner")
        .with_columns(
            pl.lit([f"month:{HISTORY_GAP}"], dtype=pl.List(pl.String)).alias(FAILED_CHECKS)
        )
        .sort("subscriber_id")
        .collect()
    )
    return SettledTables(
        subscribers.filter(kept),
        usage.filter(kept),
        churn_events.filter(kept),
        quarantined,
        imputed,
    )
