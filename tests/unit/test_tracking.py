"""MLflow bookkeeping: the commit's dirty flag, the experiment kind, and logging to a
finished run."""

from __future__ import annotations

import json
import logging
import subprocess
from datetime import date
from pathlib import Path

import mlflow
import polars as pl
from mlflow import MlflowClient

from clm.explain.stage import ExplainPaths, log_to_run
from clm.tracking import (
    CLASSIC_ML,
    EXPERIMENT_KIND_TAG,
    dataset_input,
    git_commit,
    use_experiment,
)

DVC_YAML = """\
stages:
  evaluate:
    cmd: python evaluate.py
    metrics:
      - reports/metrics.json:
          cache: false
  train:
    foreach: [churn, stage]
    do:
      cmd: python train.py ${item}
      outs:
        - reports/${item}.json
"""


def _git(*args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], check=True, capture_output=True
    )


def test_the_commit_is_clean_when_only_the_pipeline_wrote_its_outputs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = {
        "dvc.yaml": DVC_YAML,
        "dvc.lock": "v1\n",
        "reports/metrics.json": "{}\n",
        "reports/churn.json": "{}\n",
        "src.py": "x = 1\n",
    }
    for name, text in files.items():
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_text(text)
    _git("init", "-q")
    _git("add", "-A")
    _git("commit", "-q", "-m", "c")
    for written_by_dvc_repro in ("dvc.lock", "reports/metrics.json", "reports/churn.json"):
        Path(written_by_dvc_repro).write_text("new\n")
    Path("untracked.txt").write_text("scratch\n")
    assert not git_commit().endswith("-dirty")

    Path("src.py").write_text("x = 2\n")
    assert git_commit().endswith("-dirty")


def test_the_experiment_is_marked_classic_ml(tracking_store):
    use_experiment("clm")
    use_experiment("clm")  # idempotent
    assert mlflow.get_experiment_by_name("clm").tags[EXPERIMENT_KIND_TAG] == CLASSIC_ML


def test_explain_logs_to_the_training_run_without_reopening_it(tracking_store, tmp_path):
    client = MlflowClient()
    with mlflow.start_run() as run:
        pass
    client.set_terminated(run.info.run_id, end_time=1_000)  # trained long ago
    paths = ExplainPaths(
        models=tmp_path / "models",
        report=tmp_path / "drivers.html",
        metrics=tmp_path / "explain.json",
    )
    (paths.models / "churn").mkdir(parents=True)
    (paths.models / "churn" / "registration.json").write_text(
        json.dumps({"run_id": run.info.run_id})
    )
    paths.report.write_text("<html></html>")
    document = {
        "attribution": {"top_category_accuracy": 0.6, "naive_accuracy": 0.3},
        "attribution_at_exit": {"top_category_accuracy": 0.7},
        "recorded_reasons": {
            "at_test_month": {"top_category_accuracy": 0.5, "naive_accuracy": 0.3},
            "at_exit": {"top_category_accuracy": 0.75, "naive_accuracy": 0.3},
        },
    }
    paths.metrics.write_text(json.dumps(document))

    log_to_run(document, paths)

    logged = client.get_run(run.info.run_id)
    assert (logged.info.status, logged.info.end_time) == ("FINISHED", 1_000)
    assert logged.data.metrics["explain_top_category_accuracy_at_exit"] == 0.7
    assert logged.data.metrics["explain_recorded_agreement_at_exit"] == 0.75
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "explain")}
    assert artifacts == {"explain/drivers.html", "explain/explain.json"}


def test_a_dataset_with_enums_and_dates_is_logged_without_schema_warnings(tmp_path, caplog):
    frame = pl.DataFrame(
        {"network": ["C", "G"], "snapshot_month": [date(2024, 1, 1), date(2024, 2, 1)]}
    ).with_columns(pl.col("network").cast(pl.Enum(["C", "G"])))
    path = tmp_path / "train.parquet"
    frame.write_parquet(path)

    with caplog.at_level(logging.WARNING):
        logged = dataset_input(path, frame, "training")

    assert caplog.records == []
    schema = json.loads(logged.dataset.schema)["mlflow_colspec"]
    assert [(c["name"], c["type"]) for c in schema] == [
        ("network", "string"),
        ("snapshot_month", "datetime"),
    ]
