"""Benchmark: the churn model's size (trees x depth) against test ROC-AUC, reasons' cost and
agreement.

Trains the churn model with the tuned parameters at each depth of the search space (early
stopping on the validation month as ``clm train``), then cuts it at fewer trees. For each size
it prints the test ROC-AUC, the CPU seconds of exact TreeSHAP reasons per 100k customers (pattern
method and XGBoost's ``pred_contribs``), and the share of customers whose top-3 causes equal
those of the trained model (``--model``). Run after the pipeline:
    OMP_NUM_THREADS=1 uv run python -m benchmarks.reasons_model_size [--rows N]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TypeVar

import polars as pl
import xgboost as xgb
from sklearn.metrics import roc_auc_score
from tests.params import repo_params

from benchmarks.reasons_throughput import SPLIT, agreement, top_causes
from clm.explain.treeshap import exact_contributions
from clm.features.metadata import load_feature_metadata
from clm.models.tasks import CHURN
from clm.models.train import fit_final
from clm.models.trained import TrainedModel

DEPTHS = (3, 4)  # tune.search_space.max_depth
TREES = (50, 100)
T = TypeVar("T")


def timed(run: Callable[[], T]) -> tuple[T, float]:
    """What ``run`` returns, and the CPU seconds it took."""
    started = time.process_time()
    result = run()
    return result, time.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=50_000, help="customers to explain")
    parser.add_argument("--xgboost-rows", type=int, default=5_000, help="for pred_contribs")
    parser.add_argument("--model", type=Path, default=Path("models/churn"))
    parser.add_argument("--split", type=Path, default=Path("data/split"))
    parser.add_argument("--tuning", type=Path, default=Path("models/tuning/churn.json"))
    args = parser.parse_args()
    params = repo_params()
    tuned = json.loads(args.tuning.read_text(encoding="utf-8"))["best_params"]
    train, valid, test = (pl.read_parquet(args.split / f"{p}.parquet") for p in SPLIT)
    explained = train.head(args.rows)
    reference = TrainedModel.load(args.model)
    matrix = reference.encoder.transform(explained)
    exact = top_causes(reference, exact_contributions(reference.booster, matrix.to_numpy())[0])
    print(
        f"depth trees test_auc pattern_cpu_s_per_100k xgboost_cpu_s_per_100k top3_as_{args.model}"
    )
    for depth in DEPTHS:
        model, _ = fit_final(
            CHURN, {**tuned, "max_depth": depth}, train, valid, load_feature_metadata(),
            params.model, params.train,
        )  # fmt: skip
        best = model.booster.num_boosted_rounds()
        for trees in sorted({*[t for t in TREES if t < best], best}):
            booster = model.booster[:trees]
            booster.set_param({"nthread": 1})
            cut = replace(model, booster=booster)
            auc = roc_auc_score(CHURN.labels(test), cut.predict(test))
            rows = cut.encoder.transform(explained).to_numpy()
            (values, _), pattern = timed(partial(exact_contributions, booster, rows))
            few = xgb.DMatrix(rows[: args.xgboost_rows], feature_names=booster.feature_names)
            _, per_row = timed(partial(booster.predict, few, pred_contribs=True))
            same = agreement(top_causes(cut, values), exact)
            pattern, per_row = pattern * 1e5 / len(rows), per_row * 1e5 / args.xgboost_rows
            print(f"{depth} {trees} {auc:.4f} {pattern:.1f} {per_row:.1f} {same:.2%}", flush=True)


if __name__ == "__main__":
    main()
