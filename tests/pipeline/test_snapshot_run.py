"""``clm snapshot run`` end to end on a tiny CSV written here, with a temporary MLflow store
(its artifacts, and nothing else, land in the temp dir)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import polars as pl
import pytest
import yaml
from mlflow import MlflowClient
from tests.chromium import render
from tests.params import repo_params

from clm.data.contract import SURVEY_REASONS
from clm.models.trained import TrainedModel
from clm.models.tune import Range
from clm.snapshot.pipeline import SnapshotSettings, run_snapshot

pytestmark = pytest.mark.slow

ROWS = 400


def tiny_dataset(seed: int = 5, rows: int = ROWS) -> pl.DataFrame:
    """Customers whose churn rises with complaints and falls with tenure; ``status`` is the
    label itself (a leak the mapping must keep out)."""
    ROWS = rows
    rng = np.random.default_rng(seed)
    complaints = rng.integers(0, 2, ROWS)
    tenure = rng.integers(1, 60, ROWS)
    minutes = rng.gamma(2.0, 100.0, ROWS).round(1)
    plan = rng.choice(["basic", "plus <10 GB", "max [unlimited]"], ROWS)  # XGBoost refuses <, [, ]
    risk = -1.5 + 2.0 * complaints - 0.04 * tenure + 0.5 * (plan == "basic")
    churned = rng.random(ROWS) < 1 / (1 + np.exp(-risk))
    weights = 1 / np.arange(1, 41)  # 40 service areas, a few large and many rare
    area = rng.choice([f"A{i:02d}" for i in range(40)], ROWS, p=weights / weights.sum())
    return pl.DataFrame(
        {
            "Customer": [f"c{i:04d}" for i in range(ROWS)],
            "Months": tenure,
            "Day min": minutes,
            "Night min": (minutes / 3).round(1),
            "Complaints": complaints,
            "Plan": plan,
            "Area": area,
            "Status": np.where(churned, "gone", "active"),
            "Churned": np.where(churned, "Yes", "No"),
        }
    )


MAPPING = {
    "dataset": "tiny",
    "description": "a test fixture",
    "files": "tiny.csv",
    "id": "Customer",
    "label": {"column": "Churned", "positive": ["Yes"]},
    "split": {"test_share": 0.25, "valid_share": 0.25, "seed": 1},
    "features": {
        "tenure_months": "Months",
        "mou": {"sum": ["Day min", "Night min"]},
        "complaints": "Complaints",
    },
    "extra": {
        "plan": {
            "source": "Plan",
            "kind": "category",
            "cause": "service_offering",
            "description": "Tariff plan",
        },
        "area": {
            "source": "Area",
            "kind": "category",
            "cause": "market_separation",
            "description": "Service area",
            "min_count": 10,  # areas with fewer training customers share one column
        },
    },
    "excluded": {"Status": "the churn itself, recorded after the fact"},
}


def small_settings() -> SnapshotSettings:
    """params.yaml's sections, sized for a tiny dataset."""
    params = repo_params()
    return SnapshotSettings(
        snapshot=replace(params.snapshot, n_trials=2, data_roots=()),
        model=replace(
            params.model,
            seed=3,
            max_boost_rounds=60,
            early_stopping_rounds=10,
            monotone_constraints={"churn": {"complaints": 1}},  # the tiny dataset's column
        ),
        tune=replace(
            params.tune,
            n_trials=2,
            pruner_startup_trials=1,
            pruner_warmup_rounds=5,
            search_space={
                "max_depth": Range(2, 4, integer=True),
                "learning_rate": Range(0.05, 0.3, log=True),
            },
        ),
        train=replace(params.train, calibration_max_ece=0.05),
        explain=replace(params.explain, high_risk_share=0.2, top_causes=3),
    )


