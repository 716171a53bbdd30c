"""Benchmark: score the latest month of about 1M subscribers end to end (Spark: spark_scale).

Run: .venv/bin/python -m benchmarks.score_1m [--subscribers N] [--months M] [--scorer DIR]
     [--operator-tables]
Goal (issue 20): <= 60 s and <= 3 GB peak for 1M subscribers on 2 cores, exact top-3
reasons included. CPU seconds are printed beside wall time, as the cost that other work on a
busy box does not inflate. The raw data comes from the project's generator; generation and
scoring are separate child processes of a small parent, so each reports its own peak memory
(a child forked from a big parent would inherit the parent's high-water mark).
``--scorer`` is a scorer artifact folder (``models/scorer`` after ``dvc repro``) or a
``models:/`` URI. ``--operator-tables`` also exports the tables as an operator would (CSV, its
own column names, codes and YYYYMM months: ``tests.operator_export``) and scores that export
as ``clm score --operator-tables`` does, its conversion timed apart.
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


def generate(folder: Path, subscribers: int, months: int, operator_tables: bool) -> None:
    """Child process: the raw tables, written to ``folder`` (and as an operator exports them,
    to ``folder/export``)."""
    import polars as pl
    from tests.operator_export import THEIR_CODES, write_operator_export
    from tests.params import repo_params

    from clm.scoring.inputs import SCORED_TABLES
    from clm.synthetic.generate import write_dataset

    started = time.perf_counter()
    config = replace(
        repo_params().generate, seed=3, n_subscribers=subscribers, n_months=months,
        first_month="2024-01-01",
    )  # fmt: skip
    write_dataset(config, folder, folder / "truth")
    if operator_tables:
        tables = {name: pl.read_parquet(folder / f"{name}.parquet") for name in SCORED_TABLES}
        write_operator_export(tables, folder / "export", THEIR_CODES)
    print(f"generate: {subscribers:,} x {months} months, {time.perf_counter() - started:.1f} s")


def score(folder: Path, model: str, operator_tables: bool) -> None:
    """Child process: `clm score`'s logic on the raw folder (or the operator's export),
    timed from loading the model."""
    from tests.operator_export import their_mappings
    from tests.params import repo_params

    from clm.data.operator import write_in_contract
    from clm.scoring.batches import load_scorer_from, scan_input, score_input
    from clm.scoring.inputs import SCORED_TABLES

    config = repo_params().scoring
    started = time.perf_counter()
    scorer = load_scorer_from(model)
    if operator_tables:
        converting = time.perf_counter()
        export, folder = folder / "export", folder / "converted"
        folder.mkdir()
        write_in_contract(their_mappings(export), export, SCORED_TABLES, folder, config.batch_rows)
        print(f"convert the operator's CSV export: {time.perf_counter() - converting:.1f} s")
    summary = score_input(scan_input(folder, folder), scorer, folder / "scores.parquet", config)
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
    parser.add_argument("--operator-tables", action="store_true")
    parser.add_argument("--step", choices=["generate", "score"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "generate":
        generate(args.folder, args.subscribers, args.months, args.operator_tables)
    elif args.step == "score":
        score(args.folder, args.scorer, args.operator_tables)
    else:
        me = [sys.executable, "-m", "benchmarks.score_1m", *sys.argv[1:]]
        with tempfile.TemporaryDirectory() as folder:
            for step in ("generate", "score"):
                subprocess.run([*me, "--step", step, "--folder", folder], check=True)


if __name__ == "__main__":
    main()
