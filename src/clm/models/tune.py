"""Optuna tuning of a task's XGBoost hyper-parameters, resumable and tracked in MLflow.

The study lives in an Optuna storage under a name derived from everything that defines it
(task, search space, model settings, data digest), so rerunning after an interruption loads
the same study and only runs the trials still missing. Each trial is a nested MLflow run
under one parent run per study; the parent run's id is kept on the study to resume it too.

One tuner works on a study at a time (DVC locks the stage), so a trial still RUNNING when a
tuner starts was left by a killed one: it is failed, and its MLflow run ended as KILLED.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import mlflow
import numpy as np
import optuna
import pandas as pd
import polars as pl
from mlflow import MlflowClient
from mlflow.entities import DatasetInput
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
from optuna_integration import XGBoostPruningCallback

from clm.features.metadata import FeatureMeta
from clm.models.encoding import FeatureEncoder
from clm.models.tasks import (
    VALIDATION,
    ModelConfig,
    Task,
    cross_validate,
    grouped_folds,
    train_booster,
)

log = logging.getLogger(__name__)

PARENT_RUN_ATTR = "mlflow_parent_run_id"
TRIAL_TAG = "optuna_trial"
STATE_TAG = "optuna_state"


@dataclass(frozen=True)
class Range:
    """One hyper-parameter's search range."""

    low: float
    high: float
    # optional per range, so params.yaml names them only where they hold: the default is the
    # plain continuous range
    log: bool = False
    integer: bool = False


@dataclass(frozen=True)
class TuneConfig:
    """The ``tune`` section."""

    n_trials: int
    timeout_s: float | None  # stop starting trials after this many seconds (None: no limit)
    pruner_startup_trials: int
    pruner_warmup_rounds: int
    search_space: dict[str, Range]
    # tried first in a new study: a known-good point (XGBoost's defaults) the sampler then
    # improves on, instead of spending a short budget before it finds that region; None: none
    first_trial: dict[str, float] | None

    def __post_init__(self) -> None:
        for name, value in (self.first_trial or {}).items():
            space = self.search_space.get(name)
            if space is None or not space.low <= value <= space.high:
                raise ValueError(
                    f"first_trial.{name} = {value} lies outside the search space "
                    f"{'(no such parameter)' if space is None else f'[{space.low}, {space.high}]'}"
                )


@dataclass(frozen=True)
class TuningResult:
    study_name: str
    best_params: dict
    best_value: float
    best_rounds: int
    n_complete: int
    n_pruned: int
    run_id: str  # the study's MLflow run


Matrix = tuple[pd.DataFrame, np.ndarray]


def study_name(
    task: Task,
    model: ModelConfig,
    tune: TuneConfig,
    data_digest: str,
    cv_folds: int = 0,
    population_rate: float | None = None,
) -> str:
    """A name that changes when anything but the number of trials or the time budget
    changes."""
    identity = {
        "task": task.name,
        "model": asdict(model),
        "space": {k: asdict(v) for k, v in sorted(tune.search_space.items())},
        "data": data_digest,
        **({"cv_folds": cv_folds} if cv_folds else {}),
        **({"population_rate": population_rate} if population_rate is not None else {}),
        **({"first_trial": tune.first_trial} if tune.first_trial else {}),
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:12]
    return f"{task.name}-{digest}"


