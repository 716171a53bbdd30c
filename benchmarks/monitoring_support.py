"""A monitored synthetic run in a temp folder, for the monitoring benchmarks: the pipeline's
own steps (generate, validate, features, split, train, train_reasons) on the generator's data,
the trained models saved as ``models/{churn,stage,reasons}``, and the ``MonitorPaths`` that
read them; and the churn model retrained as ``dvc repro`` retrains it (tune, then train)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import mlflow
import polars as pl
from tests.params import Params

from clm.data.validate import run_validate
from clm.explain.reason_stage import ReasonPaths, run_train_reasons
from clm.features.metadata import load_feature_metadata
from clm.features.stage import run_features
from clm.models.splits import read_part
from clm.models.tasks import TASKS
from clm.models.train import fit_final
from clm.models.trained import TrainedModel
from clm.models.tune import TuningResult, journal_storage, tune_parts
from clm.monitoring.stage import MonitorPaths
from clm.split import SplitConfig, run_split
from clm.synthetic.generate import GenerateConfig, write_dataset
from clm.tracking import EXPERIMENT, file_digest, use_experiment

# Fixed boosting parameters in the tuned range of params.yaml ``tune`` (no study per run): the
# champions the monitor watches. Retraining tunes (``retrain_churn``).
BOOSTING = {"max_depth": 4, "learning_rate": 0.15, "min_child_weight": 5.0, "subsample": 0.9}


def prepare_data(root: Path, generate: GenerateConfig, params: Params) -> None:
    """Generate, validate and build the feature table under ``root``."""
    write_dataset(generate, root / "raw", root / "truth")
    run_validate(
        params.validate, root / "raw", root / "validated", root / "quarantine",
        root / "validation.json",
    )  # fmt: skip
    run_features(
        params.features, params.labels, root / "validated",
        root / "truth" / "stages_monthly.parquet", root / "features.parquet",
    )  # fmt: skip


def train_run(root: Path, split: SplitConfig, params: Params, name: str) -> MonitorPaths:
    """Split the feature table and train both models and the reason model into ``root/name``;
    its MonitorPaths."""
    run_dir = root / name
    run_split(split, root / "features.parquet", run_dir / "split", run_dir / "split.json")
    for task_name, task in TASKS.items():
        trained, _ = fit_final(
            task,
            BOOSTING,
            _part(run_dir, "train"),
            _part(run_dir, "valid"),
            load_feature_metadata(),
            params.model,
            params.train,
        )
        trained.save(run_dir / "models" / task_name)
    reasons = ReasonPaths(
        churn_model=run_dir / "models" / "churn",
        test=run_dir / "split" / "test.parquet",
        features=root / "features.parquet",
        churn_events=root / "validated" / "churn_events.parquet",
        model=run_dir / "models" / "reasons",
    )
    run_train_reasons(params.reasons, reasons)
    return MonitorPaths(
        models=run_dir / "models",
        features=root / "features.parquet",
        reference=run_dir / "split" / "train.parquet",
        split_report=run_dir / "split.json",
        validated=root / "validated",
        quarantine=root / "quarantine",
        metrics=run_dir / "monitoring.json",
        report=run_dir / "monitoring.html",
    )


def _part(run_dir: Path, name: str) -> pl.DataFrame:
    return pl.read_parquet(run_dir / "split" / f"{name}.parquet")


def split_at(params: Params, test_month: str, train_months: int) -> SplitConfig:
    """params.yaml's split with the test month and the number of training months set."""
    return replace(params.split, test_month=test_month, train_months=train_months)


def retrain_churn(root: Path, params: Params, name: str) -> tuple[TrainedModel, TuningResult]:
    """The churn model as ``dvc repro`` retrains it on the newer months after ``clm monitor``
    recommends it: params.yaml's split (test month auto: the latest labelled one), the tune
    stage's Optuna study with params.yaml's ``tune`` budget (its MLflow runs in a SQLite store
    under ``root``), then the train stage's final fit from the study's best parameters.

    The split parts are under ``root/name/split``. Returns the model and its study."""
    run_dir = root / name
    split_dir = run_dir / "split"
    run_split(params.split, root / "features.parquet", split_dir, run_dir / "split.json")
    task = TASKS["churn"]
    train, valid = read_part("train", task, split_dir), read_part("valid", task, split_dir)
    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    use_experiment(EXPERIMENT)
    metadata = load_feature_metadata()
    tuning = tune_parts(
        task, train, valid, metadata, params.model, params.tune,
        storage=journal_storage(run_dir / "optuna" / f"{task.name}.journal"),
        data_digest=file_digest(split_dir / "train.parquet", split_dir / "valid.parquet"),
        population_rate=params.train.population_churn_rate,
    )  # fmt: skip
    trained, _ = fit_final(
        task, tuning.best_params, train, valid, metadata, params.model, params.train
    )
    return trained, tuning
