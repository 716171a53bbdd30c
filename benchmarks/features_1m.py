"""Benchmark: features for 1M subscribers x 24 months of history, one snapshot month.

Run: .venv/bin/python -m benchmarks.features_1m [--subscribers N] [--months M]
Goal (design.md): <= 20 s and <= 4 GB peak on 2 cores. The raw history comes from the
project's synthetic operator. Generation and build run in two child processes of a small
parent, so the peak memory reported is the builder's alone (a child forked from a big parent
would inherit the parent's high-water mark).
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import polars as pl
from tests.params import repo_params

from clm.features.chunked import write_feature_table
from clm.synthetic.generate import write_dataset


def build(folder: Path) -> None:
    """Child process: build the latest month's features from the parquet files in ``folder``."""
    usage = pl.scan_parquet(folder / "usage_monthly.parquet")
    last_month = usage.select(pl.col("month").max()).collect().item()
    params = repo_params()
    started = time.perf_counter()
    rows = write_feature_table(
        pl.scan_parquet(folder / "subscribers.parquet"),
        usage,
        pl.scan_parquet(folder / "churn_events.parquet"),
        None,
        folder / "features.parquet",
        params.features,
        params.labels,
        snapshot_months=[last_month],
    )
    seconds = time.perf_counter() - started
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"features: {rows:,} rows for {last_month}: {seconds:.1f} s, peak {peak_gib:.2f} GiB")


def write(folder: Path, subscribers: int, months: int) -> None:
    """Child process: generate the raw tables into ``folder``."""
    started = time.perf_counter()
    config = replace(repo_params().generate, seed=1, n_subscribers=subscribers, n_months=months)
    write_dataset(config, folder, folder / "truth")
    seconds = time.perf_counter() - started
    print(f"synthetic history: {subscribers:,} x {months} months, {seconds:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        write(args.write, args.subscribers, args.months)
    elif args.build:
        build(args.build)
    else:
        me = [sys.executable, "-m", "benchmarks.features_1m"]
        sizes = ["--subscribers", str(args.subscribers), "--months", str(args.months)]
        with tempfile.TemporaryDirectory() as folder:
            subprocess.run([*me, *sizes, "--write", folder], check=True)
            subprocess.run([*me, "--build", folder], check=True)


if __name__ == "__main__":
    main()
