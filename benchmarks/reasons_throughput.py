"""Benchmark: per-customer contributions per second, and top-3 causes against exact TreeSHAP.

Times three attributions of the trained churn model on distinct customers of the split (a
replicated month would repeat decision patterns and flatter the pattern method):
``pattern`` (``clm.explain.treeshap``, what the scorer uses), XGBoost's exact
``pred_contribs`` and its ``approx_contribs`` (Saabas). For each it prints the share of
customers whose top-3 causes (as a set, positive contributions only) equal exact TreeSHAP's.
Run after the pipeline:
    uv run python -m benchmarks.reasons_throughput [--rows N] [--threads T] [--device cuda]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import xgboost as xgb

from clm.explain.reasons import Contributions, rank_reasons, to_causes
from clm.explain.treeshap import exact_contributions
from clm.models.trained import TrainedModel
from clm.scoring.score import TOP_REASONS

SPLIT = ("train", "valid", "test")


def top_causes(model: TrainedModel, values: np.ndarray) -> pl.DataFrame:
    """The scorer's top-3 cause columns from per-column contributions."""
    columns = Contributions(tuple(model.encoder.columns), values, np.zeros(len(values)))
    feature_of = {column: model.encoder.feature_of(column) for column in columns.names}
    features = columns.grouped(feature_of, tuple(dict.fromkeys(feature_of.values())))
    reasons = rank_reasons(to_causes(features), TOP_REASONS)
    return reasons.select(pl.concat_list(pl.col(r"^reason_\d_cause$")).list.drop_nulls())


def agreement(ours: pl.DataFrame, exact: pl.DataFrame) -> float:
    """Share of rows whose top causes are the same set."""
    same = ours.to_series().list.sort() == exact.to_series().list.sort()
    return float(same.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=1, help="XGBoost nthread (0: all)")
    parser.add_argument("--device", default="cpu", help="XGBoost device: cpu or cuda")
    parser.add_argument("--model", type=Path, default=Path("models/churn"))
    parser.add_argument("--split", type=Path, default=Path("data/split"))
    args = parser.parse_args()
    model = TrainedModel.load(args.model)
    model.booster.set_param({"nthread": args.threads, "device": args.device})
    frame = pl.concat([pl.read_parquet(args.split / f"{part}.parquet") for part in SPLIT])
    if frame.height < args.rows:
        raise SystemExit(f"{args.split} holds {frame.height:,} customers, fewer than --rows")
    matrix = model.encoder.transform(frame.head(args.rows))
    booster = model.booster

    def xgboost(**kwargs: bool) -> Callable[[], np.ndarray]:
        return lambda: booster.predict(xgb.DMatrix(matrix), pred_contribs=True, **kwargs)[:, :-1]

    methods = {
        "xgboost_exact": xgboost(),
        "pattern_exact": lambda: exact_contributions(booster, matrix.to_numpy())[0],
        "xgboost_approx": xgboost(approx_contribs=True),
    }
    trees = booster.num_boosted_rounds()
    print(f"{args.rows:,} customers, {trees} trees, {args.device}, {args.threads} XGBoost threads")
    exact = None
    for name, attribute in methods.items():
        started, cpu = time.perf_counter(), time.process_time()
        causes = top_causes(model, attribute())
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        exact = causes if exact is None else exact
        print(
            f"{name:>15}: {seconds:6.1f} s wall, {cpu:6.1f} s CPU, "
            f"{args.rows / seconds:9,.0f} customers/s, "
            f"top-3 causes as exact TreeSHAP's: {agreement(causes, exact):.2%}"
        )


if __name__ == "__main__":
    main()
