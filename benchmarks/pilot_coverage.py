"""Benchmark: does a pilot's 95 % interval for the average uplift cover the true one?

Per generator seed: a synthetic operator, its base at T (the window's last month), and a
pilot population, the ``--pilot-share`` of the base most likely to churn (ranked by the
generator's true churn probability, standing in for a churn model). The pilot splits it at
random into treatment and control halves; treatment gets ``--measure``. Both worlds roll
forward with common random numbers, and the pilot estimates the uplift (control churn rate
minus treatment churn rate within the horizon) by the difference in means, with a normal
95 % interval. The truth is the pilot population's average of churned-if-untreated minus
churned-if-treated (each subscriber's two counterfactuals). Claim: covered in >= 18 of 20.

Run: uv run python benchmarks/pilot_coverage.py [--seeds 20] [--subscribers 20000]
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
import polars as pl
from tests.params import repo_params

from clm.campaign.simulate import Counterfactuals
from clm.synthetic.generate import state_at

Z_95 = 1.959964


def pilot(
    seed: int, subscribers: int, months: int, horizon: int, pilot_share: float, measure: str
) -> dict[str, float]:
    """One seed's pilot: estimate, interval and the true average uplift."""
    config = replace(repo_params().generate, seed=seed, n_subscribers=subscribers, n_months=months)
    world = Counterfactuals(state_at(config, months - 1), horizon, seed)
    risk = world.churn_probability().sort(
        ["churn_probability", "subscriber_id"], descending=[True, False]
    )
    population = risk.head(int(pilot_share * risk.height)).select("subscriber_id")
    everyone = population.with_columns(measure_code=pl.lit(measure))
    effects = world.effects(everyone)  # every pilot subscriber's two counterfactuals
    churned_if_treated = effects["churned_if_treated"].to_numpy().astype(float)
    churned_if_untreated = effects["churned_if_untreated"].to_numpy().astype(float)

    treated = np.random.default_rng([seed, 1]).permutation(effects.height) < effects.height // 2
    outcome_treated = churned_if_treated[treated]
    outcome_control = churned_if_untreated[~treated]
    uplift = outcome_control.mean() - outcome_treated.mean()
    standard_error = np.sqrt(
        outcome_control.var(ddof=1) / outcome_control.size
        + outcome_treated.var(ddof=1) / outcome_treated.size
    )
    truth = float(np.mean(churned_if_untreated - churned_if_treated))
    low, high = uplift - Z_95 * standard_error, uplift + Z_95 * standard_error
    return {
        "seed": seed,
        "pilot": effects.height,
        "uplift": uplift,
        "low": low,
        "high": high,
        "true_uplift": truth,
        "expected_uplift": float(effects["true_effect"].mean()),
        "covered": low <= truth <= high,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--subscribers", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=12, help="window length; T is its last")
    parser.add_argument("--horizon", type=int, default=3, help="months after T")
    parser.add_argument("--pilot-share", type=float, default=0.2)
    parser.add_argument("--measure", default="DS001")
    args = parser.parse_args()
    started = time.perf_counter()
    rows = [
        pilot(seed, args.subscribers, args.months, args.horizon, args.pilot_share, args.measure)
        for seed in range(1, args.seeds + 1)
    ]
    print("| seed | pilot | uplift | 95 % interval | true uplift | expected | covered |")
    print("|---" * 7 + "|")
    for r in rows:
        print(
            f"| {r['seed']} | {r['pilot']:,} | {r['uplift']:+.4f} | "
            f"[{r['low']:+.4f}, {r['high']:+.4f}] | {r['true_uplift']:+.4f} | "
            f"{r['expected_uplift']:+.4f} | {'yes' if r['covered'] else '**no**'} |"
        )
    covered = sum(r["covered"] for r in rows)
    print(
        f"covered in {covered} of {len(rows)} seeds (claim: >= {int(np.ceil(0.9 * len(rows)))}); "
        f"{args.subscribers:,} subscribers x {args.months} months per seed, measure "
        f"{args.measure}, horizon {args.horizon}; {time.perf_counter() - started:.0f} s wall"
    )


if __name__ == "__main__":
    main()
