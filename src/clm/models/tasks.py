"""The two prediction tasks, and training an XGBoost booster for either.

Churn is binary (probability of leaving within the label horizon); stage is multiclass over
the operator's four lifecycle stages. Both share one training function so tuning and final
training cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import polars as pl
import xgboost as xgb
from sklearn.model_selection import StratifiedGroupKFold

from clm.domain.stages import STAGES
from clm.models.prior import population_weights


@dataclass(frozen=True)
class ModelConfig:
    """The ``model`` section: settings shared by tuning and final training."""

    device: str  # "cpu" or "cuda"
    seed: int
    max_boost_rounds: int
    early_stopping_rounds: int
    # per task: feature -> +1 (risk never falls as it rises) or -1; domain knowledge the
    # model must respect, e.g. a complaint surge never lowers churn risk
    monotone_constraints: dict[str, dict[str, int]]

    def __post_init__(self) -> None:
        if self.device not in ("cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"model.device must be cpu or cuda[:N], got {self.device!r}")


@dataclass(frozen=True)
class TrainConfig:
    """The ``train`` section; tuning reads its population rate too."""

    calibration_max_ece: float  # above this ECE on the validation month, Platt-scale churn
    # the churn rate of the population scored; None: the training rows' own rate. Set it when
    # the training rows were sampled at another rate (e.g. churners oversampled): every fit
    # then learns from rows weighted to it
    population_churn_rate: float | None
    rate_z_max: float  # a part's churn rate "differs" beyond this many standard errors


@dataclass(frozen=True)
class Task:
    """What a model predicts and how XGBoost is told to learn it."""

    name: str
    label_column: str
    objective: str
    eval_metric: str
    maximize: bool

    def labels(self, frame: pl.DataFrame) -> np.ndarray:
        """Numeric labels: 0/1 for churn, the index into STAGES for stage."""
        column = frame[self.label_column]
        if self.name == "stage":
            return column.replace_strict(list(STAGES), list(range(len(STAGES)))).to_numpy()
        return column.cast(pl.Int8).to_numpy()

    def xgb_params(self, params: dict, device: str, seed: int) -> dict:
        extra = {"num_class": len(STAGES)} if self.name == "stage" else {}
        return {
            "objective": self.objective,
            "eval_metric": self.eval_metric,
            "tree_method": "hist",
            "device": device,
            "seed": seed,
            **extra,
            **params,
        }


CHURN = Task("churn", "churn", "binary:logistic", "auc", maximize=True)
STAGE = Task("stage", "stage_true", "multi:softprob", "mlogloss", maximize=False)
TASKS = {task.name: task for task in (CHURN, STAGE)}
RULE_STAGE = "stage_rule"


def task_for(name: str, frame: pl.DataFrame) -> Task:
    """The task as this data allows: the stage model learns the true latent stage where the
    data has one (synthetic), else the seed's rule-table stage (an operator's own data)."""
    task = TASKS[name]
    if task is STAGE and frame[STAGE.label_column].drop_nulls().is_empty():
        return replace(STAGE, label_column=RULE_STAGE)
    return task


VALIDATION = "validation"


def train_booster(
    task: Task,
    params: dict,
    train: tuple[pd.DataFrame, np.ndarray],
    valid: tuple[pd.DataFrame, np.ndarray],
    *,
    model: ModelConfig,
    callbacks: Sequence[xgb.callback.TrainingCallback] = (),
    population_rate: float | None = None,
) -> xgb.Booster:
    """Train with early stopping on the validation month; the booster keeps its best round.

    With ``population_rate`` both parts are weighted to that churn rate (``weighted``).
    """
    return xgb.train(
        _booster_params(task, params, train[0].columns, model),
        weighted(train, population_rate),
        num_boost_round=model.max_boost_rounds,
        evals=[(weighted(valid, population_rate), VALIDATION)],
        early_stopping_rounds=model.early_stopping_rounds,
        callbacks=list(callbacks),
        verbose_eval=False,
    )


def train_rounds(
    task: Task,
    params: dict,
    train: tuple[pd.DataFrame, np.ndarray],
    rounds: int,
    *,
    model: ModelConfig,
    population_rate: float | None = None,
) -> xgb.Booster:
    """Exactly ``rounds`` boosting rounds, no early stopping: the count was chosen elsewhere
    (cross-validation, or an earlier early-stopped fit)."""
    return xgb.train(
        _booster_params(task, params, train[0].columns, model),
        weighted(train, population_rate),
        num_boost_round=rounds,
        verbose_eval=False,
    )


Folds = list[tuple[np.ndarray, np.ndarray]]  # (training rows, held-out rows) per fold


def grouped_folds(seen: tuple[pd.DataFrame, np.ndarray], folds: int, seed: int) -> Folds:
    """``folds`` stratified folds of ``seen`` in which identical rows (features and label)
    share a fold, as they share a split part: a dataset with duplicates, or churners
    oversampled by copying, would otherwise score rows the folds trained on and reward
    overfitting.

    Computed once per study, not per trial: scikit-learn's StratifiedGroupKFold weighs every
    group against every fold, which on a few thousand rows took as long as the trials' boosting.
    """
    matrix, labels = seen
    groups = pd.util.hash_pandas_object(matrix.assign(_label=labels), index=False).to_numpy()
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(matrix, labels, groups))


def cross_validate(
    task: Task,
    params: dict,
    seen: tuple[pd.DataFrame, np.ndarray],
    folds: Folds,
    *,
    model: ModelConfig,
    callbacks: Sequence[xgb.callback.TrainingCallback] = (),
    population_rate: float | None = None,
) -> tuple[float, int]:
    """The mean held-out metric over ``folds`` (``grouped_folds`` of ``seen``) at the best
    round, and that round count: on a few thousand rows one validation part is too noisy to
    tune on. With ``population_rate`` the rows are weighted to that churn rate (``weighted``),
    in training and in the held-out metric alike.
    """
    history = xgb.cv(
        _booster_params(task, params, seen[0].columns, model),
        weighted(seen, population_rate),
        num_boost_round=model.max_boost_rounds,
        folds=folds,
        early_stopping_rounds=model.early_stopping_rounds,
        seed=model.seed,
        callbacks=list(callbacks),
        verbose_eval=False,
    )
    column = f"test-{task.eval_metric}-mean"  # xgb.cv keeps the rounds up to the best one
    return float(history[column].iloc[-1]), len(history)


def weighted(matrix: tuple[pd.DataFrame, np.ndarray], population_rate: float | None) -> xgb.DMatrix:
    """The churn matrix with its rows weighted to ``population_rate``
    (``clm.models.prior.population_weights``); unweighted when no rate is stated."""
    features, labels = matrix
    weights = None if population_rate is None else population_weights(labels, population_rate)
    return xgb.DMatrix(features, labels, weight=weights)


def _booster_params(task: Task, params: dict, columns: Sequence[str], model: ModelConfig) -> dict:
    """XGBoost's parameters: the task's, the tuned ones, and the monotone constraints of the
    model columns present."""
    constraints = model.monotone_constraints.get(task.name, {})
    monotone = {column: constraints[column] for column in columns if column in constraints}
    xgb_params = task.xgb_params(params, model.device, model.seed)
    if monotone:
        xgb_params["monotone_constraints"] = monotone
    return xgb_params


def predict(booster: xgb.Booster, matrix: pd.DataFrame) -> np.ndarray:
    """Churn probability (n,) or stage probabilities (n, 4).

    In place: the same numbers as predicting on a ``DMatrix``, without copying the matrix
    into one first (that copy took about a third of the churn model's predict time).
    """
    return booster.inplace_predict(matrix)


def best_rounds_only(booster: xgb.Booster) -> xgb.Booster:
    """The booster cut at its early-stopping round, so every consumer (MLflow's flavour,
    TreeSHAP, the scorer) predicts with exactly the trees that were validated."""
    return booster[: booster.best_iteration + 1]
