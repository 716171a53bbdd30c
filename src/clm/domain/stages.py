"""The seed's lifecycle-stage decision table (domain.md §1): the rule-table stage baseline.

The stage model must beat it; without true stages (an operator's own data) the stage model
learns these rule-table stages instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

# The lifecycle stages of domain.md §1 (operator model), in lifecycle order.
STAGES = ("growth", "stable", "warning", "sunk")


@dataclass(frozen=True)
class StageRuleConfig:
    """Thresholds of the seed's stage decision table (domain.md §1)."""

    growth_max_tenure_months: int  # tenure below this: growth
    sunk_min_tenure_months: int  # tenure above this with near-zero use: sunk
    sunk_max_arpu: float  # yuan in T: "very low or 0"
    sunk_max_mou: float  # minutes in T: "very low or 0"
    warning_contract_months: int  # remaining contract below this: warning
    warning_contract_amount_share: float  # remaining amount at or below this: warning
    warning_drop_share: float  # ARPU or MOU this far below the 3-month mean: warning
    warning_hotline_calls: int  # hotline calls in T at or above this: warning


def rule_stage(config: StageRuleConfig) -> pl.Expr:
    """The seed's decision table as one expression, checked in this order.

    1. sunk: tenure above ``sunk_min_tenure_months`` and ARPU and MOU in T near zero
       (the seed: "died in the growth stage").
    2. warning: contract ending (remaining months or amount share low), a sudden ARPU or MOU
       drop against the 3-month mean, a complaint surge, hotline calls, or any conditional
       forwarding to off-net mobile numbers.
    3. growth: tenure below ``growth_max_tenure_months``.
    4. stable: everything else.
    """
    tenure = pl.col("tenure_months")
    sunk = (
        (tenure > config.sunk_min_tenure_months)
        & (pl.col("arpu") <= config.sunk_max_arpu)
        & (pl.col("mou") <= config.sunk_max_mou)
    )
    contract_ending = (pl.col("contract_remaining_months") < config.warning_contract_months) | (
        pl.col("contract_remaining_amount_share") <= config.warning_contract_amount_share
    )
    sudden_drop = (pl.col("arpu_delta_3m_share") <= -config.warning_drop_share) | (
        pl.col("mou_delta_3m_share") <= -config.warning_drop_share
    )
    warning = (
        contract_ending.fill_null(False)
        | sudden_drop.fill_null(False)
        | pl.col("complaint_surge")
        | (pl.col("hotline_calls") >= config.warning_hotline_calls)
        | (pl.col("call_forward_offnet_count") > 0)
    )
    return (
        pl.when(sunk)
        .then(pl.lit("sunk"))
        .when(warning)
        .then(pl.lit("warning"))
        .when(tenure < config.growth_max_tenure_months)
        .then(pl.lit("growth"))
        .otherwise(pl.lit("stable"))
        .cast(pl.Enum(STAGES))
    )
