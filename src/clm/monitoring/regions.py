"""The driver mix per region, and whether a region's move is more than noise.

A shock in one region is diluted in the overall mix (one region of five moves the overall share
by a fifth), so the mix is also read per region. A region holds fewer high-risk customers than
the whole base, so its shares are noisier: a move counts only when a two-proportion z-test on
the customers whose top reason is in the category, this month against last, says it is not
chance, once adjusted for the month's many tests (Holm), so that more regions do not mean more
false alarms.
"""

from __future__ import annotations

import polars as pl
from scipy import stats

from clm.monitoring.drivers import driver_shares, reason_rows, with_change

REGION = ("region",)


def regional_shares(risky: pl.DataFrame, codes: list[str], min_customers: int) -> pl.DataFrame:
    """Per month, region and category of ``codes``: the high-risk ``customers`` of the region,
    the category's driver ``share`` and its ``change`` from last month (as the overall mix),
    the share of customers whose top reason is in it (``top_reason_share``) and the p-value of
    its change from last month (null in the first month). Regions with fewer than
    ``min_customers`` high-risk customers in the month are left out."""
    reasons = reason_rows(risky, "category", REGION)
    shares = with_change(driver_shares(reasons, codes, REGION), REGION)
    top = _top_reason_counts(risky, codes)
    previous = top.select(
        "region",
        "code",
        snapshot_month=pl.col("snapshot_month").dt.offset_by("1mo"),
        previous_customers="customers",
        previous_top="top",
    )
    first = pl.col("snapshot_month") == top["snapshot_month"].min()
    tested = top.join(previous, on=["snapshot_month", "region", "code"], how="left").with_columns(
        p_value=pl.when(~first).then(
            _two_proportion_p_value(
                pl.col("top"), pl.col("customers"),
                pl.col("previous_top").fill_null(0), pl.col("previous_customers").fill_null(0),
            )
        )
    )  # fmt: skip
    kept = shares.join(tested, on=["snapshot_month", "region", "code"]).filter(
        pl.col("customers") >= min_customers
    )
    return (
        _with_holm_adjusted(kept)
        .select(
            "snapshot_month",
            "region",
            "code",
            "customers",
            "share",
            "change",
            top_reason_share=pl.col("top") / pl.col("customers"),
            p_value="p_value",
            p_adjusted="p_adjusted",
        )
        .sort("snapshot_month", "region", "code")
    )


def _with_holm_adjusted(tests: pl.DataFrame) -> pl.DataFrame:
    """``p_adjusted``: each month's p-values (one per region and category) after Holm's
    step-down adjustment, so an alert at ``p_adjusted < a`` keeps the chance that a quiet month
    alerts anywhere below ``a``, however many regions the operator has and however the tests
    depend on each other (a region's shares sum to one). scipy adjusts only for the false
    discovery rate; these few lines spare statsmodels for one function."""
    ordered = tests.sort("snapshot_month", "p_value", nulls_last=True)
    count = pl.col("p_value").count().over("snapshot_month")
    position = pl.int_range(pl.len()).over("snapshot_month")  # 0 for the smallest p
    scaled = (count - position) * pl.col("p_value")
    adjusted = scaled.cum_max().over("snapshot_month").clip(upper_bound=1.0)
    return ordered.with_columns(p_adjusted=adjusted)


def _top_reason_counts(risky: pl.DataFrame, codes: list[str]) -> pl.DataFrame:
    """Per month, region and code: the region's high-risk ``customers`` and how many of them
    have their top reason (a positive one) in the code (``top``, 0 where none)."""
    keys = ["snapshot_month", "region"]
    customers = risky.group_by(keys).agg(customers=pl.len())
    top = (
        risky.filter(pl.col("reason_1_contribution") > 0)
        .group_by(*keys, code="reason_1_category")
        .agg(top=pl.len())
    )
    every_code = customers.join(pl.DataFrame({"code": codes}), how="cross")
    return every_code.join(top, on=[*keys, "code"], how="left").with_columns(
        pl.col("top").fill_null(0)
    )


def _two_proportion_p_value(
    hits: pl.Expr, size: pl.Expr, previous_hits: pl.Expr, previous_size: pl.Expr
) -> pl.Expr:
    """Two-sided p-value of the pooled two-proportion z-test (1 where it cannot tell: an empty
    side, or a proportion of 0 or 1 on both)."""
    pooled = (hits + previous_hits) / (size + previous_size)
    error = (pooled * (1 - pooled) * (1 / size + 1 / previous_size)).sqrt()
    z = (hits / size - previous_hits / previous_size) / error
    p_value = z.abs().map_batches(
        lambda s: pl.Series(2 * stats.norm.sf(s.to_numpy()), dtype=pl.Float64),
        return_dtype=pl.Float64,
    )
    return pl.when((size > 0) & (previous_size > 0) & (error > 0)).then(p_value).otherwise(1.0)