def tiny_files(folder: Path, mapping: dict = MAPPING) -> Path:
    """The tiny dataset and ``mapping`` written into ``folder``; the mapping file's path."""
    tiny_dataset().write_csv(folder / "tiny.csv")
    mapping_path = folder / "tiny.yaml"
    mapping_path.write_text(yaml.safe_dump(mapping), encoding="utf-8")
    return mapping_path


def test_snapshot_run_end_to_end(tracking_store, tmp_path):
    mapping_path = tiny_files(tmp_path)

    document = run_snapshot(mapping_path, small_settings(), tmp_path / "runs")

    out = tmp_path / "runs" / "tiny"
    on_disk = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert on_disk == document
    assert sum(document["rows"].values()) == ROWS
    scorers = {"model", "logistic_regression", "gradient_boosting", "hist_gradient_boosting"}
    assert set(document["churn"]) == scorers  # no rule table, no oracle on snapshot data
    assert document["churn"]["model"]["roc_auc"] > 0.7  # complaints and tenure carry signal
    assert document["stage"].startswith("skipped") and document["attribution"].startswith("skip")

    model = TrainedModel.load(out / "model")
    assert not any(c.startswith("Status") or c == "status" for c in model.encoder.columns)
    assert set(model.encoder.columns) >= {"complaints", "tenure_months", "mou", "plan=basic"}
    assert "plan=max %5Bunlimited%5D" in model.encoder.columns
    area_columns = [c for c in model.encoder.columns if c.startswith("area=")]
    (pooled,) = document["pooled_levels"]
    assert pooled["feature"] == "area" and pooled["levels_kept"] == len(area_columns) - 1
    assert "area=(other)" in area_columns and 0 < pooled["levels_kept"] < 40
    assert pooled["rows"]["train"] > 0 and pooled["levels_pooled"] > 0
    assert yaml.safe_load((out / "model" / "mapping.yaml").read_text()) == MAPPING

    reasons = pl.read_parquet(out / "reasons.parquet")
    assert reasons.height == document["rows"]["test"]
    causes = set(reasons["reason_1_cause"].drop_nulls())
    mapped_causes = {"dealer_speculation", "falling_satisfaction", "service_attitude"}
    extra_causes = {"service_offering", "market_separation"}
    assert causes <= mapped_causes | extra_causes  # only the mapped features' causes

    html = (out / "drivers.html").read_text(encoding="utf-8")
    assert "no lifecycle-stage model" in html and "no truth" in html
    assert document["recorded_reasons"].startswith("skipped: the mapping has no reason column")
    assert "Status" in html and "the churn itself" in html  # excluded columns are listed
    assert "Rare levels scored as one level" in html  # and the pooled feature
    shown = render(out / "drivers.html", tmp_path / "profile")
    shown.assert_offline_and_clean()
    shown.assert_charts_drawn(2)  # categories and causes
    assert any("Drivers by feature" in section for section in shown.sections)

    version = MlflowClient().get_model_version_by_alias("clm-snapshot-tiny", "challenger")
    assert str(version.version) == document["registered"]["version"]
    assert mlflow.get_run(version.run_id).data.metrics["test_roc_auc"] == pytest.approx(
        document["churn"]["model"]["roc_auc"]
    )


SURVEY_MAPPING = {
    "dataset": "synthetic-churners",
    "description": "the synthetic operator's last month per customer, with the recorded reason",
    "files": "last_month.csv",
    "id": "Customer",
    "label": {"column": "Churned", "positive": ["Yes"]},
    "split": {"test_share": 0.3, "valid_share": 0.25, "seed": 1},
    "features": {
        "tenure_months": "Tenure",
        "mou": "Minutes",
        "complaints": "Complaints",
        "hotline_calls": "Hotline",
        "dropped_call_rate": "Dropped",
        "call_forward_offnet_count": "Offnet forwards",
        "arrears": "Arrears",
        "vas_revenue": "VAS",
        "roaming_share": "Roaming share",
    },
    # the survey's own codes, and one label that names no reason
    "reason": {
        "column": "Exit reason",
        "values": {**{code: code for code in SURVEY_REASONS}, "Not asked": None},
    },
}


