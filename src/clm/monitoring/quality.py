"""Data quality month by month: the share of each raw table's rows that validation quarantined.

Validation writes the accepted rows to ``data/validated`` and the rest to ``data/quarantine``;
every row is in exactly one, so a month's share is quarantined / (accepted + quarantined),
by the month the row is about.
"""

from __future__ import annotations

import polars as pl

MONTH_COLUMN = {
    "subscribers": "join_month",
    "usage_monthly": "month",
    "churn_events": "churn_month",
}


def quarantined_shares(
    accepted: dict[str, pl.LazyFrame], quarantined: dict[str, pl.LazyFrame]
) -> pl.DataFrame:
    """Per table and month: rows, quarantined rows and their share (rows without a readable
    month count under a null month)."""
    parts = []
    for table, column in MONTH_COLUMN.items():
        counts = [
            frame.select(month=pl.col(column).cast(pl.Date, strict=False))
            .group_by("month")
            .agg(pl.len().alias(name))
            for name, frame in (("accepted", accepted[table]), ("quarantined", quarantined[table]))
        ]
        joined = counts[0].join(counts[1], on="month", how="full", coalesce=True, nulls_equal=True)
        parts.append(joined.with_columns(table=pl.lit(table)).collect())
    return (
        pl.concat(parts, how="diagonal")
        .with_columns(pl.col("accepted", "quarantined").fill_null(0).cast(pl.Int64))
        .with_columns(
            rows=pl.col("accepted") + pl.col("quarantined"),
            share=pl.col("quarantined") / (pl.col("accepted") + pl.col("quarantined")),
        )
        .select("table", "month", "rows", "quarantined", "share")
        .sort("table", "month", nulls_last=True)
    )
