"""A tiny scorer artifact: the trained store's churn and stage models, exported to MLflow.

Built once per session in a copy of the trained store (``tests/trained_store.py``), never from
the repo's data/, models/ or mlflow.db.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl
from tests.mlflow_store import copy_store, working_in
from tests.params import Params

from clm import paths
from clm.explain.reason_stage import ReasonPaths, run_train_reasons
from clm.months import add_months
from clm.scoring.export import export_scorer
from clm.scoring.inputs import scoring_input
from clm.tracking import EXPERIMENT, use_experiment


@dataclass(frozen=True)
class TinyScorer:
    root: Path  # working folder of the store: mlflow.db, mlruns/ and models/
    tracking_uri: str
    path: Path  # the locally saved artifact
    version: str
    frame: pl.DataFrame  # the whole scoring input of the small split


def build_tiny_scorer(small_split, trained_store: Path, params: Params, root: Path) -> TinyScorer:
    """A copy of the trained store, a reason model learned on it and the scorer exported from
    the three."""
    uri = copy_store(trained_store, root)
    models = root / paths.MODELS_DIR
    run_train_reasons(
        replace(params.reasons, min_churners=50, rounds=20),
        ReasonPaths(
            churn_model=models / "churn",
            test=small_split.split_dir / "test.parquet",
            features=small_split.root / "features.parquet",
            churn_events=small_split.raw_dir / "churn_events.parquet",
            model=models / "reasons",
        ),
    )
    raw = small_split.raw_dir
    frame = scoring_input(
        pl.scan_parquet(raw / "subscribers.parquet"), pl.scan_parquet(raw / "usage_monthly.parquet")
    ).collect()
    with working_in(root):
        use_experiment(EXPERIMENT)
        _, version = export_scorer(
            models / "churn",
            models / "stage",
            models / "reasons",
            params.features,
            params.scoring.budget,
            frame,
            root / "scorer",
            {"git_commit": "test", "data_version": "test"},
        )
    return TinyScorer(root, uri, root / "scorer", version, frame)


def with_history_gaps(frame: pl.DataFrame) -> tuple[pl.DataFrame, int, int]:
    """``frame`` with one subscriber missing T-2 and another, joined before T-6, only at T."""
    month = frame["month"].max()
    at_t = frame.filter(pl.col("month") == month, pl.col("join_month") < add_months(month, -6))
    gap, only_t = at_t["subscriber_id"].sort().head(2)
    dropped = ((pl.col("subscriber_id") == gap) & (pl.col("month") == add_months(month, -2))) | (
        (pl.col("subscriber_id") == only_t) & (pl.col("month") != month)
    )
    return frame.filter(~dropped), gap, only_t


def assert_every_subscriber_accounted_for(frame, month, scores, quarantine):
    """Each subscriber with a row at T is scored or quarantined, and each input row is
    behind a score, in the quarantine, or of a subscriber without a row at T."""
    at_t = set(frame.filter(pl.col("month") == month)["subscriber_id"])
    scored, set_aside = set(scores["subscriber_id"]), set(quarantine["subscriber_id"])
    assert not scored & set_aside
    assert at_t <= scored | set_aside
    rows_of = frame.group_by("subscriber_id").len()
    inactive = rows_of.filter(~pl.col("subscriber_id").is_in(list(at_t)))["len"].sum()
    behind_scores = rows_of.filter(pl.col("subscriber_id").is_in(list(scored)))["len"].sum()
    assert behind_scores + quarantine.height + inactive == frame.height