def synthetic_last_months(data) -> pl.DataFrame:
    """One row per subscriber: usage in their last month in the data, churned or not, and
    the reason the exit point recorded for churners (``Not asked`` for one in ten)."""
    usage = data.usage.sort("month").group_by("subscriber_id").last()
    events = data.tables.churn_events.select("subscriber_id", "reason")
    table = usage.join(data.tables.subscribers, on="subscriber_id").join(
        events, on="subscriber_id", how="left"
    )
    asked = pl.col("subscriber_id") % 10 != 0
    return table.select(
        Customer=pl.col("subscriber_id"),
        Tenure=(pl.col("month").dt.year() - pl.col("join_month").dt.year()) * 12
        + pl.col("month").dt.month()
        - pl.col("join_month").dt.month(),
        Minutes="mou",
        Complaints="complaints",
        Hotline="hotline_calls",
        Dropped="dropped_call_rate",
        **{"Offnet forwards": "call_forward_offnet_count"},
        Arrears="arrears",
        VAS="vas_revenue",
        **{
            "Roaming share": pl.when(pl.col("mou") > 0)
            .then((pl.col("roaming_minutes") / pl.col("mou")).clip(0, 1))
            .otherwise(0.0)
        },
        Churned=pl.when(pl.col("reason").is_not_null()).then(pl.lit("Yes")).otherwise(pl.lit("No")),
        **{"Exit reason": pl.when(asked).then("reason").otherwise(pl.lit("Not asked"))},
    ).with_columns(pl.col("Exit reason").fill_null(""))


