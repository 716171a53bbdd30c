"""Hand-made campaign inputs: a small config and customers built one by one."""

from __future__ import annotations

import dataclasses
from datetime import date

import polars as pl

from clm.campaign.config import CampaignConfig, MeasurePrior, UpliftParams

MONTH = date(2024, 6, 1)


def small_config(**changes: object) -> CampaignConfig:
    """Three measures: a free callback, a costly discount and a cheap maintenance call."""
    config = CampaignConfig(
        seed=7,
        control_share=0.0,
        horizon_months=3,
        margin_share=0.5,
        total_budget_yuan=1000.0,
        channel_capacity=100,
        tier_budget_share={},
        solver_time_limit_s=30.0,
        measures={
            "DS001": MeasurePrior(5.0, 0.0, 0, {"service_level": 0.3, "competitor_behaviour": 0.1}),
            "DM001": MeasurePrior(10.0, 0.2, 3, {"competitor_behaviour": 0.4}),
            "RS001": MeasurePrior(2.0, 0.0, 0, {"service_level": 0.1}),
        },
        uplift=UpliftParams(
            n_estimators=30,
            max_depth=2,
            learning_rate=0.2,
            min_child_weight=1.0,
            reg_lambda=1.0,
            min_gain_standard_errors=1.0,
        ),
    )
    return dataclasses.replace(config, **changes)


def customer(
    subscriber_id: int,
    churn_probability: float = 0.5,
    arpu: float = 100.0,
    value_tier: str = "mid",
    category: str = "competitor_behaviour",
    measures: tuple[str, ...] = ("DM001", "DS001"),
    stage: str = "warning",
    risk_decile: int = 1,
    maintenance_cap: float | None = None,
    winback_cap: float | None = None,
) -> dict:
    """One scored subscriber of MONTH with its mean ARPU, as the plan reads it."""
    cause = {"competitor_behaviour": "price_war", "service_level": "service_attitude"}.get(
        category, "dealer_speculation"
    )
    return {
        "subscriber_id": subscriber_id,
        "scoring_month": MONTH,
        "churn_probability": churn_probability,
        "risk_decile": risk_decile,
        "stage": stage,
        "value_tier": value_tier,
        "reason_1_cause": cause,
        "reason_2_cause": None,
        "reason_3_cause": None,
        "reason_1_category": category,
        "measure_codes": list(measures),
        "maintenance_cap_yuan": maintenance_cap,
        "winback_cap_yuan": winback_cap,
        "arpu_mean_3m": arpu,
    }


def customers(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(
        list(rows),
        schema_overrides={
            "risk_decile": pl.Int8,
            "reason_2_cause": pl.String,
            "reason_3_cause": pl.String,
            "maintenance_cap_yuan": pl.Float64,
            "winback_cap_yuan": pl.Float64,
            "measure_codes": pl.List(pl.String),
        },
    )
