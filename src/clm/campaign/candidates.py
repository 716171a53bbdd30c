"""Candidate contacts: one row per (subscriber, recommended measure) worth making.

A candidate's expected value follows the issue's rule, value not volume:

    expected_value = churn_reduction x value - (1 - churn_probability + churn_reduction)
                     x offer_cost - contact_cost

where ``value`` is the margin a kept customer brings over the horizon and the offer cost is
paid by every customer who stays (not only the saved ones), so a discount to a low-value
customer who would have stayed anyway shows as the loss it is. ``cost_yuan`` (contact plus
the whole offer) is what the budget reserves for the contact, so the plan never overspends
whatever the customer does. Candidates with no positive expected value, or whose cost breaks
the customer's own cap (domain.md §3), are dropped here, before the optimiser sees them.
"""

from __future__ import annotations

from typing import Protocol

import polars as pl

from clm.campaign.config import CampaignConfig, CampaignError
from clm.domain.taxonomy import Taxonomy

RETENTION_PHASE = "retention"


class EffectModel(Protocol):
    """Anything that estimates how much a measure cuts each candidate's churn probability."""

    def churn_reduction(self, candidates: pl.DataFrame) -> pl.Series:
        """Absolute cut in churn probability per candidate row (0..churn_probability)."""
        ...


class PriorEffects:
    """The operator's prior effect table: churn probability x expected_effect of the measure
    for the customer's top reason category (0 where the table lists none)."""

    def __init__(self, config: CampaignConfig) -> None:
        self.table = pl.DataFrame(
            [
                {"measure_code": code, "reason_1_category": category, "effect": effect}
                for code, prior in config.measures.items()
                for category, effect in prior.expected_effect.items()
            ],
            schema={
                "measure_code": pl.String,
                "reason_1_category": pl.String,
                "effect": pl.Float64,
            },
        )

    def churn_reduction(self, candidates: pl.DataFrame) -> pl.Series:
        effects = candidates.select("measure_code", "reason_1_category").join(
            self.table, on=["measure_code", "reason_1_category"], how="left", maintain_order="left"
        )
        return (candidates["churn_probability"] * effects["effect"].fill_null(0.0)).alias(
            "churn_reduction"
        )


def measure_costs(config: CampaignConfig, taxonomy: Taxonomy) -> pl.DataFrame:
    """Per measure code: its priors' costs and whether it is a retention-phase measure."""
    return pl.DataFrame(
        [
            {
                "measure_code": code,
                "contact_cost_yuan": prior.contact_cost_yuan,
                "offer_discount_share": prior.offer_discount_share,
                "offer_months": prior.offer_months,
                "is_retention": taxonomy.measures[code].phase == RETENTION_PHASE,
            }
            for code, prior in config.measures.items()
        ],
        schema={
            "measure_code": pl.String,
            "contact_cost_yuan": pl.Float64,
            "offer_discount_share": pl.Float64,
            "offer_months": pl.Int64,
            "is_retention": pl.Boolean,
        },
    )


def build_candidates(
    customers: pl.DataFrame, config: CampaignConfig, taxonomy: Taxonomy, effects: EffectModel
) -> pl.DataFrame:
    """Every worthwhile (subscriber, measure) pair of ``customers``, sorted by subscriber.

    ``customers`` holds the scores' columns plus ``arpu_mean_3m``. Raises CampaignError when
    the scores recommend a measure that campaign.measures has no prior for.
    """
    pairs = (
        customers.select(pl.exclude("measure_codes"), measure_code=pl.col("measure_codes"))
        .explode("measure_code")
        .drop_nulls("measure_code")
    )
    unknown = sorted(set(pairs["measure_code"].unique()) - set(config.measures))
    if unknown:
        raise CampaignError(
            f"scores column measure_codes: unknown measure code(s) {unknown}, not in "
            "params.yaml campaign.measures"
        )
    pairs = with_expected_value(price_pairs(pairs, config, taxonomy), effects)
    return pairs.filter(pl.col("expected_value_yuan") > 0, within_customer_caps()).sort(
        "subscriber_id", "measure_code"
    )


def price_pairs(pairs: pl.DataFrame, config: CampaignConfig, taxonomy: Taxonomy) -> pl.DataFrame:
    """``pairs`` (rows with ``measure_code`` and ``arpu_mean_3m``) with their measure's costs,
    the offer's whole cost, what the budget reserves (``cost_yuan``) and a kept customer's
    value over the horizon."""
    arpu = pl.col("arpu_mean_3m")
    return (
        pairs.join(
            measure_costs(config, taxonomy), on="measure_code", how="left", maintain_order="left"
        )
        .with_columns(
            offer_cost_yuan=pl.col("offer_discount_share") * arpu * pl.col("offer_months"),
            first_month_cost_yuan=pl.col("contact_cost_yuan")
            + pl.col("offer_discount_share") * arpu,
            value_yuan=config.margin_share * arpu * config.horizon_months,
        )
        .with_columns(cost_yuan=pl.col("contact_cost_yuan") + pl.col("offer_cost_yuan"))
    )


def with_expected_value(priced: pl.DataFrame, effects: EffectModel) -> pl.DataFrame:
    """``price_pairs`` rows with the churn cut ``effects`` estimates and the expected value
    of the module docstring's rule."""
    return priced.with_columns(
        churn_reduction=effects.churn_reduction(priced).clip(0.0, priced["churn_probability"])
    ).with_columns(
        expected_value_yuan=pl.col("churn_reduction") * pl.col("value_yuan")
        - (1 - pl.col("churn_probability") + pl.col("churn_reduction")) * pl.col("offer_cost_yuan")
        - pl.col("contact_cost_yuan")
    )


def within_customer_caps() -> pl.Expr:
    """domain.md §3 per customer, where the tier has a cap (null: none): a retention measure's
    whole cost within the total win-back cap; any other measure's first month (contact plus
    one month of offer) within the monthly maintenance cap."""
    winback = pl.col("winback_cap_yuan")
    maintenance = pl.col("maintenance_cap_yuan")
    return (
        pl.when(pl.col("is_retention"))
        .then(winback.is_null() | (pl.col("cost_yuan") <= winback))
        .otherwise(maintenance.is_null() | (pl.col("first_month_cost_yuan") <= maintenance))
    )