def test_a_mapping_with_a_reason_column_reports_agreement(small_data, tmp_path, monkeypatch):
    """Churners' recorded reasons, made from the synthetic operator: the top categories
    agree with them beyond always guessing the most common category."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    synthetic_last_months(small_data).write_csv(tmp_path / "last_month.csv")
    mapping_path = tmp_path / "survey.yaml"
    mapping = {**SURVEY_MAPPING, "csv": {"null_values": [""]}}
    mapping_path.write_text(yaml.safe_dump(mapping), encoding="utf-8")
    settings = small_settings()
    settings = replace(settings, model=replace(settings.model, monotone_constraints={}))

    document = run_snapshot(mapping_path, settings, tmp_path / "runs")

    agreement = document["recorded_reasons"]
    churners_in_test = document["rows"]["test"] * document["churn_rate"]["test"]
    assert 0.8 * churners_in_test < agreement["churners"] < churners_in_test  # "Not asked" left out
    assert agreement["top_category_interval_95"][0] > agreement["naive_accuracy"]
    assert agreement["top3_category_accuracy"] > agreement["top_category_accuracy"]
    html = (tmp_path / "runs" / "synthetic-churners" / "drivers.html").read_text(encoding="utf-8")
    assert (
        "Against the recorded reasons" in html and "Skipped: the mapping has no reason" not in html
    )


def test_an_oversampled_training_file_is_corrected_to_the_stated_rate(tracking_store, tmp_path):
    """Churners oversampled to half the training file, the test file at the natural rate: with
    ``population.churn_rate`` every fit learns from rows weighted to it (a churner weighs
    less than a stayer, no log-odds shift) and the mean test probability lands near the
    natural rate; without it the run warns. Filter counts and a cause override reach the
    metrics and the report."""
    table = tiny_dataset(seed=8, rows=3000).with_row_index("row")
    test, rest = table.filter(pl.col("row") % 3 == 0), table.filter(pl.col("row") % 3 != 0)
    churners = rest.filter(pl.col("Churned") == "Yes")
    stayers = rest.filter(pl.col("Churned") == "No")
    copies = pl.concat([churners] * (stayers.height // churners.height))
    copies = copies.with_columns(
        Customer=pl.col("Customer") + "-" + pl.int_range(pl.len()).cast(pl.String)
    )
    pl.concat([stayers, churners, copies]).drop("row").write_csv(tmp_path / "train.csv")
    test.drop("row").write_csv(tmp_path / "test.csv")
    natural = float((table["Churned"] == "Yes").mean())
    mapping = {
        **MAPPING,
        "files": [{"path": "train.csv", "part": "train"}, {"path": "test.csv", "part": "test"}],
        "split": {"valid_share": 0.25, "seed": 1},
        "filter": [{"column": "Months", "below": 2, "reason": "joined last month"}],
        "features": {
            **MAPPING["features"],
            "complaints": {
                "source": "Complaints",
                "cause": "billing_errors",
                "cause_reason": "this operator's complaints are about bills",
            },
        },
    }
    documents = {}
    for stated in (True, False):
        path = tmp_path / f"{'stated' if stated else 'silent'}.yaml"
        body = {**mapping, "dataset": path.stem} | (
            {"population": {"churn_rate": natural}} if stated else {}
        )
        path.write_text(yaml.safe_dump(body), encoding="utf-8")
        documents[stated] = run_snapshot(path, small_settings(), tmp_path / "runs")

    prior = documents[True]["prior"]
    assert prior["train_rate"] > 0.4 and prior["population_rate"] == natural
    assert not prior["valid_at_natural_rate"] and prior["warning"] is None
    assert prior["churner_weight"] < 0.5 and "no log-odds correction" in prior["action"]
    assert documents[False]["prior"]["churner_weight"] == 1.0
    assert prior["test_mean_probability"] == pytest.approx(prior["test_rate"], rel=0.35)
    silent = documents[False]["prior"]
    assert silent["test_mean_probability"] > 1.5 * silent["test_rate"]
    assert "state the population's churn rate" in silent["warning"]
    brier = {stated: documents[stated]["churn"]["model"]["brier"] for stated in documents}
    assert brier[True] < brier[False]

    dropped = documents[True]["dropped_rows"]
    assert dropped[0]["rule"] == "Months < 2" and dropped[0]["rows"] > 0
    override = documents[True]["cause_overrides"]["complaints"]
    assert override == {
        "clm_cause": "service_attitude",
        "cause": "billing_errors",
        "reason": "this operator's complaints are about bills",
    }
    html = (tmp_path / "runs" / "stated" / "drivers.html").read_text(encoding="utf-8")
    assert "Months &lt; 2" in html and "this operator&#39;s complaints are about bills" in html
    assert "Churn rates and probabilities" in html
    silent_html = (tmp_path / "runs" / "silent" / "drivers.html").read_text(encoding="utf-8")
    assert "Warning:" in silent_html


def test_a_run_that_fails_before_its_end_leaves_the_last_runs_files(
    tracking_store, tmp_path, monkeypatch
):
    mapping_path = tiny_files(tmp_path)
    run_snapshot(mapping_path, small_settings(), tmp_path / "runs")
    out = tmp_path / "runs" / "tiny"
    results = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.suffix != ".journal"}

    # a second run, whose report would differ, fails at its last step (registering the model)
    changed = MAPPING | {"description": "a changed fixture"}
    mapping_path.write_text(yaml.safe_dump(changed), encoding="utf-8")

    def fail(*args, **kwargs):
        raise RuntimeError("the registry went away")

    monkeypatch.setattr("clm.snapshot.pipeline.log_and_register", fail)
    with pytest.raises(RuntimeError, match="registry went away"):
        run_snapshot(mapping_path, small_settings(), tmp_path / "runs")

    left = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.suffix != ".journal"}
    assert left == results  # no file of the failed run beside the last run's, nothing staged
    assert {"scores.parquet", "reasons.parquet", "drivers.html", "metrics.json"} <= {
        path.name for path in results
    }
