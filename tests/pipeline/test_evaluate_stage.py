"""The evaluate step end to end on a copy of the trained store: metrics and plots for DVC, and
the test metrics on each model's finished run and registry version."""

from __future__ import annotations

import json
import shutil

import polars as pl
import pytest
from mlflow import MlflowClient
from tests.mlflow_store import copy_store, store_uri
from tests.trained_store import working_in

from clm import paths
from clm.models.evaluate_stage import run_evaluate
from clm.registry import REGISTERED_MODELS

pytestmark = pytest.mark.slow  # needs the trained store: two models trained once per session

SCORERS = {"model", "logistic_regression", "rule_table", "oracle"}


@pytest.fixture
def evaluated(trained_store, small_split, tmp_path):
    """run_evaluate's document, in a copy of the trained store with the synthetic truth."""
    copy_store(trained_store, tmp_path)
    for source, target in (
        (small_split.truth_dir / "subscribers.parquet", paths.TRUTH_SUBSCRIBERS),
        # synthetic raw tables pass validation whole
        (small_split.raw_dir / "subscribers.parquet", paths.VALIDATED_SUBSCRIBERS),
    ):
        (tmp_path / target).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, tmp_path / target)
    with working_in(tmp_path):
        yield run_evaluate(paths.PARAMS)


def registration(folder, task: str) -> dict:
    return json.loads((folder / paths.MODELS_DIR / task / "registration.json").read_text())


def test_metrics_compare_every_scorer_on_the_test_month(evaluated, tmp_path):
    test = pl.read_parquet(tmp_path / paths.TEST_PART)
    assert evaluated == json.loads((tmp_path / paths.METRICS).read_text(encoding="utf-8"))
    assert evaluated["test_month"] == str(test["snapshot_month"].max())
    assert evaluated["test_rows"] == test.height
    churn = evaluated["churn"]
    assert set(churn) == SCORERS | {"calibration", "model_vs_oracle"}
    assert churn["model_vs_oracle"]["roc_auc_gap"] == pytest.approx(
        churn["oracle"]["roc_auc"] - churn["model"]["roc_auc"]
    )
    assert churn["model"]["roc_auc"] > churn["rule_table"]["roc_auc"] > 0.5
    assert churn["calibration"] == {
        "platt_scaled_on_valid": 0.0,  # the trained store never calibrates
        "valid_ece_before": registration(tmp_path, "churn")["valid_ece_raw"],
    }
    assert set(evaluated["stage"]) == {"model", "rule_table"}
    assert 0 < evaluated["stage"]["model"]["macro_f1"] <= 1


def test_plots_have_one_table_per_curve_and_scorer(evaluated, tmp_path):
    written = {
        p.relative_to(tmp_path / paths.PLOTS_DIR).as_posix()
        for p in (tmp_path / paths.PLOTS_DIR).rglob("*.csv")
    }
    expected = {
        f"{curve}/{s}.csv" for curve in ("roc", "precision_recall", "gain") for s in SCORERS
    }
    expected |= {f"calibration/{s}.csv" for s in SCORERS - {"rule_table"}}  # a 0/1 rule: no curve
    assert written == expected | {"stage_confusion.csv"}
    confusion = pl.read_csv(tmp_path / paths.PLOTS_DIR / "stage_confusion.csv")
    assert confusion.columns == ["actual", "model", "rule_table"] and confusion.height > 0


def test_each_finished_run_and_version_gets_the_test_metrics(evaluated, trained_store, tmp_path):
    client = MlflowClient()
    churn = registration(tmp_path, "churn")
    run = client.get_run(churn["run_id"])
    before = MlflowClient(tracking_uri=store_uri(trained_store)).get_run(churn["run_id"])
    assert (run.info.status, run.info.end_time) == ("FINISHED", before.info.end_time)
    assert run.data.metrics["test_roc_auc"] == evaluated["churn"]["model"]["roc_auc"]
    assert {d.tags[0].value for d in run.inputs.dataset_inputs} == {
        "training",
        "validation",
        "test",
    }
    logged = {a.path for a in client.list_artifacts(churn["run_id"], "evaluation")}
    assert logged == {"evaluation/metrics.json"} | {
        f"evaluation/churn_{curve}.png"
        for curve in ("roc", "precision_recall", "gain", "calibration")
    }
    version = client.get_model_version(REGISTERED_MODELS["churn"], churn["version"])
    assert (
        version.tags["test_top_decile_lift"]
        == f"{evaluated['churn']['model']['top_decile_lift']:.6f}"
    )

    stage = registration(tmp_path, "stage")
    version = client.get_model_version(REGISTERED_MODELS["stage"], stage["version"])
    assert version.tags["test_macro_f1"] == f"{evaluated['stage']['model']['macro_f1']:.6f}"
    # the session's store, which other tests copy, is untouched
    assert "test_roc_auc" not in before.data.metrics
    assert not list(trained_store.rglob("evaluation"))
