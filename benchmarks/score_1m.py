"""Benchmark: score the latest month of about 1M subscribers end to end (Spark: spark_scale).

Run: .venv/bin/python -m benchmarks.score_1m [--subscribers N] [--months M] [--scorer DIR]
Goal (issue 20): <= 60 s and <= 3 GB peak for 1M subscribers on 2 cores, exact top-3
reasons included. CPU seconds are printed beside wall time, as the cost that other work on a
busy box does not inflate. The raw data comes from the project's generator; generation and
scoring are separate child processes of a small parent, so each reports its own peak memory
(a child forked from a big parent would inherit the parent's high-water mark).
``--scorer`` is a scorer artifact folder (``models/scorer`` after ``dvc repro``) or a
``models:/`` URI.
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


def generate(folder: Path, subscribers: int, months: int) -> None:
    """Child process: the raw tables, written to ``folder``."""
    from tests.params import repo_params

    from clm.synthetic.generate import write_dataset

    started = time.perf_counter()
    config = replace(
        repo_params().generate, seed=3, n_subscribers=subscribers, n_months=months,
        first_month="2024-01-01",
    )  # fmt: skip
    write_dataset(config, folder, folder / "truth")
    print(f"generate: {subscribers:,} x {months} months, {time.perf_counter() - started:.1f} s")


def score(folder: Path, model: str) -> None:
    """Child process: `clm score`'s logic on the raw folder, timed from loading the model."""
    from tests.params import repo_params

    from clm.scoring.batches import load_scorer_from, scan_input, score_input

    started = time.perf_counter()
    summary = score_input(
        scan_input(folder, folder), load_scorer_from(model), folder / "scores.parquet",
        repo_params().scoring,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        f"score: {summary.subscribers_scored:,} subscribers of {summary.scoring_month} from "
        f"{summary.rows_in:,} input rows: {seconds:.1f} s wall, "
        f"{usage.ru_utime + usage.ru_stime:.1f} CPU s, {usage.ru_maxrss / 2**20:.2f} GiB peak RSS"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1_250_000)
    parser.add_argument("--months", type=int, default=8)
    parser.add_argument("--scorer", default="models/scorer")
    parser.add_argument("--step", choices=["generate", "score"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "generate":
        generate(args.folder, args.subscribers, args.months)
    elif args.step == "score":
        score(args.folder, args.scorer)
    else:
        me = [sys.executable, "-m", "benchmarks.score_1m", *sys.argv[1:]]
        with tempfile.TemporaryDirectory() as folder:
            for step in ("generate", "score"):
                subprocess.run([*me, "--step", step, "--folder", folder], check=True)


if __name__ == "__main__":
    main()
