"""Training and registration of the churn and stage models on a small fixture: the train
step's results in the session's trained store (``tests/trained_store.py``), read only."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient
from tests.mlflow_store import store_uri, working_in
from tests.params import repo_params

from clm.features.metadata import load_feature_metadata
from clm.models.prior import churner_weight, population_weights
from clm.models.tasks import CHURN
from clm.models.train import fit_final
from clm.models.trained import TrainedModel
from clm.registry import CHALLENGER, REGISTERED_MODELS
from clm.tracking import CLASSIC_ML, EXPERIMENT, EXPERIMENT_KIND_TAG

pytestmark = pytest.mark.slow  # the trained store: two models trained once per session
MODEL = replace(repo_params().model, seed=3, max_boost_rounds=60, early_stopping_rounds=10)
ALWAYS_CALIBRATE = replace(repo_params().train, calibration_max_ece=0.0)


def test_the_time_split_never_trains_on_the_test_month(small_split):
    test_month = small_split.part("test")["snapshot_month"].unique().to_list()
    assert len(test_month) == 1
    for part in ("train", "valid"):
        assert small_split.part(part)["snapshot_month"].max() < test_month[0]


@pytest.mark.parametrize("task", ["churn", "stage"])
def test_registered_model_sets_challenger_and_predicts_like_the_trained_one(
    trained_store, small_split, task
):
    """The train step's registration in the session's trained store (read only)."""
    registration = json.loads((trained_store / f"models/{task}/registration.json").read_text())
    tuning = json.loads((trained_store / f"models/tuning/{task}.json").read_text())
    name = REGISTERED_MODELS[task]
    with working_in(trained_store):
        registered = MlflowClient().get_model_version_by_alias(name, CHALLENGER)
        loaded = mlflow.pyfunc.load_model(f"models:/{name}@{CHALLENGER}")
    assert str(registered.version) == registration["version"]
    assert registered.tags["study_name"] == tuning["study_name"]
    assert registered.tags["tuning_run_id"] == tuning["run_id"]
    assert registered.tags["run_id"] == registration["run_id"]

    trained = TrainedModel.load(trained_store / "models" / task)
    test = small_split.part("test")
    from_registry = np.asarray(loaded.predict(trained.encoder.transform(test)))
    np.testing.assert_allclose(from_registry, trained.predict(test), rtol=1e-6)


def test_saved_model_round_trips(small_split, tmp_path):
    train, valid = small_split.part("train"), small_split.part("valid")
    trained, _ = fit_final(
        CHURN, {"max_depth": 2}, train, valid, load_feature_metadata(), MODEL,
        ALWAYS_CALIBRATE,  # to round-trip the calibrator
    )  # fmt: skip
    trained.save(tmp_path / "churn")
    loaded = TrainedModel.load(tmp_path / "churn")
    assert loaded.calibrator == trained.calibrator is not None
    test = small_split.part("test")
    np.testing.assert_array_equal(loaded.predict(test), trained.predict(test))


def test_a_save_that_fails_with_its_other_files_leaves_the_saved_model(small_split, tmp_path):
    train, valid = small_split.part("train"), small_split.part("valid")
    fit = {"max_depth": 2}
    first, _ = fit_final(CHURN, fit, train, valid, load_feature_metadata(), MODEL, ALWAYS_CALIBRATE)
    folder = tmp_path / "churn"
    with first.saved_with(folder, folder / "registration.json") as (registration,):
        registration.write_text('{"version": "1"}', encoding="utf-8")
    before = {path: path.read_bytes() for path in folder.iterdir()}

    second = replace(first, calibrator=None)  # another model, whose meta differs
    saving = second.saved_with(folder, folder / "registration.json")
    with pytest.raises(OSError, match="registry unreachable"), saving:
        raise OSError("registry unreachable")  # before its registration is written

    assert {path: path.read_bytes() for path in folder.iterdir()} == before
    assert TrainedModel.load(folder).calibrator == first.calibrator is not None


def test_the_training_run_records_its_datasets_months_and_seeds(trained_store, params):
    """The train step's run in the session's trained store (``tests/trained_store.py``)."""
    written = ("models/churn/registration.json", "models/tuning/churn.json", "reports/split.json")
    registration, tuning, months = (json.loads((trained_store / p).read_text()) for p in written)
    client = MlflowClient(tracking_uri=store_uri(trained_store))
    run = client.get_run(registration["run_id"])
    assert run.data.params["horizon_months"] == str(params.labels.horizon_months)
    assert run.data.params["test_month"] == months["test"]["months"][0]
    assert run.data.params["valid_month"] == months["valid"]["months"][0]
    assert run.data.params["n_train_months"] == str(len(months["train"]["months"]))
    assert run.data.params["data_seed"] == str(params.generate.seed)
    assert run.data.params["model_seed"] == str(params.model.seed)
    assert run.data.tags["tuning_run_id"] == tuning["run_id"]
    logged = {
        (d.dataset.name, d.dataset.digest, json.loads(d.dataset.source)["uri"], d.tags[0].value)
        for d in run.inputs.dataset_inputs
    }
    assert logged == {  # each file by its DVC path and md5, the key of its DVC cache entry
        (part, hashlib.md5((trained_store / path).read_bytes()).hexdigest(), path, context)
        for part, context in (("train", "training"), ("valid", "validation"))
        for path in [f"data/split/{part}.parquet"]
    }
    experiment = client.get_experiment(run.info.experiment_id)
    assert (experiment.name, experiment.tags[EXPERIMENT_KIND_TAG]) == (EXPERIMENT, CLASSIC_ML)


def test_a_stated_population_rate_trains_weighted_to_it(small_split):
    """``train.population_churn_rate`` (the operator's tables sampled at another rate): the
    booster learns from rows weighted to the stated rate, so its probabilities hold there
    without a log-odds correction, and a validation month off that rate calibrates only
    re-weighted to it (unweighted, it would pull them back to the sample's rate)."""
    train, valid = small_split.part("train"), small_split.part("valid")
    rate = float(train["churn"].mean())
    stated = replace(ALWAYS_CALIBRATE, population_churn_rate=rate / 4)
    weighted, report = fit_final(
        CHURN, {"max_depth": 2}, train, valid, load_feature_metadata(), MODEL, stated
    )
    plain, _ = fit_final(
        CHURN, {"max_depth": 2}, train, valid, load_feature_metadata(), MODEL,
        replace(stated, calibration_max_ece=1.0, population_churn_rate=None),
    )  # fmt: skip
    y = CHURN.labels(valid)
    weights = population_weights(y, rate / 4)
    assert np.average(y, weights=weights) == pytest.approx(rate / 4)
    # the booster alone, before Platt scaling, already predicts near the stated rate
    raw = TrainedModel(CHURN, weighted.booster, weighted.encoder).predict(valid)
    assert np.average(raw, weights=weights) < np.average(plain.predict(valid), weights=weights)
    # Platt's score equation: the weighted mean prediction equals the weighted churn rate
    assert np.average(weighted.predict(valid), weights=weights) == pytest.approx(rate / 4, rel=0.02)
    assert report.calibrated and not report.prior.valid_at_natural_rate
    assert report.prior.population_rate == rate / 4
    assert report.prior.churner_weight == pytest.approx(
        churner_weight(CHURN.labels(train), rate / 4)
    )
    assert report.prior.churner_weight < 0.5
    assert "weighted to the stated population rate" in report.prior.action
    assert "re-weighted" in report.prior.action
