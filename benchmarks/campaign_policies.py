"""Benchmark: retention policies side by side, same base, same budget, judged by the truth.

A synthetic operator (``generate`` params, ``--months`` long); the campaign month T is the
window's last. Policies (``clm.campaign.policies``, the code the ``measure`` stage runs):
  (a) top risk decile, each offered DM001, as churn templates do;
  (b) clm's value plan with the prior effect table of params.yaml ``campaign``;
  (c) the same plan with the uplift model. It is learned from a randomised pilot run
      ``horizon_months`` before T, so its outcomes are in by T: at the pilot month P the
      plan (prior effects, control group of ``control_share`` per tier x decile held out at
      random) is rolled forward with ``clm.campaign.simulate``, and the T-learner of
      ``clm.campaign.uplift`` is fitted on its treated and control customers.
Every policy is charged by the plan's accounting (contact plus whole offer at the customer's
ARPU, ``campaign.measures`` prices) within ``total_budget_yuan`` and ``channel_capacity``.
Judged on the counterfactual truth of the months after T: retained value (true margin of the
contacted, treated minus untreated, offers included) net of contact cost.

The scored base is a stand-in for ``data/scores``, built from the generator's latent state:
churn_probability is the true untreated probability of churning within the horizon (an
oracle churn model, which favours (a)), the stage is the latent stage, the top reason the
latent reason's cause (none outside warning and sunk, so stable customers get no measure),
the value tier the features' postpaid rule on base ARPU (group members: group), and the
budget caps and measures are the scorer's rules (``clm.scoring.rules``).

Run: uv run python -m benchmarks.campaign_policies [--subscribers N] [--months M] [--budget Y]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from datetime import date

import numpy as np
import polars as pl

from clm.campaign.candidates import PriorEffects
from clm.campaign.config import CampaignConfig
from clm.campaign.plan import build_plan
from clm.campaign.policies import (
    PRIOR_PLAN,
    TOP_RISK,
    UPLIFT_PLAN,
    judge_policies,
    policy_table,
    top_risk_decile,
    value_plan,
)
from clm.campaign.simulate import Counterfactuals
from clm.campaign.uplift import UpliftModel, fit_uplift
from clm.config import load_section
from clm.data.contract import SURVEY_REASONS
from clm.domain.taxonomy import Taxonomy, load_taxonomy
from clm.features.build import FeatureConfig, TierConfig
from clm.scoring.batches import ScoringConfig
from clm.scoring.rules import BudgetRules, budget_caps, recommended_measures, risk_deciles
from clm.synthetic.generate import GenerateConfig, state_at
from clm.synthetic.lifecycle import STAGE_NAMES


def oracle_customers(
    world: Counterfactuals, taxonomy: Taxonomy, tiers: TierConfig, rules: BudgetRules
) -> pl.DataFrame:
    """The base of ``world`` as the plan reads it (scores plus ``arpu_mean_3m``), from truth."""
    state = world.state
    rows, population = state.active, state.population
    arpu = population.arpu_base[rows]
    network = population.network[rows]
    network_mean = np.bincount(network, arpu) / np.maximum(np.bincount(network), 1)
    ratio = arpu / network_mean[network]
    in_group = population.group_id[rows] >= 0
    tier = np.where(
        in_group,
        "group",
        np.where(
            ratio > tiers.postpaid_high_ratio,
            "high",
            np.where(ratio >= tiers.postpaid_mid_ratio, "mid", "low"),
        ),
    )
    causes = np.array([taxonomy.survey_reasons[r].cause for r in SURVEY_REASONS], dtype=object)
    reason = state.reason[rows]
    cause = np.where(reason >= 0, causes[np.maximum(reason, 0)], None)
    frame = pl.DataFrame(
        {
            "subscriber_id": population.subscriber_id[rows],
            "scoring_month": [state.month.astype("datetime64[D]").item()] * rows.size,
            "churn_probability": world.churn_probability()["churn_probability"],
            "stage": np.array(STAGE_NAMES)[state.stage[rows]],
            "value_tier": tier,
            "reason_1_cause": pl.Series(cause, dtype=pl.String),
            "reason_2_cause": pl.Series([None] * rows.size, dtype=pl.String),
            "reason_3_cause": pl.Series([None] * rows.size, dtype=pl.String),
            "arpu_mean_3m": arpu,
            "group_id": population.group_id[rows],
        }
    )
    return frame.with_columns(
        reason_1_category=pl.col("reason_1_cause").replace_strict(
            {code: c.category for code, c in taxonomy.causes.items()}, default=None
        ),
        group_size=pl.len().over("group_id").cast(pl.UInt32),
        group_arpu_mean_3m=pl.col("arpu_mean_3m").mean().over("group_id"),
    ).with_columns(
        *budget_caps(rules),
        risk_decile=risk_deciles(frame),
        measure_codes=recommended_measures(frame, taxonomy),
    )


def pilot_uplift(
    world: Counterfactuals, customers: pl.DataFrame, config: CampaignConfig, taxonomy: Taxonomy
) -> tuple[UpliftModel, dict]:
    """The uplift model learned from the plan's randomised pilot at the world's month."""
    prior = PriorEffects(config)
    plan = build_plan(customers, config, taxonomy, prior).table
    treated = world.rollout(plan.filter(arm="treatment").select("subscriber_id", "measure_code"))
    churned = pl.DataFrame({"subscriber_id": treated.subscriber_id, "churned": treated.churned})
    outcomes = plan.join(churned, on="subscriber_id", how="left", maintain_order="left")
    arms = {arm: outcomes.filter(arm=arm).height for arm in ("treatment", "control")}
    return fit_uplift(outcomes, config.uplift, config.seed, taxonomy, prior), arms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=12, help="window length; T is its last")
    parser.add_argument("--seed", type=int, help="generator seed (default: params generate)")
    parser.add_argument("--budget", type=float, help="yuan (default: campaign.total_budget_yuan)")
    args = parser.parse_args()
    generate = load_section(GenerateConfig, "generate")
    generate = dataclasses.replace(
        generate,
        n_subscribers=args.subscribers,
        n_months=args.months,
        seed=args.seed or generate.seed,
    )
    config = load_section(CampaignConfig, "campaign")
    if args.budget:
        config = dataclasses.replace(config, total_budget_yuan=args.budget)
    taxonomy = load_taxonomy()
    tiers = load_section(FeatureConfig, "features").tiers
    rules = load_section(ScoringConfig, "scoring").budget
    started = time.perf_counter()

    def world_at(month_index: int) -> tuple[Counterfactuals, pl.DataFrame]:
        world = Counterfactuals(
            state_at(generate, month_index), config.horizon_months, generate.seed
        )
        return world, oracle_customers(world, taxonomy, tiers, rules)

    pilot_index = args.months - 1 - config.horizon_months
    uplift, arms = pilot_uplift(*world_at(pilot_index), config, taxonomy)
    world, customers = world_at(args.months - 1)
    assignments = {
        TOP_RISK: top_risk_decile(customers, config, taxonomy),
        PRIOR_PLAN: value_plan(customers, config, taxonomy, PriorEffects(config)),
        UPLIFT_PLAN: value_plan(customers, config, taxonomy, uplift),
    }
    rows = judge_policies(assignments, customers, config, taxonomy, world)
    month = date.fromisoformat(generate.first_month)
    print(
        f"base at T (month {args.months} of the window from {month}): {customers.height:,} "
        f"subscribers; budget {config.total_budget_yuan:,.0f} yuan, capacity "
        f"{config.channel_capacity:,} contacts; horizon {config.horizon_months} months; "
        f"seed {generate.seed}; pilot at month {pilot_index + 1}: {arms['treatment']:,} "
        f"treated, {arms['control']:,} control"
    )
    print(policy_table(rows))
    print(f"{time.perf_counter() - started:.1f} s wall")


if __name__ == "__main__":
    main()
