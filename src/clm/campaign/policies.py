"""Retention policies side by side: one scored base, one budget, judged on counterfactual truth.

Issue 15 compares three ways to spend the same month's budget on the same customers:

  (a) ``top_risk_decile``: the churn templates' rule, the 10 % most likely to churn, most at
      risk first, each offered the competitive offer DM001;
  (b) ``value_plan`` with the prior effect table: clm's plan by expected value;
  (c) ``value_plan`` with the uplift model learned from a randomised pilot.

Every policy is charged by the plan's own accounting (``candidates.measure_costs``: contact
cost plus the whole offer at the customer's mean ARPU, priced by ``campaign.measures``) and
kept within ``total_budget_yuan`` and ``channel_capacity``; the plans also keep their tier
caps and the customers' own caps. No control group is held out here: every policy sees the
whole base. Only synthetic data has the truth to judge them by (``simulate.Counterfactuals``).
"""

from __future__ import annotations

import dataclasses

import polars as pl

from clm.campaign.candidates import EffectModel, PriorEffects, measure_costs
from clm.campaign.config import CampaignConfig
from clm.campaign.plan import build_plan
from clm.campaign.simulate import Counterfactuals
from clm.domain.taxonomy import Taxonomy

TEMPLATE_MEASURE = "DM001"  # the churn templates' one offer: a competitive retention discount
TOP_RISK = "(a) top risk decile"
PRIOR_PLAN = "(b) value plan, churn model + prior effects"
UPLIFT_PLAN = "(c) value plan, uplift model"


def planned_cost_yuan(
    assignment: pl.DataFrame, customers: pl.DataFrame, config: CampaignConfig, taxonomy: Taxonomy
) -> pl.Series:
    """What the plan's budget reserves per contact of ``assignment``: contact plus whole offer."""
    return (
        assignment.join(
            customers.select("subscriber_id", "arpu_mean_3m"), on="subscriber_id", how="left"
        )
        .join(measure_costs(config, taxonomy), on="measure_code", how="left")
        .select(
            cost_yuan=pl.col("contact_cost_yuan")
            + pl.col("offer_discount_share") * pl.col("offer_months") * pl.col("arpu_mean_3m")
        )
        .to_series()
    )


def top_risk_decile(
    customers: pl.DataFrame, config: CampaignConfig, taxonomy: Taxonomy
) -> pl.DataFrame:
    """(a) Risk decile 1, most at risk first, all offered TEMPLATE_MEASURE, while the total
    budget and the channel capacity last. Assignment: subscriber_id, measure_code."""
    decile = customers.filter(pl.col("risk_decile") == 1).sort(
        ["churn_probability", "subscriber_id"], descending=[True, False]
    )
    candidates = decile.select("subscriber_id", measure_code=pl.lit(TEMPLATE_MEASURE)).head(
        config.channel_capacity
    )
    spent = planned_cost_yuan(candidates, customers, config, taxonomy).cum_sum()
    return candidates.filter(spent <= config.total_budget_yuan)


def value_plan(
    customers: pl.DataFrame, config: CampaignConfig, taxonomy: Taxonomy, effects: EffectModel
) -> pl.DataFrame:
    """(b) or (c): the treated of clm's plan over the whole base (no control held out)."""
    whole_base = dataclasses.replace(config, control_share=0.0)
    plan = build_plan(customers, whole_base, taxonomy, effects).table
    return plan.filter(arm="treatment").select("subscriber_id", "measure_code")


def judge_policies(
    assignments: dict[str, pl.DataFrame],
    customers: pl.DataFrame,
    config: CampaignConfig,
    taxonomy: Taxonomy,
    world: Counterfactuals,
) -> list[dict]:
    """One row per policy: contacts, planned spend, and on the world's truth the churners
    saved, retained value (margin treated minus untreated, offers included) and net value
    (less contact costs), with the net value's ratio to the first policy's."""
    rows = []
    for name, assignment in assignments.items():
        truth = world.evaluate(assignment)
        rows.append(
            {
                "policy": name,
                "contacted": truth.contacted,
                "spend_yuan": round(
                    float(planned_cost_yuan(assignment, customers, config, taxonomy).sum()), 2
                ),
                "churners_saved": truth.churners_saved,
                "retained_value_yuan": truth.retained_value_yuan,
                "contact_cost_yuan": truth.contact_cost_yuan,
                "net_value_yuan": truth.net_value_yuan,
            }
        )
    reference = rows[0]["net_value_yuan"] if rows else 0.0
    for row in rows:
        row["net_value_ratio_to_first"] = (
            round(row["net_value_yuan"] / reference, 3) if reference > 0 else None
        )
    return rows


def compare_policies(
    customers: pl.DataFrame,
    config: CampaignConfig,
    taxonomy: Taxonomy,
    world: Counterfactuals,
    uplift: EffectModel | None,
) -> dict:
    """(a), (b) and, with an uplift model, (c) on ``customers``, judged on ``world``."""
    prior = PriorEffects(config)
    assignments = {
        TOP_RISK: top_risk_decile(customers, config, taxonomy),
        PRIOR_PLAN: value_plan(customers, config, taxonomy, prior),
    }
    if uplift is not None:
        assignments[UPLIFT_PLAN] = value_plan(customers, config, taxonomy, uplift)
    return {
        "judged_on": "counterfactual truth of the synthetic operator",
        "month": str(customers["scoring_month"][0]),
        "horizon_months": world.horizon_months,
        "total_budget_yuan": config.total_budget_yuan,
        "channel_capacity": config.channel_capacity,
        "policies": judge_policies(assignments, customers, config, taxonomy, world),
    }


def policy_table(rows: list[dict]) -> str:
    """The judged policies as a Markdown table (for the benchmark and the README)."""
    lines = [
        "| policy | contacted | spend (yuan) | churners saved | retained value (yuan) "
        "| net value (yuan) | net / (a) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ratio = row["net_value_ratio_to_first"]
        lines.append(
            f"| {row['policy']} | {row['contacted']:,} | {row['spend_yuan']:,.0f} | "
            f"{row['churners_saved']:,} | {row['retained_value_yuan']:,.0f} | "
            f"{row['net_value_yuan']:,.0f} | {'n/a' if ratio is None else f'{ratio:.2f}'} |"
        )
    return "\n".join(lines)
