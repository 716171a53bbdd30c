"""The evaluate step end to end on a copy of the trained store: metrics and plots for DVC, and
the test metrics on each model's finished run and registry version."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from mlflow import MlflowClient
from tests.mlflow_store import copy_store, store_uri, working_in

from clm import paths
from clm.models.evaluate_stage import run_evaluate
from clm.registry import REGISTERED_MODELS

pytestmark = pytest.mark.slow  # needs the trained store: two models trained once per session

SCORERS = {"model", "logistic_regression", "rule_table", "oracle"}


@pytest.fixture(scope="module")
def evaluated(trained_store, small_split, tmp_path_factory):
    """The evaluate step run once in a copy of the trained store, with the synthetic truth;
    yields the folder and the returned document (the tests only read)."""
    folder = tmp_path_factory.mktemp("evaluated")
    copy_store(trained_store, folder)
    for source, target in (
        (small_split.truth_dir / "subscribers.parquet", paths.TRUTH_SUBSCRIBERS),
        # synthetic raw tables pass validation whole
        (small_split.raw_dir / "subscribers.parquet", paths.VALIDATED_SUBSCRIBERS),
    ):
        (folder / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, folder / target)
    with working_in(folder):
        yield folder, run_evaluate(paths.PARAMS)


def registration(folder: Path, task: str) -> dict:
    return json.loads((folder / paths.MODELS_DIR / task / "registration.json").read_text())


def test_metrics_compare_every_scorer_on_the_test_month(evaluated):
    folder, document = evaluated
    test = pl.read_parquet(folder / paths.TEST_PART)
    assert document == json.loads((folder / paths.METRICS).read_text(encoding="utf-8"))
    assert document["test_month"] == str(test["snapshot_month"].max())
    assert document["test_rows"] == test.height
    churn = document["churn"]
    assert set(churn) == SCORERS | {"calibration", "model_vs_oracle"}
    assert churn["model_vs_oracle"]["roc_auc_gap"] == pytest.approx(
        churn["oracle"]["roc_auc"] - churn["model"]["roc_auc"]
    )
    assert churn["model"]["roc_auc"] > churn["rule_table"]["roc_auc"] > 0.5
    assert churn["calibration"] == {
        "platt_scaled_on_valid": 0.0,  # the trained store never calibrates
        "valid_ece_before": registration(folder, "churn")["valid_ece_raw"],
    }
    assert set(document["stage"]) == {"model", "rule_table"}
    assert 0 < document["stage"]["model"]["macro_f1"] <= 1


def test_plots_have_one_table_per_curve_and_scorer(evaluated):
    plots = evaluated[0] / paths.PLOTS_DIR
    written = {path.relative_to(plots).as_posix() for path in plots.rglob("*.csv")}
    curves = ("roc", "precision_recall", "gain")
    expected = {f"{curve}/{scorer}.csv" for curve in curves for scorer in SCORERS}
    expected |= {f"calibration/{s}.csv" for s in SCORERS - {"rule_table"}}  # 0/1: no curve
    assert written == expected | {"stage_confusion.csv"}
    confusion = pl.read_csv(plots / "stage_confusion.csv")
    assert confusion.columns == ["actual", "model", "rule_table"] and confusion.height > 0


def test_each_finished_run_and_version_gets_the_test_metrics(evaluated, trained_store):
    folder, document = evaluated
    client = MlflowClient()
    churn = registration(folder, "churn")
    run = client.get_run(churn["run_id"])
    before = MlflowClient(tracking_uri=store_uri(trained_store)).get_run(churn["run_id"])
    assert (run.info.status, run.info.end_time) == ("FINISHED", before.info.end_time)
    assert run.data.metrics["test_roc_auc"] == document["churn"]["model"]["roc_auc"]
    contexts = {dataset.tags[0].value for dataset in run.inputs.dataset_inputs}
    assert contexts == {"training", "validation", "test"}
    figures = ("roc", "precision_recall", "gain", "calibration")
    assert {a.path for a in client.list_artifacts(churn["run_id"], "evaluation")} == {
        "evaluation/metrics.json",
        *(f"evaluation/churn_{curve}.png" for curve in figures),
    }
    version = client.get_model_version(REGISTERED_MODELS["churn"], churn["version"])
    lift = document["churn"]["model"]["top_decile_lift"]
    assert version.tags["test_top_decile_lift"] == f"{lift:.6f}"

    stage = registration(folder, "stage")
    version = client.get_model_version(REGISTERED_MODELS["stage"], stage["version"])
    assert version.tags["test_macro_f1"] == f"{document['stage']['model']['macro_f1']:.6f}"
    # the session's store, which other tests copy, is untouched
    assert "test_roc_auc" not in before.data.metrics
    assert not list(trained_store.rglob("evaluation"))
