"""Re-score a registry version on the out-of-time test month, straight from the registry.

Promotion never trusts metrics copied from old runs: each version's model and encoder are loaded
from the registry and scored now, on the same test rows for challenger and champion. Adding a
registered model to promotion means adding one evaluator here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np
import polars as pl
from mlflow.entities.model_registry import ModelVersion

from clm.domain.stages import STAGES
from clm.models.metrics import churn_metrics, stage_metrics
from clm.models.splits import read_part
from clm.models.tasks import CHURN, STAGE, Task
from clm.models.trained import META_FILE, TrainedModel
from clm.scoring.batches import load_scorer_from

log = logging.getLogger(__name__)


Evaluator = Callable[[ModelVersion, Path], dict[str, float]]


class VersionLoadError(RuntimeError):
    """A version's model or artifacts cannot be loaded or scored."""


def evaluate_churn(version: ModelVersion, split_dir: Path) -> dict[str, float]:
    """Churn metrics of an XGBoost churn version on the test month."""
    return _churn_part(_load_booster_model(CHURN, version), split_dir)


def evaluate_stage(version: ModelVersion, split_dir: Path) -> dict[str, float]:
    """Macro-F1 of an XGBoost stage version on the test month."""
    return _stage_part(_load_booster_model(STAGE, version), split_dir)


def evaluate_scorer(version: ModelVersion, split_dir: Path) -> dict[str, float]:
    """The scorer's churn part's churn metrics and its stage part's macro-F1, loaded through
    the pyfunc as ``clm score`` loads it (metric names do not overlap)."""
    scorer = load_scorer_from(_uri(version))
    return {**_churn_part(scorer.churn, split_dir), **_stage_part(scorer.stage, split_dir)}


EVALUATORS: dict[str, Evaluator] = {
    "churn": evaluate_churn,
    "stage": evaluate_stage,
    "scorer": evaluate_scorer,
}


def score_version(evaluator: Evaluator, version: ModelVersion, split_dir: Path) -> dict[str, float]:
    """Run an evaluator, turning any loading or scoring failure into one clear error."""
    try:
        metrics = evaluator(version, split_dir)
    except Exception as error:  # MLflow, XGBoost, I/O and encoder errors all mean "unusable"
        raise VersionLoadError(
            f"{version.name} version {version.version} cannot be loaded or scored: "
            f"{type(error).__name__}: {error}"
        ) from error
    log.info("%s version %s on the test month: %s", version.name, version.version, metrics)
    return metrics


def input_columns(version: ModelVersion) -> list[dict] | None:
    """The input columns of the version's signature (None when it was logged without one)."""
    try:
        signature = mlflow.models.get_model_info(_uri(version)).signature
    except Exception as error:  # same boundary as score_version
        raise VersionLoadError(
            f"{version.name} version {version.version}: cannot read its signature: {error}"
        ) from error
    return None if signature is None else signature.inputs.to_dict()


def _churn_part(model: TrainedModel, split_dir: Path) -> dict[str, float]:
    test = read_part("test", CHURN, split_dir)
    return churn_metrics(CHURN.labels(test), model.predict(test))


def _stage_part(model: TrainedModel, split_dir: Path) -> dict[str, float]:
    """Against the stage the model learned (the true stage on synthetic data, the rule-table
    stage on an operator's own)."""
    test = read_part("test", model.task, split_dir)
    predicted = np.asarray(STAGES)[model.predict(test).argmax(axis=1)]
    actual = test[model.task.label_column].cast(pl.String).to_numpy()
    return {"macro_f1": stage_metrics(actual, predicted, STAGES)["macro_f1"]}


def _load_booster_model(task: Task, version: ModelVersion) -> TrainedModel:
    """The booster of the version with its encoder and calibrator, logged on the same run."""
    booster = mlflow.xgboost.load_model(_uri(version))
    model = TrainedModel.from_meta(
        booster, mlflow.artifacts.load_dict(f"runs:/{version.run_id}/{META_FILE}")
    )
    if model.task.name != task.name:
        raise ValueError(f"expected a {task.name} model, found {model.task.name}")
    return model


def _uri(version: ModelVersion) -> str:
    return f"models:/{version.name}/{version.version}"
