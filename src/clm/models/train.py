"""Final training of a tuned model, its calibration check, and its MLflow run and registry
version."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import mlflow
import polars as pl
from mlflow import MlflowClient
from mlflow.entities import DatasetInput
from mlflow.models import infer_signature
from mlflow.models.model import ModelInfo

from clm.features.metadata import FeatureMeta
from clm.models.calibration import PlattCalibrator
from clm.models.encoding import FeatureEncoder
from clm.models.metrics import expected_calibration_error
from clm.models.prior import PriorReport, at_rate, churner_weight, population_weights
from clm.models.tasks import (
    ModelConfig,
    Task,
    TrainConfig,
    best_rounds_only,
    predict,
    train_booster,
    train_rounds,
)
from clm.models.trained import META_FILE, TrainedModel
from clm.registry import REGISTERED_MODELS, mark_challenger

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FitReport:
    """What the final fit decided, for the run and the metrics file."""

    best_rounds: int
    valid_ece_raw: float | None
    calibrated: bool
    prior: PriorReport | None = None  # churn only: rates seen and stated, what was done


def fit_final(
    task: Task,
    params: dict,
    train: pl.DataFrame,
    valid: pl.DataFrame,
    metadata: dict[str, FeatureMeta],
    model: ModelConfig,
    config: TrainConfig,
    rounds: int | None = None,
) -> tuple[TrainedModel, FitReport]:
    """Train on the training months with early stopping on the validation month.

    With ``rounds`` (chosen by cross-validation) the booster trains exactly that many rounds
    instead of early-stopping on the validation month. With ``config.population_churn_rate``
    stated, the churn model learns from rows weighted to that rate, and stops early on the
    validation month weighted the same way (``clm.models.prior``): its probabilities then hold
    at the stated rate with no correction after training. It is Platt-scaled on the
    validation month when its expected calibration error there (weighted likewise) exceeds
    ``config.calibration_max_ece``: as the model trained at the natural rate would be.
    """
    population = config.population_churn_rate if task.name == "churn" else None
    encoder = FeatureEncoder.fit(train, metadata)
    valid_matrix, valid_y = encoder.transform(valid), task.labels(valid)
    train_y = task.labels(train)
    train_matrix = (encoder.transform(train), train_y)
    if rounds:
        booster = train_rounds(
            task, params, train_matrix, rounds, model=model, population_rate=population
        )
    else:
        booster = train_booster(
            task, params, train_matrix, (valid_matrix, valid_y), model=model,
            population_rate=population,
        )  # fmt: skip
        booster = best_rounds_only(booster)
    trained = TrainedModel(task, booster, encoder)
    rounds = booster.num_boosted_rounds()
    if task.name != "churn":
        return trained, FitReport(rounds, None, calibrated=False)
    train_rate, valid_rate = float(train_y.mean()), float(valid_y.mean())
    natural = population is None or at_rate(valid_rate, len(valid_y), population, config.rate_z_max)
    # a validation part off the stated rate is judged and calibrated weighted to it:
    # unweighted, Platt scaling would pull the probabilities back to the sample's rate
    weights = None if natural else population_weights(valid_y, population)
    prob = trained.predict(valid)
    ece = expected_calibration_error(valid_y, prob, weights=weights)
    calibrate = ece > config.calibration_max_ece
    if calibrate:
        log.info("churn model ECE %.4f on the validation month: Platt-scaling it", ece)
        trained = TrainedModel(task, booster, encoder, PlattCalibrator.fit(valid_y, prob, weights))
    weight = churner_weight(train_y, population)
    prior = PriorReport(
        train_rate=train_rate,
        train_rows=len(train_y),
        valid_rate=valid_rate,
        population_rate=population,
        churner_weight=weight,
        valid_at_natural_rate=natural,
        action=_prior_action(population, weight, natural, calibrate),
    )
    return trained, FitReport(rounds, ece, calibrated=calibrate, prior=prior)


def _prior_action(population: float | None, weight: float, natural: bool, calibrated: bool) -> str:
    """What ``fit_final`` did to the probabilities, in one line."""
    if population is None:
        done = "no population churn rate stated: probabilities are at the training rate"
        return done + ("; Platt-scaled on the validation part" if calibrated else "")
    done = (
        f"trained, tuned and early-stopped on rows weighted to the stated population rate "
        f"{population:.4f} (a churner weighs {weight:.3f} of a stayer), so no log-odds "
        f"correction was needed"
    )
    part = "the validation part" + ("" if natural else " re-weighted to that rate")
    kept = f"; calibrated on {part} (ECE within train.calibration_max_ece)"
    return done + (f"; Platt-scaled on {part}" if calibrated else kept)


ModelLogger = Callable[[str], ModelInfo]  # logs a model in the active run, registered as the name


def log_and_register(
    trained: TrainedModel,
    report: FitReport,
    params: dict,
    log_model: ModelLogger,
    metadata: dict[str, FeatureMeta],
    provenance: dict[str, str],
    registered_name: str | None = None,
    run_params: dict | None = None,
    datasets: Sequence[DatasetInput] = (),
) -> tuple[str, str]:
    """Log the model run (tuned and ``run_params``, feature metadata, provenance, the
    ``datasets`` it learned from, the model ``log_model`` logs) and register it as the new
    ``challenger`` of ``registered_name`` (default: the task's registered model).
    Returns (run id, version)."""
    name = registered_name or REGISTERED_MODELS[trained.task.name]
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
        info = log_model(name)
    version = str(info.registered_model_version)
    mark_challenger(name, version, {**provenance, "run_id": run.info.run_id})
    return run.info.run_id, version


def booster_logger(trained: TrainedModel, example: pl.DataFrame) -> ModelLogger:
    """Logs the booster in MLflow's XGBoost flavour: the encoded matrix in, the raw
    probability out (``example`` encoded gives its signature)."""

    def log(name: str) -> ModelInfo:
        matrix = trained.encoder.transform(example)
        return mlflow.xgboost.log_model(
            trained.booster,
            name="model",
            signature=infer_signature(matrix, predict(trained.booster, matrix)),
            input_example=matrix.head(5),
            model_format="ubj",
            registered_model_name=name,
            # the booster needs XGBoost alone; left to infer, MLflow imports the model in a
            # subprocess (seconds per model) or pins the whole uv project
            pip_requirements=mlflow.xgboost.get_default_pip_requirements(),
        )

    return log


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
