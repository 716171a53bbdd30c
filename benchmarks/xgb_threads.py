"""Benchmark: one cross-validated tuning trial of ``clm snapshot run`` on one XGBoost thread
and on every core, by table size: why the snapshot run leaves XGBoost its default, every core.

Run: .venv/bin/python -m benchmarks.xgb_threads [--rows 3000 10000 40000] [--columns 20 150]
     [--params params.yaml]
Each table is scikit-learn's ``make_classification`` (a fifth churners, a third of the columns
informative); the trial is ``cross_validate`` with the snapshot's folds, round limit and early
stopping, at mid-search parameters (depth 5, learning rate 0.05), timed once on each thread
count, every core first and by number: XGBoost 3.2 keeps a process on one thread after a
``config_context(nthread=1)`` exits, even where a later one asks for 0 (dmlc/xgboost#12025).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd
import xgboost as xgb
from sklearn.datasets import make_classification

from clm.models.tasks import cross_validate, grouped_folds
from clm.snapshot.pipeline import TASK, SnapshotSettings

ALL_CORES = os.cpu_count() or 1

PARAMS = {
    "max_depth": 5,
    "learning_rate": 0.05,
    "min_child_weight": 5,
    "subsample": 0.8,
    "colsample_bytree": 0.7,
    "reg_lambda": 1.0,
    "gamma": 0.01,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[3000, 10000, 40000])
    parser.add_argument("--columns", type=int, nargs="+", default=[20, 150])
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    args = parser.parse_args()
    settings = SnapshotSettings.load(args.params)
    model = settings.model
    print(f"| rows | columns | one thread, s | {ALL_CORES} threads, s | ratio | rounds |")
    print("|---:|---:|---:|---:|---:|---:|")
    for columns in args.columns:
        for rows in args.rows:
            features, labels = make_classification(
                n_samples=rows, n_features=columns, n_informative=columns // 3,
                weights=[0.8], flip_y=0.05, random_state=model.seed,
            )  # fmt: skip
            seen = (pd.DataFrame(features).add_prefix("f"), labels)
            folds = grouped_folds(seen, settings.snapshot.cv_folds, model.seed)
            seconds, rounds = {}, 0
            for threads in (ALL_CORES, 1):
                with xgb.config_context(nthread=threads):
                    start = time.perf_counter()
                    _, rounds = cross_validate(TASK, PARAMS, seen, folds, model=model)
                    seconds[threads] = time.perf_counter() - start
            print(
                f"| {rows:,} | {columns} | {seconds[1]:.1f} | {seconds[ALL_CORES]:.1f} "
                f"| {seconds[ALL_CORES] / seconds[1]:.2f} | {rounds} |"
            )


if __name__ == "__main__":
    main()