def tune(
    task: Task,
    train: Matrix,
    valid: Matrix,
    model: ModelConfig,
    config: TuneConfig,
    storage: str | optuna.storages.BaseStorage,
    data_digest: str,
    datasets: Sequence[DatasetInput] = (),
    show_progress: bool = False,
    cv_folds: int = 0,
    population_rate: float | None = None,
) -> TuningResult:
    """Run (or resume) the study until it holds ``config.n_trials`` finished trials, or
    ``config.timeout_s`` has passed.

    Each trial is judged on ``valid`` (early stopping there), or with ``cv_folds`` > 1 by
    stratified k-fold cross-validation on ``train`` and ``valid`` together. With
    ``population_rate`` (churn) every fit and every held-out loss is weighted to that rate
    (``clm.models.prior``), so trials are judged as on the population.
    ``datasets`` (the files ``train`` and ``valid`` come from) are logged on the study's run.
    """
    name = study_name(task, model, config, data_digest, cv_folds, population_rate)
    seen, folds = None, None
    if cv_folds > 1:
        seen = (
            pd.concat([train[0], valid[0]], ignore_index=True),
            np.concatenate([train[1], valid[1]]),
        )
        folds = grouped_folds(seen, cv_folds, model.seed)
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        load_if_exists=True,
        direction="maximize" if task.maximize else "minimize",
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=config.pruner_startup_trials,
            n_warmup_steps=config.pruner_warmup_rounds,
        ),
    )
    # seeded by the trials already stored: a resumed study continues the sampler's sequence
    # instead of replaying its first points, and an uninterrupted study stays reproducible
    study.sampler = optuna.samplers.TPESampler(seed=model.seed + len(study.trials))
    if config.first_trial and not study.trials:
        study.enqueue_trial(_typed(config.first_trial, config.search_space))
    finished = _finished(study)
    remaining = max(0, config.n_trials - len(finished))
    log.info("study %s: %d trials finished, %d to run", name, len(finished), remaining)

    with _parent_run(study, task) as parent:
        # tags, not params: a resumed study may be asked for more trials than before
        mlflow.set_tags({"study_name": name, "n_trials": config.n_trials, "task": task.name})
        if datasets:
            MlflowClient().log_inputs(parent.info.run_id, datasets=list(datasets))
        _fail_orphans(study, parent)

        def objective(trial: optuna.Trial) -> float:
            params = _suggest(trial, config.search_space)
            run_tags = {TRIAL_TAG: str(trial.number)}
            with mlflow.start_run(run_name=f"trial-{trial.number}", nested=True, tags=run_tags):
                mlflow.log_params(params)
                part = "test" if cv_folds > 1 else VALIDATION  # xgb.cv names its folds test
                pruning = XGBoostPruningCallback(trial, f"{part}-{task.eval_metric}")
                try:
                    if cv_folds > 1:
                        value, rounds = cross_validate(
                            task, params, seen, folds, model=model, callbacks=[pruning],
                            population_rate=population_rate,
                        )  # fmt: skip
                    else:
                        booster = train_booster(
                            task, params, train, valid, model=model, callbacks=[pruning],
                            population_rate=population_rate,
                        )  # fmt: skip
                        # the validation metric at the best round
                        value, rounds = float(booster.best_score), booster.best_iteration + 1
                except optuna.TrialPruned:
                    mlflow.set_tag(STATE_TAG, "pruned")
                    mlflow.end_run()  # FINISHED: the pruner did its job, nothing failed
                    raise
                trial.set_user_attr("best_rounds", rounds)
                mlflow.log_metrics({task.eval_metric: value, "best_rounds": rounds})
                mlflow.set_tag(STATE_TAG, "complete")
                return value

        if remaining:
            study.optimize(
                objective,
                n_trials=remaining,
                timeout=config.timeout_s,
                show_progress_bar=show_progress,
            )
        best = study.best_trial
        result = TuningResult(
            study_name=name,
            best_params=best.params,
            best_value=best.value,
            best_rounds=best.user_attrs["best_rounds"],
            n_complete=len(study.get_trials(states=(TrialState.COMPLETE,))),
            n_pruned=len(study.get_trials(states=(TrialState.PRUNED,))),
            run_id=parent.info.run_id,
        )
        mlflow.log_metrics(
            {
                f"best_{task.eval_metric}": result.best_value,
                "n_complete": result.n_complete,
                "n_pruned": result.n_pruned,
            }
        )
        mlflow.log_dict(result.best_params, "best_params.json")
        log.info(
            "study %s: best %s %.4f (run %s)",
            name,
            task.eval_metric,
            best.value,
            parent.info.run_id,
        )
    return result


def tune_parts(
    task: Task,
    train: pl.DataFrame,
    valid: pl.DataFrame,
    metadata: dict[str, FeatureMeta],
    model: ModelConfig,
    config: TuneConfig,
    storage: str | optuna.storages.BaseStorage,
    data_digest: str,
    datasets: Sequence[DatasetInput] = (),
    show_progress: bool = False,
    population_rate: float | None = None,
) -> TuningResult:
    """``tune`` on split parts as read, encoded as the final fit encodes them (the encoder
    fitted on the training part): the tune stage's study, wherever the parts come from."""
    encoder = FeatureEncoder.fit(train, metadata)
    return tune(
        task,
        (encoder.transform(train), task.labels(train)),
        (encoder.transform(valid), task.labels(valid)),
        model,
        config,
        storage=storage,
        data_digest=data_digest,
        datasets=datasets,
        show_progress=show_progress,
        population_rate=population_rate,
    )


def _finished(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))


def _fail_orphans(study: optuna.Study, parent: mlflow.ActiveRun) -> None:
    """Fail the trials a killed tuner left RUNNING and end their MLflow runs as KILLED."""
    orphans = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if not orphans:
        return
    for trial in orphans:
        study.tell(trial.number, state=TrialState.FAIL)
    log.warning(
        "study %s: trials %s were left running by a killed tuner; marked failed",
        study.study_name,
        [trial.number for trial in orphans],
    )
    client = MlflowClient()
    running = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}' "
        "and attributes.status = 'RUNNING'",
    )
    for run in running:
        client.set_tag(run.info.run_id, STATE_TAG, "killed")
        client.set_terminated(run.info.run_id, status="KILLED")


def _parent_run(study: optuna.Study, task: Task) -> mlflow.ActiveRun:
    """The study's MLflow run: reopened when resuming, created on the first run."""
    run_id = study.user_attrs.get(PARENT_RUN_ATTR)
    if run_id is not None:
        try:
            return mlflow.start_run(run_id=run_id)
        except mlflow.exceptions.MlflowException:
            log.warning(
                "parent run %s of %s not found; starting a new one", run_id, study.study_name
            )
    run = mlflow.start_run(run_name=f"tune-{task.name}")
    study.set_user_attr(PARENT_RUN_ATTR, run.info.run_id)
    return run


def _suggest(trial: optuna.Trial, space: dict[str, Range]) -> dict:
    return {
        name: (
            trial.suggest_int(name, int(r.low), int(r.high), log=r.log)
            if r.integer
            else trial.suggest_float(name, r.low, r.high, log=r.log)
        )
        for name, r in space.items()
    }


def _typed(point: dict[str, float], space: dict[str, Range]) -> dict:
    """``point`` with the integer parameters as integers (params.yaml reads them as floats)."""
    return {name: int(value) if space[name].integer else value for name, value in point.items()}


def journal_storage(path: Path) -> JournalStorage:
    """A file-backed study store: resumable like SQLite, without a database write per
    boosting round (the pruning callback reports every round)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))
