"""Business rules applied after the models: risk deciles, measures and retention budget caps.

Pure functions of polars frames. The budget caps are domain.md §3: per value tier a monthly
maintenance cap (share of ARPU) and a total win-back cap (multiple of the acquisition cost per
user, ACPU); a group account's caps scale with its size n and use the group's mean ARPU. A
tier without a rule (low value) has no cap: null, not zero, because the seed gives none.
"""

from __future__ import annotations

import polars as pl

from clm.data.contract import PLAUSIBLE_MAX
from clm.domain.budget import BudgetRules
from clm.domain.taxonomy import Taxonomy

GROUP_TIER = "group"
DECILES = 10


def risk_deciles(frame: pl.DataFrame) -> pl.Series:
    """Risk decile per row of ``frame`` (1 = the 10 % most likely to churn).

    Rows are ranked by ``churn_probability`` descending, ties broken by ``subscriber_id``
    ascending, so the same scores always give the same deciles; decile sizes differ by at most
    one row.
    """
    n = frame.height
    order = frame.select(
        pl.int_range(n, dtype=pl.Int64).alias("row"), "churn_probability", "subscriber_id"
    ).sort(["churn_probability", "subscriber_id"], descending=[True, False])
    ranked = order.with_columns(
        risk_decile=(pl.int_range(n, dtype=pl.Int64) * DECILES // max(n, 1) + 1).cast(pl.Int8)
    )
    return ranked.sort("row")["risk_decile"]


def budget_caps(rules: BudgetRules) -> tuple[pl.Expr, pl.Expr]:
    """Expressions for ``maintenance_cap_yuan`` (monthly) and ``winback_cap_yuan`` (total).

    They read ``value_tier``, ``arpu_mean_3m`` and, for group members, ``group_size`` and
    ``group_arpu_mean_3m`` (the account's n and mean ARPU). ARPU is clipped at the contract's
    plausible maximum, so a cap is bounded even for input that skipped the checks.
    """
    tier = pl.col("value_tier").cast(pl.String)
    is_group = tier == GROUP_TIER
    n = pl.when(is_group).then(pl.col("group_size").cast(pl.Float64)).otherwise(1.0)
    arpu = (
        pl.when(is_group)
        .then(pl.col("group_arpu_mean_3m"))
        .otherwise(pl.col("arpu_mean_3m"))
        .clip(upper_bound=PLAUSIBLE_MAX["arpu"])
    )
    share = tier.replace_strict(rules.maintenance_arpu_share, default=None, return_dtype=pl.Float64)
    multiple = tier.replace_strict(
        rules.winback_acpu_multiple, default=None, return_dtype=pl.Float64
    )
    return (
        (n * arpu * share).alias("maintenance_cap_yuan"),
        (n * rules.acpu_yuan * multiple).alias("winback_cap_yuan"),
    )


def recommended_measures(frame: pl.DataFrame, taxonomy: Taxonomy) -> pl.Series:
    """Measure codes per row by stage x value tier x top cause (domain.md §6), best first.

    Empty where the customer has no cause pushing towards churn, or where the tier filters out
    every measure of the phase (some low-value customers get none: value, not volume).
    """
    key = ["stage", "value_tier", "reason_1_cause"]
    keys = frame.select(pl.col(key).cast(pl.String))
    combos = keys.unique().drop_nulls()
    table = combos.with_columns(
        measure_codes=pl.Series(
            [
                list(taxonomy.measures_for(*combo))
                for combo in combos.select("stage", "reason_1_cause", "value_tier").iter_rows()
            ],
            dtype=pl.List(pl.String),
        )
    )
    codes = keys.join(table, on=key, how="left", maintain_order="left", nulls_equal=False)
    return codes["measure_codes"].fill_null(pl.lit([], dtype=pl.List(pl.String)))
