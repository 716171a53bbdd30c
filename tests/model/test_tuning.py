"""Optuna tuning on a small fixture: resuming after an interruption or a kill, and how its
trials look in MLflow."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import optuna
import pandas as pd
import polars as pl
import pytest
from optuna.trial import TrialState
from tests.model.test_training import MODEL
from tests.params import repo_params

from clm.features.metadata import load_feature_metadata
from clm.models import tune as tune_module
from clm.models.encoding import FeatureEncoder
from clm.models.tasks import CHURN, Task
from clm.models.tune import Range, journal_storage, study_name, tune, tune_parts

# a few quick trials over a small space: the tests check the study's bookkeeping, not its result
SPACE = replace(
    repo_params().tune,
    n_trials=3,
    pruner_startup_trials=1,
    pruner_warmup_rounds=5,
    search_space={
        "max_depth": Range(2, 4, integer=True),
        "learning_rate": Range(0.1, 0.4, log=True),
    },
)
REPO = Path(__file__).resolve().parents[2]


def _matrices(split_dir: Path, task: Task):
    train, valid = (
        pl.read_parquet(split_dir / f"{part}.parquet").filter(
            pl.col(task.label_column).is_not_null()
        )
        for part in ("train", "valid")
    )
    encoder = FeatureEncoder.fit(train, load_feature_metadata())
    return (
        (encoder.transform(train), task.labels(train)),
        (encoder.transform(valid), task.labels(valid)),
    )


def tune_until_killed(split_dir: str, journal: str, n_trials: int, kill_in_trial: int) -> None:
    """Run in a child process: tune, and SIGKILL the process inside trial ``kill_in_trial``,
    as an out-of-memory kill or a lost machine would."""
    calls = itertools.count()
    real_train = tune_module.train_booster

    def killed_in_trial(*args, **kwargs):
        if next(calls) == kill_in_trial:
            os.kill(os.getpid(), signal.SIGKILL)
        return real_train(*args, **kwargs)

    tune_module.train_booster = killed_in_trial
    train, valid = _matrices(Path(split_dir), CHURN)
    space = replace(SPACE, n_trials=n_trials)
    tune(CHURN, train, valid, MODEL, space, journal_storage(Path(journal)), data_digest="d1")


@pytest.mark.slow
def test_a_killed_tuning_resumes_with_new_points_and_leaves_nothing_running(
    small_split, tracking_store, tmp_path
):
    mlflow.set_experiment("tuning")  # created here, so its artifacts stay in tmp_path
    journal = tmp_path / "churn.journal"
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "from tests.model.test_tuning import tune_until_killed; "
            f"tune_until_killed({str(small_split.split_dir)!r}, {str(journal)!r}, 6, 3)",
        ],
        env={**os.environ, "PYTHONPATH": str(REPO), "MLFLOW_EXPERIMENT_NAME": "tuning"},
        capture_output=True,
        text=True,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    name = study_name(CHURN, MODEL, SPACE, "d1")
    killed = optuna.load_study(study_name=name, storage=journal_storage(journal))
    assert [t.state for t in killed.trials][-1] == TrialState.RUNNING

    train, valid = _matrices(small_split.split_dir, CHURN)
    tune(CHURN, train, valid, MODEL, replace(SPACE, n_trials=6), journal_storage(journal), "d1")

    trials = optuna.load_study(study_name=name, storage=journal_storage(journal)).trials
    assert [t.state for t in trials].count(TrialState.FAIL) == 1
    assert trials[3].state == TrialState.FAIL
    assert sum(t.state.is_finished() and t.state != TrialState.FAIL for t in trials) == 6
    points = [tuple(sorted(t.params.items())) for t in trials]
    assert len(set(points)) == len(points)  # the resumed sampler did not replay trials 0-3
    runs = mlflow.search_runs(search_all_experiments=True)
    assert not (runs["status"] == "RUNNING").any()
    killed_run = runs[runs[f"tags.{tune_module.TRIAL_TAG}"] == "3"]
    assert killed_run["status"].tolist() == ["KILLED"]


@pytest.mark.slow
def test_a_pruned_trial_is_a_finished_run_tagged_pruned(small_split, tracking_store, monkeypatch):
    train, valid = _matrices(small_split.split_dir, CHURN)
    real_train = tune_module.train_booster
    calls = itertools.count()

    def pruned_second(*args, **kwargs):
        if next(calls) == 1:
            raise optuna.TrialPruned
        return real_train(*args, **kwargs)

    monkeypatch.setattr(tune_module, "train_booster", pruned_second)
    result = tune(CHURN, train, valid, MODEL, SPACE, "sqlite:///optuna.db", data_digest="d1")

    assert result.n_pruned == 1
    runs = mlflow.search_runs(filter_string=f"tags.{tune_module.TRIAL_TAG} = '1'")
    assert runs["status"].tolist() == ["FINISHED"]
    assert runs[f"tags.{tune_module.STATE_TAG}"].tolist() == ["pruned"]


@pytest.mark.slow
def test_interrupted_tuning_resumes_the_same_study(small_split, tracking_store, monkeypatch):
    train, valid = _matrices(small_split.split_dir, CHURN)
    storage = f"sqlite:///{tracking_store.removeprefix('sqlite:///')}.optuna"
    real_train = tune_module.train_booster
    calls = []

    def interrupted_on_second_trial(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_train(*args, **kwargs)

    monkeypatch.setattr(tune_module, "train_booster", interrupted_on_second_trial)
    with pytest.raises(KeyboardInterrupt):
        tune(CHURN, train, valid, MODEL, SPACE, storage, data_digest="d1")
    monkeypatch.setattr(tune_module, "train_booster", real_train)

    name = study_name(CHURN, MODEL, SPACE, "d1")
    first = optuna.load_study(study_name=name, storage=storage).trials[0]
    result = tune(CHURN, train, valid, MODEL, SPACE, storage, data_digest="d1")

    study = optuna.load_study(study_name=name, storage=storage)
    finished = [t for t in study.trials if t.state.is_finished() and t.state.name != "FAIL"]
    assert result.study_name == name
    assert len(finished) == SPACE.n_trials
    assert study.trials[0].params == first.params  # the same study, continued
    parent = study.user_attrs[tune_module.PARENT_RUN_ATTR]
    nested = mlflow.search_runs(filter_string=f"tags.mlflow.parentRunId = '{parent}'")
    assert len(nested) >= SPACE.n_trials  # one nested run per trial, across both sessions


@pytest.mark.slow
def test_tuning_split_parts_runs_the_study_of_their_encoded_matrices(small_split, tracking_store):
    train, valid = _matrices(small_split.split_dir, CHURN)
    encoded = tune(CHURN, train, valid, MODEL, SPACE, optuna.storages.InMemoryStorage(), "d1")
    parts = [
        small_split.part(part).filter(pl.col("churn").is_not_null()) for part in ("train", "valid")
    ]
    from_parts = tune_parts(
        CHURN,
        *parts,
        load_feature_metadata(),
        MODEL,
        SPACE,
        optuna.storages.InMemoryStorage(),
        "d1",
    )
    assert from_parts.study_name == encoded.study_name
    assert from_parts.best_params == encoded.best_params
    assert from_parts.best_value == pytest.approx(encoded.best_value)


def test_other_data_starts_another_study():
    assert study_name(CHURN, MODEL, SPACE, "d1") != study_name(CHURN, MODEL, SPACE, "d2")
    more_trials = replace(SPACE, n_trials=10)
    assert study_name(CHURN, MODEL, SPACE, "d1") == study_name(CHURN, MODEL, more_trials, "d1")
    # a stated population rate weights every trial: another study
    weighted = study_name(CHURN, MODEL, SPACE, "d1", population_rate=0.02)
    assert weighted != study_name(CHURN, MODEL, SPACE, "d1")


def _random_matrices(seed: int):
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(400, 3)), columns=list("abc"))
    y = (rng.random(400) < 1 / (1 + np.exp(-2 * x["a"]))).astype(int).to_numpy()
    return (x.iloc[:300], y[:300]), (x.iloc[300:], y[300:])


def test_a_new_study_starts_at_the_first_trial_and_a_resumed_one_does_not_repeat_it(
    tracking_store, tmp_path
):
    train, valid = _random_matrices(0)
    first = {"max_depth": 3.0, "learning_rate": 0.2}
    space = replace(SPACE, n_trials=2, first_trial=first)
    storage = journal_storage(tmp_path / "study.journal")
    tune(CHURN, train, valid, MODEL, space, storage, data_digest="d1")
    tune(CHURN, train, valid, MODEL, replace(space, n_trials=4), storage, data_digest="d1")

    trials = optuna.load_study(
        study_name=study_name(CHURN, MODEL, space, "d1"), storage=storage
    ).trials
    assert trials[0].params == {"max_depth": 3, "learning_rate": 0.2}  # an integer depth
    assert len(trials) == 4 and all(t.params != trials[0].params for t in trials[1:])
    assert study_name(CHURN, MODEL, space, "d1") != study_name(CHURN, MODEL, SPACE, "d1")


def test_a_first_trial_outside_the_search_space_is_refused():
    with pytest.raises(ValueError, match=r"first_trial.max_depth = 9 lies outside .*\[2, 4\]"):
        replace(SPACE, first_trial={"max_depth": 9})
    with pytest.raises(ValueError, match="no such parameter"):
        replace(SPACE, first_trial={"gamma": 0.1})
