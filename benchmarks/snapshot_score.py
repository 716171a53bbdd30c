"""Benchmark: ``clm snapshot score`` on a large export of a public dataset.

Run: python3 -m uv run python -m benchmarks.snapshot_score [--rows 100000 1000000]
     [--dataset ibm_telco] [--trials 10] [--timeout 60]

Trains the dataset's model once with ``clm snapshot run``'s pipeline (``mappings/<dataset>.yaml``;
a short tuning budget: the model's size, not its tuning, sets what scoring costs), then, per
size, writes a CSV of that many customers drawn with replacement from the dataset's rows (new
ids, no label column: an export of customers whose outcome is not known yet) and scores it
with ``score_file`` and ``write_scored`` in a child process of its own: seconds, customers per
second and the child's peak memory, and the check that every row is scored, quarantined or
filtered. Needs ../shared/data/real; MLflow: a temporary SQLite store.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import optuna
import polars as pl

from benchmarks.real_datasets import with_budget
from clm.config import load_section
from clm.explain.drivers import ExplainConfig
from clm.models.trained import TrainedModel
from clm.snapshot.mapping import load_mapping
from clm.snapshot.pipeline import SnapshotSettings, run_snapshot
from clm.snapshot.scoring import score_file, write_scored

SEED = 0


def export(mapping_path: Path, settings: SnapshotSettings, rows: int, path: Path) -> None:
    """``rows`` customers drawn with replacement from the mapping's data, each with an id of
    its own, without the label column, as one CSV."""
    mapping = load_mapping(mapping_path, settings.snapshot.data_roots)
    table = pl.concat(
        pl.read_csv(source.path, separator=mapping.separator, infer_schema=False)
        for source in mapping.files
    ).drop(mapping.label_column)
    drawn = table.sample(rows, with_replacement=True, seed=SEED)
    number = pl.int_range(pl.len()).cast(pl.String)
    if mapping.id_column:
        drawn = drawn.with_columns(pl.col(mapping.id_column) + "-" + number)
    drawn.write_csv(path, separator=mapping.separator)


def score_step(model_dir: Path, data: Path, out: Path, params: Path) -> None:
    """Child process: score ``data`` into ``out``; print the figures as one JSON line."""
    reasons = load_section(ExplainConfig, "explain", params).top_reasons
    started = time.perf_counter()
    summary = write_scored(score_file(model_dir, data, reasons), out, model_dir, data)
    seconds = time.perf_counter() - started
    accounted = summary["scored"] + summary["quarantined"] + summary["filtered"]
    print(
        json.dumps(
            {
                "rows": summary["rows_in"],
                "scored": summary["scored"],
                "quarantined": summary["quarantined"],
                "filtered": summary["filtered"],
                "rows_accounted_for": accounted == summary["rows_in"],
                "seconds": round(seconds, 1),
                "customers_per_s": round(summary["rows_in"] / seconds),
                "peak_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--dataset", default="ibm_telco")
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--model-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "score":
        score_step(args.model_dir, args.data, args.data.with_suffix(""), args.params)
        return
    logging.basicConfig(level=logging.WARNING)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    settings = with_budget(SnapshotSettings.load(args.params), args.trials, args.timeout)
    mapping = Path("mappings") / f"{args.dataset}.yaml"
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root / 'mlflow.db'}"
        started = time.perf_counter()
        document = run_snapshot(mapping, settings, root / "runs")
        model_dir = root / "runs" / args.dataset / "model"
        print(
            f"{args.dataset}: trained in {time.perf_counter() - started:.0f} s, test ROC-AUC "
            f"{document['churn']['model']['roc_auc']:.3f}, "
            f"{len(TrainedModel.load(model_dir).encoder.columns)} model columns"
        )
        for rows in args.rows:
            data = root / f"export-{rows}.csv"
            export(mapping, settings, rows, data)
            subprocess.run(
                [sys.executable, "-m", "benchmarks.snapshot_score", "--step", "score",
                 "--model-dir", str(model_dir),
                 "--data", str(data), "--params", str(args.params)],
                check=True,
            )  # fmt: skip


if __name__ == "__main__":
    main()
