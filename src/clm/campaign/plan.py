"""The campaign plan for a scored month: a control group, then the best contacts under budget.

Every scored subscriber gets one row and one arm: ``treatment`` (contacted, with a measure),
``control`` (held out at random before optimising, never contacted) or ``untargeted``. A
control customer also gets ``control_measure_code``: the measure the plan's own decision
rule (expected value less the LP's shadow prices of budget and capacity) would have given
them, so the pilot compares the treated with the control customers like them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import polars as pl

from clm.campaign.candidates import EffectModel, build_candidates
from clm.campaign.config import CampaignConfig, CampaignError, check_config
from clm.campaign.control import assign_control
from clm.campaign.optimise import Solution, optimise
from clm.domain.taxonomy import Taxonomy

ARMS = ("treatment", "control", "untargeted")
ARPU_MONTHS = 3
CUSTOMER_COLUMNS = (
    "subscriber_id",
    "churn_probability",
    "risk_decile",
    "stage",
    "value_tier",
    "reason_1_cause",
    "reason_2_cause",
    "reason_3_cause",
    "reason_1_category",
    "arpu_mean_3m",
)
PLAN_SCHEMA: dict[str, pl.DataType] = {
    "subscriber_id": pl.Int64(),
    "month": pl.Date(),
    "arm": pl.Enum(ARMS),
    "measure_code": pl.String(),
    "control_measure_code": pl.String(),
    "expected_churn_reduction": pl.Float64(),
    "expected_value_yuan": pl.Float64(),
    "cost_yuan": pl.Float64(),
    "value_tier": pl.String(),
    "risk_decile": pl.Int8(),
    "churn_probability": pl.Float64(),
    "stage": pl.String(),
    "reason_1_cause": pl.String(),
    "reason_2_cause": pl.String(),
    "reason_3_cause": pl.String(),
    "reason_1_category": pl.String(),
    "arpu_mean_3m": pl.Float64(),
}


@dataclass(frozen=True)
class Plan:
    """The plan table (PLAN_SCHEMA, one row per scored subscriber) and its figures."""

    table: pl.DataFrame
    summary: dict


def scores_for_month(scores: pl.DataFrame, month: date | None) -> pl.DataFrame:
    """The scores of ``month`` (default: the latest scored month); CampaignError if none."""
    months = sorted(scores["scoring_month"].unique().to_list())
    if not months:
        raise CampaignError("scores: the table is empty; run clm score first")
    month = month or months[-1]
    if month not in months:
        raise CampaignError(
            f"scores: no scores for month {month}; scored months: {[str(m) for m in months]}"
        )
    return scores.filter(pl.col("scoring_month") == month)


def with_arpu(scores: pl.DataFrame, usage: pl.LazyFrame) -> pl.DataFrame:
    """The scores plus ``arpu_mean_3m``: each customer's mean ARPU over the scoring month and
    the two before it, read from the usage table (the margin a kept customer brings)."""
    month = scores["scoring_month"][0]
    window = usage.filter(
        pl.col("month").is_between(pl.lit(month).dt.offset_by(f"-{ARPU_MONTHS - 1}mo"), month)
    )
    arpu = window.group_by("subscriber_id").agg(arpu_mean_3m=pl.col("arpu").mean()).collect()
    joined = scores.join(arpu, on="subscriber_id", how="left", maintain_order="left")
    missing = joined["arpu_mean_3m"].null_count()
    if missing:
        raise CampaignError(
            f"usage_monthly: {missing} scored subscriber(s) have no usage row in the "
            f"{ARPU_MONTHS} months up to {month}; column arpu is needed for their value"
        )
    return joined


def build_plan(
    customers: pl.DataFrame, config: CampaignConfig, taxonomy: Taxonomy, effects: EffectModel
) -> Plan:
    """Plan one scored month: ``customers`` are its scores with ``arpu_mean_3m``."""
    check_config(config, taxonomy)
    started = time.perf_counter()
    month = customers["scoring_month"][0]
    is_control = assign_control(customers, config.control_share, config.seed)
    pool = build_candidates(customers.filter(~is_control), config, taxonomy, effects)
    solution = optimise(pool, config)
    treated = _choices(pool.filter(pl.Series(solution.chosen)))
    held_out = build_candidates(customers.filter(is_control), config, taxonomy, effects)
    shadow = _choices(_best_by_rule(held_out, solution)).rename(
        {"measure_code": "control_measure_code"}
    )
    table = (
        customers.select(CUSTOMER_COLUMNS)
        .with_columns(month=pl.lit(month), is_control=is_control)
        .join(treated, on="subscriber_id", how="left", maintain_order="left")
        .join(shadow, on="subscriber_id", how="left", maintain_order="left", suffix="_control")
        .with_columns(
            arm=pl.when("is_control")
            .then(pl.lit("control"))
            .when(pl.col("measure_code").is_not_null())
            .then(pl.lit("treatment"))
            .otherwise(pl.lit("untargeted")),
            expected_churn_reduction=pl.coalesce(
                "expected_churn_reduction", "expected_churn_reduction_control"
            ),
            expected_value_yuan=pl.coalesce("expected_value_yuan", "expected_value_yuan_control"),
            cost_yuan=pl.col("cost_yuan").fill_null(0.0),  # nothing is spent on control
        )
    )
    table = table.select(list(PLAN_SCHEMA)).cast(PLAN_SCHEMA)
    return Plan(table, _summary(table, pool, solution, config, time.perf_counter() - started))


def _choices(candidates: pl.DataFrame) -> pl.DataFrame:
    return candidates.select(
        "subscriber_id",
        "measure_code",
        pl.col("churn_reduction").alias("expected_churn_reduction"),
        "expected_value_yuan",
        "cost_yuan",
    )


def _best_by_rule(candidates: pl.DataFrame, solution: Solution) -> pl.DataFrame:
    """Per subscriber, the candidate the plan's decision rule picks, if any is worth it."""
    return (
        candidates.with_columns(reduced=solution.prices.reduced_value(candidates))
        .filter(pl.col("reduced") > 0)
        .sort("reduced", "measure_code", descending=[True, False])
        .unique("subscriber_id", keep="first", maintain_order=True)
        .sort("subscriber_id")
    )


def _summary(
    table: pl.DataFrame,
    pool: pl.DataFrame,
    solution: Solution,
    config: CampaignConfig,
    seconds: float,
) -> dict:
    treated = table.filter(arm="treatment")
    spend = treated.group_by("value_tier").agg(pl.col("cost_yuan").sum()).sort("value_tier")
    return {
        "month": str(table["month"][0]),
        "subscribers": table.height,
        "arms": {arm: table.filter(arm=arm).height for arm in ARMS},
        "control_comparable": int(table["control_measure_code"].is_not_null().sum()),
        "candidates": pool.height,
        "contacts": treated.height,
        "channel_capacity": config.channel_capacity,
        "spend_yuan": float(treated["cost_yuan"].sum()),
        "total_budget_yuan": config.total_budget_yuan,
        "spend_by_tier_yuan": dict(spend.iter_rows()),
        "expected_value_yuan": solution.objective_yuan,
        "lp_bound_yuan": solution.lp_bound_yuan,
        "gap_to_lp_bound": solution.gap_to_lp_bound,
        "solver_status": solution.solver_status,
        "seconds": seconds,
    }
