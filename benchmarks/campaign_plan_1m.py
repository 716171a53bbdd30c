"""Benchmark: plan a scored month of 1M subscribers, call sheet included.

Run: .venv/bin/python -m benchmarks.campaign_plan_1m [--subscribers N] [--budget Y] [--capacity C]
Goal (issue 15): <= 60 s and <= 3 GB peak on 2 cores. The scored month is random but follows
the scorer's output (``tests/random_scores.py``: real deciles, measures and budget caps) and is
built in a parent process; the plan runs in a child, so its peak RSS is the plan's own.
Budget and capacity scale the default params' to the base (they are set for 20k
subscribers), the rest of ``campaign`` is params.yaml's.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import resource
import tempfile
import time
from pathlib import Path

import polars as pl


def plan(scores_path: Path, out: Path, budget: float, capacity: int) -> None:
    """Child process: plan and call sheet, timed from reading the scored month."""
    from tests.params import repo_params

    from clm.campaign.callsheet import call_sheet, write_call_sheet
    from clm.campaign.candidates import PriorEffects
    from clm.campaign.plan import build_plan
    from clm.domain.taxonomy import load_taxonomy

    started = time.perf_counter()
    config = dataclasses.replace(
        repo_params().campaign,
        total_budget_yuan=budget,
        channel_capacity=capacity,
    )
    customers = pl.read_parquet(scores_path)
    result = build_plan(customers, config, load_taxonomy(), PriorEffects(config))
    planned = time.perf_counter() - started
    write_call_sheet(call_sheet(result.table, load_taxonomy()), out / "c.csv", out / "c.xlsx")
    seconds = time.perf_counter() - started
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    s = result.summary
    print(
        f"plan: {s['subscribers']:,} subscribers, {s['candidates']:,} candidates, "
        f"{s['contacts']:,} contacts ({s['arms']['control']:,} control), spend "
        f"{s['spend_yuan']:,.0f} of {budget:,.0f} yuan, gap to LP bound "
        f"{s['gap_to_lp_bound']:.4%}: {planned:.1f} s plan, {seconds:.1f} s with the call sheet "
        f"(CSV + XLSX), {peak_gib:.2f} GiB peak RSS"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--budget", type=float, default=1_500_000.0)
    parser.add_argument("--capacity", type=int, default=75_000)
    args = parser.parse_args()
    from tests.random_scores import random_customers

    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        random_customers(args.subscribers, seed=1).write_parquet(folder / "scores.parquet")
        context = multiprocessing.get_context("spawn")
        child = context.Process(
            target=plan, args=(folder / "scores.parquet", folder, args.budget, args.capacity)
        )
        child.start()
        child.join()


if __name__ == "__main__":
    main()
