"""The driver mix: why the customers most at risk would leave, month by month.

A month's mix is read over its high-risk customers (the top ``high_risk_share`` by churn
probability): each category's (or cause's) share of the positive log-odds of their top reasons,
as the driver report reads it. Shares are compared with the previous month, overall, per
value tier x stage and per region (``clm.monitoring.regions``).
"""

from __future__ import annotations

import polars as pl

from clm.monitoring.scoring import TOP_REASONS

SEGMENT = ("value_tier", "stage")


def high_risk(scored: pl.DataFrame, share: float) -> pl.DataFrame:
    """The top ``share`` of each month's customers by churn probability (at least one)."""
    rank = pl.col("churn_probability").rank("ordinal", descending=True).over("snapshot_month")
    size = (pl.len().over("snapshot_month") * share).ceil().clip(lower_bound=1)
    return scored.filter(rank <= size)


def reason_rows(scored: pl.DataFrame, level: str, by: tuple[str, ...] = SEGMENT) -> pl.DataFrame:
    """One row per customer and positive reason: the month, the ``by`` columns (the segment,
    or the region), ``code`` and ``contribution``; ``level`` is ``category`` or ``cause``."""
    return pl.concat(
        [
            scored.select(
                "snapshot_month",
                *by,
                code=pl.col(f"reason_{i}_{level}"),
                contribution=pl.col(f"reason_{i}_contribution"),
            )
            for i in range(1, TOP_REASONS + 1)
        ]
    ).filter(pl.col("contribution") > 0)


def driver_shares(
    reasons: pl.DataFrame, codes: list[str], by: tuple[str, ...] = ()
) -> pl.DataFrame:
    """Each of ``codes``' share of the positive contributions per month and ``by`` group
    (0 for a code no customer of the group has among its reasons)."""
    keys = ["snapshot_month", *by]
    every_code = reasons.select(keys).unique().join(pl.DataFrame({"code": codes}), how="cross")
    shares = (
        reasons.group_by(*keys, "code")
        .agg(contribution=pl.col("contribution").sum())
        .with_columns(share=pl.col("contribution") / pl.col("contribution").sum().over(keys))
    )
    return (
        every_code.join(shares, on=[*keys, "code"], how="left")
        .select(*keys, "code", pl.col("share").fill_null(0.0))
        .sort(*keys, "code")
    )


def with_change(shares: pl.DataFrame, by: tuple[str, ...] = ()) -> pl.DataFrame:
    """``shares`` with ``change``: the share minus the previous month's (0 for a code absent
    then; null in the first month, which has nothing to compare with)."""
    keys = [*by, "code"]
    months = shares["snapshot_month"].unique().sort()
    previous = shares.with_columns(
        snapshot_month=pl.col("snapshot_month").replace_strict(
            months[:-1], months[1:], default=None
        )
    ).rename({"share": "previous_share"})
    first = pl.col("snapshot_month") == months.min()
    return (
        shares.join(previous, on=["snapshot_month", *keys], how="full", coalesce=True)
        .filter(pl.col("snapshot_month").is_not_null())
        .with_columns(pl.col("share", "previous_share").fill_null(0.0))
        .with_columns(change=pl.when(~first).then(pl.col("share") - pl.col("previous_share")))
        .drop("previous_share")
        .sort("snapshot_month", *keys)
    )
