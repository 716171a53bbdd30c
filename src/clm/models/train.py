"""Final training of a tuned model, its calibration check, and its MLflow run and registry
version."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import mlflow
import polars as pl
from mlflow import MlflowClient
from mlflow.entities import DatasetInput
from mlflow.models import infer_signature

from clm.features.metadata import FeatureMeta
from clm.models.calibration import PlattCalibrator
from clm.models.encoding import FeatureEncoder
from clm.models.metrics import expected_calibration_error
from clm.models.tasks import ModelConfig, Task, best_rounds_only, predict, train_booster
from clm.models.trained import META_FILE, TrainedModel
from clm.registry import REGISTERED_MODELS, mark_challenger

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """The ``train`` section."""

    calibration_max_ece: float  # above this ECE on the validation month, Platt-scale churn


@dataclass(frozen=True)
class FitReport:
    """What the final fit decided, for the run and the metrics file."""

    best_rounds: int
    valid_ece_raw: float | None
    calibrated: bool


def fit_final(
    task: Task,
    params: dict,
    train: pl.DataFrame,
    valid: pl.DataFrame,
    metadata: dict[str, FeatureMeta],
    model: ModelConfig,
    config: TrainConfig,
) -> tuple[TrainedModel, FitReport]:
    """Train on the training months with early stopping on the validation month.

    The churn model is Platt-scaled on the validation month only when its expected
    calibration error there exceeds ``config.calibration_max_ece``.
    """
    encoder = FeatureEncoder.fit(train, metadata)
    valid_matrix, valid_y = encoder.transform(valid), task.labels(valid)
    booster = train_booster(
        task, params, (encoder.transform(train), task.labels(train)), (valid_matrix, valid_y),
        model=model,
    )  # fmt: skip
    booster = best_rounds_only(booster)
    trained = TrainedModel(task, booster, encoder)
    if task.name != "churn":
        return trained, FitReport(booster.num_boosted_rounds(), None, calibrated=False)
    prob = trained.predict(valid)
    ece = expected_calibration_error(valid_y, prob)
    if ece <= config.calibration_max_ece:
        return trained, FitReport(booster.num_boosted_rounds(), ece, calibrated=False)
    log.info("churn model ECE %.4f on the validation month: Platt-scaling it", ece)
    calibrated = TrainedModel(task, booster, encoder, PlattCalibrator.fit(valid_y, prob))
    return calibrated, FitReport(booster.num_boosted_rounds(), ece, calibrated=True)


def log_and_register(
    trained: TrainedModel,
    report: FitReport,
    params: dict,
    example: pl.DataFrame,
    metadata: dict[str, FeatureMeta],
    provenance: dict[str, str],
    registered_name: str | None = None,
    run_params: dict | None = None,
    datasets: Sequence[DatasetInput] = (),
) -> tuple[str, str]:
    """Log the model run (tuned and ``run_params``, feature metadata, provenance, the
    ``datasets`` it learned from, model with signature) and register it as the new
    ``challenger`` of ``registered_name`` (default: the task's registered model).
    Returns (run id, version)."""
    name = registered_name or REGISTERED_MODELS[trained.task.name]
    matrix = trained.encoder.transform(example)
    with mlflow.start_run(run_name=f"train-{trained.task.name}") as run:
        mlflow.log_params(
            {
                **params,
                **(run_params or {}),
                "best_rounds": report.best_rounds,
                "task": trained.task.name,
            }
        )
        mlflow.set_tags({**provenance, "calibrated": str(report.calibrated)})
        if datasets:
            MlflowClient().log_inputs(run.info.run_id, datasets=list(datasets))
        if report.valid_ece_raw is not None:
            mlflow.log_metric("valid_ece_before_calibration", report.valid_ece_raw)
        mlflow.log_dict(_feature_table(trained.encoder, metadata), "features.json")
        mlflow.log_dict(trained.meta(), META_FILE)  # encoder and calibrator, beside the booster
        info = mlflow.xgboost.log_model(
            trained.booster,
            name="model",
            signature=infer_signature(matrix, predict(trained.booster, matrix)),
            input_example=matrix.head(5),
            model_format="ubj",
            registered_model_name=name,
        )
    version = str(info.registered_model_version)
    mark_challenger(name, version, {**provenance, "run_id": run.info.run_id})
    return run.info.run_id, version


def _feature_table(encoder: FeatureEncoder, metadata: dict[str, FeatureMeta]) -> list[dict]:
    """Every model column with the feature it comes from, its meaning and its cause."""
    return [
        {
            "column": column,
            "feature": encoder.feature_of(column),
            "description": metadata[encoder.feature_of(column)].description,
            "unit": metadata[encoder.feature_of(column)].unit,
            "cause": metadata[encoder.feature_of(column)].cause,
        }
        for column in encoder.columns
    ]
