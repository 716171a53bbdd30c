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

The scored base is ``tests.oracle_scores``' stand-in for ``data/scores``, from the latent state:
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

import polars as pl
from tests.oracle_scores import oracle_customers

from clm.campaign.candidates import PriorEffects
from clm.campaign.config import CampaignConfig
from clm.campaign.plan import build_plan
from clm.campaign.policies import compare_policies, policy_table
from clm.campaign.simulate import Counterfactuals
from clm.campaign.uplift import UpliftModel, fit_uplift
from clm.config import load_section
from clm.domain.taxonomy import Taxonomy, load_taxonomy
from clm.features.build import FeatureConfig
from clm.scoring.batches import ScoringConfig
from clm.synthetic.generate import GenerateConfig, state_at


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
    return fit_uplift(outcomes, config, taxonomy), arms


def scale_prior(config: CampaignConfig, factor: float) -> CampaignConfig:
    """``config`` with every measure's expected cut multiplied by ``factor``, capped at 1."""
    measures = {
        code: dataclasses.replace(
            prior,
            expected_effect={
                category: min(1.0, cut * factor) for category, cut in prior.expected_effect.items()
            },
        )
        for code, prior in config.measures.items()
    }
    return dataclasses.replace(config, measures=measures)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=12, help="window length; T is its last")
    parser.add_argument("--seed", type=int, help="generator seed (default: params generate)")
    parser.add_argument("--budget", type=float, help="yuan (default: campaign.total_budget_yuan)")
    parser.add_argument(
        "--prior-scale",
        type=float,
        default=1.0,
        help="multiply the prior effect table's cuts (capped at 1): an operator whose prior is "
        "wrong, while the world's true effects stay as they are",
    )
    args = parser.parse_args()
    generate = load_section(GenerateConfig, "generate")
    generate = dataclasses.replace(
        generate,
        n_subscribers=args.subscribers,
        n_months=args.months,
        seed=generate.seed if args.seed is None else args.seed,
    )
    config = load_section(CampaignConfig, "campaign")
    if args.budget:
        config = dataclasses.replace(config, total_budget_yuan=args.budget)
    config = scale_prior(config, args.prior_scale)
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
    judged = compare_policies(customers, config, taxonomy, world, uplift)
    month = date.fromisoformat(generate.first_month)
    print(
        f"base at T (month {args.months} of the window from {month}): {customers.height:,} "
        f"subscribers; budget {config.total_budget_yuan:,.0f} yuan, capacity "
        f"{config.channel_capacity:,} contacts; horizon {config.horizon_months} months; "
        f"seed {generate.seed}; prior cuts x {args.prior_scale}; pilot at month {pilot_index + 1}: "
        f"{arms['treatment']:,} treated, {arms['control']:,} control"
    )
    print(f"uplift model's effects: {uplift.check.effects} ({uplift.check.reason})")
    print(policy_table(judged["policies"]))
    net = [row["net_value_yuan"] for row in judged["policies"]]
    print(f"net value (b) - (a): {net[1] - net[0]:+,.0f} yuan; (c) - (b): {net[2] - net[1]:+,.0f}")
    print(f"{time.perf_counter() - started:.1f} s wall, imports excluded")


if __name__ == "__main__":
    main()
