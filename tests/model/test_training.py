"""Tuning, training and registration of the churn and stage models on a small fixture."""

from __future__ import annotations

import mlflow
import numpy as np
import optuna
import polars as pl
import pytest
from mlflow import MlflowClient

from clm.features.metadata import load_feature_metadata
from clm.models import tune as tune_module
from clm.models.encoding import FeatureEncoder
from clm.models.tasks import CHURN, STAGE, ModelConfig, Task
from clm.models.train import TrainConfig, fit_final, log_and_register
from clm.models.trained import TrainedModel
from clm.models.tune import Range, TuneConfig, study_name, tune
from clm.registry import CHALLENGER, REGISTERED_MODELS

MODEL = ModelConfig(
    device="cpu",
    seed=3,
    max_boost_rounds=60,
    early_stopping_rounds=10,
    monotone_constraints={"churn": {"complaints_3m_sum": 1, "contract_remaining_months": -1}},
)
SPACE = TuneConfig(
    n_trials=3,
    pruner_startup_trials=1,
    pruner_warmup_rounds=5,
    search_space={
        "max_depth": Range(2, 4, integer=True),
        "learning_rate": Range(0.1, 0.4, log=True),
    },
)


def _matrices(small_split, task: Task):
    train, valid = (
        small_split.part(p).filter(pl.col(task.label_column).is_not_null())
        for p in ("train", "valid")
    )
    encoder = FeatureEncoder.fit(train, load_feature_metadata())
    return (
        (encoder.transform(train), task.labels(train)),
        (encoder.transform(valid), task.labels(valid)),
    )


def test_the_time_split_never_trains_on_the_test_month(small_split):
    test_month = small_split.part("test")["snapshot_month"].unique().to_list()
    assert len(test_month) == 1
    for part in ("train", "valid"):
        assert small_split.part(part)["snapshot_month"].max() < test_month[0]


def test_interrupted_tuning_resumes_the_same_study(small_split, tracking_store, monkeypatch):
    train, valid = _matrices(small_split, CHURN)
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


def test_other_data_starts_another_study():
    assert study_name(CHURN, MODEL, SPACE, "d1") != study_name(CHURN, MODEL, SPACE, "d2")
    more_trials = TuneConfig(10, 1, 5, SPACE.search_space)
    assert study_name(CHURN, MODEL, SPACE, "d1") == study_name(CHURN, MODEL, more_trials, "d1")


@pytest.mark.parametrize("task", [CHURN, STAGE], ids=lambda t: t.name)
def test_registered_model_sets_challenger_and_predicts_like_the_trained_one(
    small_split, tracking_store, task
):
    train, valid = (
        small_split.part(p).filter(pl.col(task.label_column).is_not_null())
        for p in ("train", "valid")
    )
    metadata = load_feature_metadata()
    params = {"max_depth": 3, "learning_rate": 0.2}
    trained, report = fit_final(
        task, params, train, valid, metadata, MODEL, TrainConfig(calibration_max_ece=1.0)
    )
    provenance = {"git_commit": "abc123", "data_version": "v1"}
    run_id, version = log_and_register(
        trained, report, params, valid.head(50), metadata, provenance
    )

    name = REGISTERED_MODELS[task.name]
    client = MlflowClient()
    registered = client.get_model_version_by_alias(name, CHALLENGER)
    assert str(registered.version) == version
    assert registered.tags["git_commit"] == "abc123"
    assert registered.tags["data_version"] == "v1"
    assert registered.tags["run_id"] == run_id

    test = small_split.part("test")
    loaded = mlflow.pyfunc.load_model(f"models:/{name}@{CHALLENGER}")
    from_registry = np.asarray(loaded.predict(trained.encoder.transform(test)))
    np.testing.assert_allclose(from_registry, trained.predict(test), rtol=1e-6)


def test_saved_model_round_trips(small_split, tmp_path):
    train, valid = small_split.part("train"), small_split.part("valid")
    trained, _ = fit_final(
        CHURN, {"max_depth": 2}, train, valid, load_feature_metadata(), MODEL,
        TrainConfig(calibration_max_ece=0.0),  # always calibrate, to round-trip the calibrator
    )  # fmt: skip
    trained.save(tmp_path / "churn")
    loaded = TrainedModel.load(tmp_path / "churn")
    assert loaded.calibrator == trained.calibrator is not None
    test = small_split.part("test")
    np.testing.assert_array_equal(loaded.predict(test), trained.predict(test))
