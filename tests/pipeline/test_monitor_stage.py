"""The monitor step end to end on the small split: tiny models, every month after the test
month scored and compared, the JSON and HTML written together, the CLI's exit status."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import replace
from datetime import date

import polars as pl
import pytest
from tests.chromium import render
from tests.params import write_params
from typer.testing import CliRunner

from clm.cli import RETRAIN_EXIT, app
from clm.data.validate import run_validate
from clm.domain.taxonomy import load_taxonomy
from clm.explain.reason_model import ReasonModel
from clm.features.metadata import load_feature_metadata
from clm.models.tasks import TASKS
from clm.models.train import fit_final
from clm.monitoring.config import MonitorError
from clm.monitoring.report import render_report
from clm.monitoring.stage import MonitorPaths, run_monitor
from clm.synthetic.profile import REGIONS


@pytest.fixture(scope="module")
def monitor_files(small_split, params, tmp_path_factory) -> MonitorPaths:
    """Models, validated tables and quarantine of the small split, in one temp dir."""
    root = tmp_path_factory.mktemp("monitor")
    model = replace(params.model, seed=1, max_boost_rounds=60, early_stopping_rounds=10)
    for name, task in TASKS.items():
        trained, _ = fit_final(
            task,
            {"max_depth": 3, "learning_rate": 0.2},
            small_split.part("train"),
            small_split.part("valid"),
            load_feature_metadata(),
            model,
            replace(params.train, calibration_max_ece=1.0),
        )
        trained.save(root / "models" / name)
    # TreeSHAP shares alone: the reason model's own learning is tested in test_reason_model
    ReasonModel(None, tuple(load_taxonomy().categories), 0.0, {}).save(root / "models" / "reasons")
    run_validate(
        params.validate, small_split.raw_dir, root / "validated", root / "quarantine",
        root / "validation.json",
    )  # fmt: skip
    return MonitorPaths(
        models=root / "models",
        features=small_split.root / "features.parquet",
        reference=small_split.split_dir / "train.parquet",
        split_report=small_split.root / "split.json",
        validated=root / "validated",
        quarantine=root / "quarantine",
        metrics=root / "reports" / "monitoring.json",
        report=root / "reports" / "monitoring.html",
    )


@pytest.fixture(scope="module")
def monitored(monitor_files, params):
    return run_monitor(params.monitor, monitor_files)


def test_every_month_from_the_test_month_on_is_monitored(monitored, monitor_files, small_split):
    document = json.loads(monitor_files.metrics.read_text(encoding="utf-8"))
    features = pl.read_parquet(small_split.root / "features.parquet", columns=["snapshot_month"])
    test_month = small_split.part("test")["snapshot_month"][0]
    expected = sorted({m.isoformat() for m in features["snapshot_month"] if m >= test_month})
    assert [m["month"] for m in document["months"]] == expected
    assert document["baseline_month"] == test_month.isoformat()
    assert document["months"][0]["performance"]["roc_auc"] > 0.6  # the test month is labelled
    assert all(m["performance"] is None for m in document["months"][1:])  # windows still open
    shares = [row["share"] for row in document["months"][-1]["categories"]]
    assert sum(shares) == pytest.approx(1.0)
    regions = document["months"][-1]["regions"]
    assert regions and {row["region"] for row in regions} <= set(REGIONS)
    assert all(0 <= row["p_value"] <= 1 for row in regions)
    assert all(row["p_value"] is None for row in document["months"][0]["regions"])
    assert "模型监控报告" in monitor_files.report.read_text(encoding="utf-8")


def test_a_month_without_rows_is_refused_and_nothing_is_written(monitor_files, params, tmp_path):
    files = replace(monitor_files, metrics=tmp_path / "m.json", report=tmp_path / "m.html")
    with pytest.raises(MonitorError, match="no rows for month 2030-01-01"):
        run_monitor(params.monitor, files, month=date(2030, 1, 1))
    assert not files.metrics.exists() and not files.report.exists()


def test_a_feature_table_without_regions_is_refused(monitor_files, params, tmp_path):
    pl.read_parquet(monitor_files.features).drop("region").write_parquet(tmp_path / "f.parquet")
    files = replace(
        monitor_files,
        features=tmp_path / "f.parquet",
        metrics=tmp_path / "m.json",
        report=tmp_path / "m.html",
    )
    with pytest.raises(MonitorError, match=r"f\.parquet: no region column"):
        run_monitor(params.monitor, files)
    assert not files.metrics.exists() and not files.report.exists()


def test_a_region_the_champion_never_saw_is_left_out_named_and_retrained_for(
    monitor_files, params, tmp_path
):
    features = pl.read_parquet(monitor_files.features)
    latest = features["snapshot_month"].max()
    customers = features.filter(snapshot_month=latest)["subscriber_id"]
    newcomers = customers.head(5)  # more than monitor.alerts.unscored_share of the month
    moved = (pl.col("snapshot_month") == latest) & pl.col("subscriber_id").is_in(newcomers)
    features.with_columns(
        region=pl.when(moved).then(pl.lit("新疆")).otherwise("region")
    ).write_parquet(tmp_path / "f.parquet")
    files = replace(
        monitor_files,
        features=tmp_path / "f.parquet",
        metrics=tmp_path / "m.json",
        report=tmp_path / "m.html",
    )

    result = run_monitor(params.monitor, files)

    assert result.document["unscored"] == [
        {"month": latest.isoformat(), "rows": 5, "levels": {"region": ["新疆"]}}
    ]
    assert [(a.kind, a.subject, a.value) for a in result.retrain] == [
        ("unknown_levels", "region: 新疆", pytest.approx(5 / customers.len()))
    ]
    assert "region: 新疆" in files.report.read_text(encoding="utf-8")


def test_a_reference_without_a_model_feature_is_refused(monitor_files, params, tmp_path):
    reference = pl.read_parquet(monitor_files.reference).drop("complaints")
    reference.write_parquet(tmp_path / "train.parquet")
    files = replace(
        monitor_files, reference=tmp_path / "train.parquet", metrics=tmp_path / "m.json"
    )
    with pytest.raises(
        MonitorError, match=r"train.parquet: missing feature column\(s\) \['complaints'\]"
    ):
        run_monitor(params.monitor, files)
    assert not files.metrics.exists()


def _cli(monitor_files, tmp_path, monkeypatch, **alerts):
    """Run ``clm monitor`` in a temp dir laid out like the repository."""
    for name in ("data/features", "data/split", "data/validated", "data/quarantine", "models"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(monitor_files.models, tmp_path / "models")
    shutil.copytree(monitor_files.validated, tmp_path / "data/validated")
    shutil.copytree(monitor_files.quarantine, tmp_path / "data/quarantine")
    (tmp_path / "data/features").mkdir()
    shutil.copy(monitor_files.features, tmp_path / "data/features/features.parquet")
    shutil.copytree(monitor_files.reference.parent, tmp_path / "data/split")
    (tmp_path / "reports").mkdir()
    shutil.copy(monitor_files.split_report, tmp_path / "reports/split.json")
    from tests.params import repo_params

    thresholds = repo_params().monitor.alerts.__dict__ | alerts
    write_params(tmp_path / "params.yaml", monitor={"alerts": thresholds})
    monkeypatch.chdir(tmp_path)
    return CliRunner().invoke(app, ["monitor", "--no-log-to-mlflow"])


def test_the_cli_exits_0_without_an_alert_that_matters(monitor_files, tmp_path, monkeypatch):
    result = _cli(monitor_files, tmp_path, monkeypatch, driver_share_change=1.0)
    assert result.exit_code == 0, result.output
    assert "retrain:" not in result.output


def test_the_cli_names_a_driver_mix_shift_and_exits_3(monitor_files, tmp_path, monkeypatch):
    result = _cli(monitor_files, tmp_path, monkeypatch, driver_share_change=0.0)
    assert result.exit_code == RETRAIN_EXIT == 3, result.output
    assert "retrain: driver_mix_shift" in result.output


def test_report_renders_in_chromium_with_its_charts(monitored, monitor_files, tmp_path):
    shown = render(monitor_files.report, tmp_path / "profile")

    shown.assert_offline_and_clean()
    assert "模型监控报告" in shown.title and "Model monitoring report" in shown.title
    shown.assert_charts_drawn(3)
    assert any("流失原因结构" in s and "Driver mix" in s for s in shown.sections)
    assert any("实际效果" in s and "Realised performance" in s for s in shown.sections)
    assert any("按地区" in s and "By region" in s for s in shown.subsections)


def test_the_charts_draw_months_without_a_log_line(monitored, monitor_files, caplog):
    """Months plotted as text that reads as dates made matplotlib log a line per series (24 in
    a default run of ``clm monitor``)."""
    document = json.loads(monitor_files.metrics.read_text(encoding="utf-8"))

    with caplog.at_level(logging.INFO):
        render_report(document)

    assert [r.getMessage() for r in caplog.records if r.name.startswith("matplotlib")] == []


def test_the_run_is_logged_to_mlflow_with_its_series(monitored, monitor_files, tracking_store):
    from mlflow import MlflowClient

    from clm.monitoring.stage import log_to_mlflow

    run = MlflowClient().get_run(log_to_mlflow(monitored, monitor_files))
    assert run.data.tags["clm.stage"] == "monitor"
    assert run.data.tags["retrain_recommended"] == str(bool(monitored.retrain)).lower()
    history = MlflowClient().get_metric_history(run.info.run_id, "mean_churn_probability")
    assert len(history) == len(monitored.document["months"])
    assert "realised_roc_auc" in run.data.metrics
