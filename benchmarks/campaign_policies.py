"""Benchmark: retention policies side by side, same base, same budget, judged by the truth.

Every policy sees the same scored base at month T and may reserve at most ``--budget`` yuan
of planned cost (a contact's cost plus its full offer discount at the customer's ARPU). Each
assignment is then judged on the synthetic operator's counterfactual truth
(``clm.campaign.simulate.Counterfactuals``): retained value over the horizon (the true margin
on the bills, offer discounts included) net of contact cost.

Policies:
  (a) top_risk_decile: contact the 10 % most likely to churn, in risk order while the budget
      lasts, each with the competitive offer DM001, as churn templates do.
  (b) value_plan: clm's value-based plan with the churn model and the prior effect table.
  (c) uplift_plan: the same plan with the uplift model.
(b) and (c) are registered by the planning side in ``POLICIES``; until then they are listed
as not plugged in.

The scored base is a stand-in for ``data/scores``: churn_probability is the generator's true
untreated probability of churning within the horizon (a perfect churn model, which favours
(a)), arpu_mean_3m its base ARPU and measure_codes empty.

Run: uv run python benchmarks/campaign_policies.py [--subscribers N] [--seed S] [--budget Y]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace

import polars as pl
from tests.params import repo_params

from clm.campaign.simulate import Counterfactuals, measure_table
from clm.synthetic.generate import state_at
from clm.synthetic.profile import GeneratorProfile, load_profile

# A policy turns the scored base and a budget into an assignment (subscriber_id, measure_code).
Policy = Callable[[pl.DataFrame, float], pl.DataFrame]
TEMPLATE_MEASURE = "DM001"


def planned_cost_yuan(assignment: pl.DataFrame, scores: pl.DataFrame) -> pl.Series:
    """Cost reserved per contact: its contact cost plus the full offer at the customer's ARPU.

    Costs are the operator's own prices, so the profile's list costs serve every policy.
    """
    table = measure_table(load_profile())
    per_month = dict(zip(table.codes, table.offer_discount_share * table.offer_months, strict=True))
    contact = dict(zip(table.codes, table.contact_cost_yuan, strict=True))
    joined = assignment.join(scores, on="subscriber_id", how="left", maintain_order="left")
    return joined.select(
        pl.col("measure_code").replace_strict(contact, return_dtype=pl.Float64)
        + pl.col("measure_code").replace_strict(per_month, return_dtype=pl.Float64)
        * pl.col("arpu_mean_3m")
    ).to_series()


def within_budget(candidates: pl.DataFrame, scores: pl.DataFrame, budget: float) -> pl.DataFrame:
    """The longest prefix of ``candidates`` (in their order) whose planned cost fits."""
    spent = planned_cost_yuan(candidates, scores).cum_sum()
    return candidates.filter(spent <= budget)


def top_risk_decile(scores: pl.DataFrame, budget: float) -> pl.DataFrame:
    """(a) The top risk decile, most at risk first, all offered the template's measure."""
    decile = scores.sort(["churn_probability", "subscriber_id"], descending=[True, False]).head(
        scores.height // 10
    )
    candidates = decile.select("subscriber_id", measure_code=pl.lit(TEMPLATE_MEASURE))
    return within_budget(candidates, scores, budget)


POLICIES: dict[str, Policy | None] = {
    "(a) top risk decile": top_risk_decile,
    "(b) value plan, churn model + prior effects": None,  # planning side plugs in
    "(c) value plan, uplift model": None,  # planning side plugs in
}


def stand_in_scores(world: Counterfactuals, profile: GeneratorProfile) -> pl.DataFrame:
    rows = world.state.active
    return world.churn_probability().with_columns(
        arpu_mean_3m=pl.Series(world.state.population.arpu_base[rows]),
        measure_codes=pl.lit([], dtype=pl.List(pl.String)),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=12, help="window length; T is its last")
    parser.add_argument("--horizon", type=int, default=6, help="months judged after T")
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--budget", type=float, default=20_000.0, help="yuan, per policy")
    args = parser.parse_args()
    config = replace(
        repo_params().generate, seed=args.seed, n_subscribers=args.subscribers, n_months=args.months
    )
    started = time.perf_counter()
    profile = load_profile()
    world = Counterfactuals(state_at(config, args.months - 1), args.horizon, args.seed, profile)
    scores = stand_in_scores(world, profile)
    print(
        f"base at T: {scores.height:,} subscribers; horizon {args.horizon} months; "
        f"budget {args.budget:,.0f} yuan per policy; seed {args.seed}"
    )
    header = "| policy | contacted | accepted | churners saved | planned cost | contact cost |"
    print(header + " retained value | net value |")
    print("|---" * 8 + "|")
    for name, policy in POLICIES.items():
        if policy is None:
            print(f"| {name} | not plugged in |" + " |" * 6)
            continue
        assignment = policy(scores, args.budget)
        planned = planned_cost_yuan(assignment, scores).sum()
        if planned > args.budget + 1e-6:
            raise SystemExit(f"{name}: planned cost {planned:,.0f} exceeds the budget")
        value = world.evaluate(assignment)
        print(
            f"| {name} | {value.contacted:,} | {value.accepted:,} | {value.churners_saved:,} | "
            f"{planned:,.0f} | {value.contact_cost_yuan:,.0f} | "
            f"{value.retained_value_yuan:,.0f} | {value.net_value_yuan:,.0f} |"
        )
    print(f"{time.perf_counter() - started:.1f} s wall")


if __name__ == "__main__":
    main()
