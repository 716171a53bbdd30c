"""A tiny scorer artifact: small churn and stage models on the small split, exported to MLflow.

Built once per session in its own temp dir and SQLite store (a copy of the session's empty
store), never from the repo's data/, models/ or mlflow.db.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import mlflow
import polars as pl
import pytest
from tests.mlflow_store import copy_store
from tests.params import Params

from clm.features.metadata import load_feature_metadata
from clm.models.tasks import TASKS
from clm.models.train import fit_final
from clm.months import add_months
from clm.scoring.export import export_scorer, input_example
from clm.scoring.inputs import scoring_input
from clm.tracking import EXPERIMENT


@dataclass(frozen=True)
class TinyScorer:
    root: Path  # working folder of the store: mlflow.db and mlruns/
    tracking_uri: str
    path: Path  # the locally saved artifact
    version: str
    frame: pl.DataFrame  # the whole scoring input of the small split


def build_tiny_scorer(small_split, params: Params, empty_store: Path, root: Path) -> TinyScorer:
    model = replace(params.model, seed=1, max_boost_rounds=60, early_stopping_rounds=10)
    models = root / "models"
    for name, task in TASKS.items():
        trained, _ = fit_final(
            task,
            {"max_depth": 3, "learning_rate": 0.2},
            small_split.part("train"),
            small_split.part("valid"),
            load_feature_metadata(),
            model,
            replace(params.train, calibration_max_ece=1.0),
        )
        trained.save(models / name)
    raw = small_split.raw_dir
    frame = scoring_input(
        pl.scan_parquet(raw / "subscribers.parquet"), pl.scan_parquet(raw / "usage_monthly.parquet")
    ).collect()
    uri = copy_store(empty_store, root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", uri)
        patch.chdir(root)  # artifacts land in root/mlruns
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment(EXPERIMENT)
        try:
            _, version = export_scorer(
                models / "churn",
                models / "stage",
                params.features,
                params.scoring.budget,
                input_example(frame, frame["month"].max()),
                root / "scorer",
                {"git_commit": "test", "data_version": "test"},
            )
        finally:
            mlflow.set_tracking_uri(None)
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
