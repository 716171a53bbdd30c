"""The ``monitor`` step with its default paths, shared by the DVC stage and ``clm monitor``.

Reads the champion's models and its training reference (the split's train part), scores every
feature-table month from the test month (the baseline) on (the regional driver mix reads the
table's ``region``), and writes the JSON document and the bilingual report together: a failed
run leaves the previous pair as it was.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from clm import paths
from clm.data.contract import RAW_TABLES
from clm.data.io import write_together
from clm.explain.reason_model import ReasonModel
from clm.models.encoding import known_levels
from clm.models.trained import TrainedModel
from clm.monitoring.config import MonitorConfig, MonitorError, check_config
from clm.monitoring.monitor import Monitoring, monitor
from clm.monitoring.quality import quarantined_shares
from clm.monitoring.report import render_report
from clm.monitoring.scoring import (
    model_features,
    require_features,
    score_frame,
    split_unscorable,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MonitorPaths:
    """Where the step reads and writes (the DVC stage's deps and outs)."""

    models: Path = paths.MODELS_DIR
    features: Path = paths.FEATURES
    reference: Path = paths.TRAIN_PART
    split_report: Path = paths.SPLIT_REPORT
    validated: Path = paths.VALIDATED_DIR
    quarantine: Path = paths.QUARANTINE_DIR
    metrics: Path = paths.MONITORING_METRICS
    report: Path = paths.MONITORING_REPORT


def run_monitor(
    config: MonitorConfig, files: MonitorPaths = MonitorPaths(), month: date | None = None
) -> Monitoring:
    """Monitor every month from the test month up to ``month`` (default the latest)."""
    check_config(config)
    churn, stage = (_load_model(files.models / task) for task in ("churn", "stage"))
    baseline = _test_month(files.split_report)
    reference = _read(files.reference, "split")
    require_features(reference, churn, str(files.reference))
    months = _months(files.features, baseline, month)
    require_features(months, churn, str(files.features))
    months, unscored = split_unscorable(months, known_levels(churn.encoder, stage.encoder))
    reference = reference.hstack(
        score_frame(churn, stage, reference, config.chunk_rows, reasons=False).select(
            "churn_probability", "stage"
        )
    )
    reason_model = ReasonModel.load(files.models / "reasons")
    scored = score_frame(churn, stage, months, config.chunk_rows, reason_model=reason_model)
    months = months.drop("value_tier", "churn").hstack(
        scored.drop("subscriber_id", "snapshot_month")
    )
    quality = quarantined_shares(
        {t: pl.scan_parquet(files.validated / f"{t}.parquet") for t in RAW_TABLES},
        {t: pl.scan_parquet(files.quarantine / f"{t}.parquet") for t in RAW_TABLES},
    )
    result = monitor(reference, months, quality, unscored, model_features(churn), config)
    result.document["model"] = _registration(files.models / "churn")
    with write_together(files.metrics, files.report) as (metrics, report):
        metrics.write_text(json.dumps(result.document, indent=2) + "\n", encoding="utf-8")
        report.write_text(render_report(result.document), encoding="utf-8")
    logger.info(
        "monitored %s..%s: %d alerts", baseline, result.document["latest_month"], len(result.alerts)
    )
    return result


def _load_model(folder: Path) -> TrainedModel:
    if not folder.is_dir():
        raise MonitorError(f"{folder}: no trained model; run dvc repro train first")
    return TrainedModel.load(folder)


def _read(path: Path, stage: str) -> pl.DataFrame:
    if not path.is_file():
        raise MonitorError(f"{path}: not found; run dvc repro {stage} first")
    return pl.read_parquet(path)


def _test_month(split_report: Path) -> date:
    """The test month the champion was judged on: the monitor's baseline."""
    if not split_report.is_file():
        raise MonitorError(f"{split_report}: not found; run dvc repro split first")
    report = json.loads(split_report.read_text(encoding="utf-8"))
    return date.fromisoformat(report["test"]["months"][0])


def _months(features: Path, baseline: date, last: date | None) -> pl.DataFrame:
    """The feature rows of the baseline month and every later month up to ``last``."""
    if not features.is_file():
        raise MonitorError(f"{features}: not found; run dvc repro features first")
    table = pl.scan_parquet(features)
    if "region" not in table.collect_schema():
        raise MonitorError(f"{features}: no region column (an older feature table); rerun features")
    available = set(table.select(pl.col("snapshot_month").unique()).collect()["snapshot_month"])
    if last is not None and last not in available:
        raise MonitorError(f"{features}: no rows for month {last}; nothing to monitor")
    if last is not None and last <= baseline:
        raise MonitorError(
            f"month {last} is not after the test month {baseline}, the monitor's baseline"
        )
    upper = last or max(available)
    months = table.filter(pl.col("snapshot_month").is_between(baseline, upper)).collect()
    return months.sort("snapshot_month", "subscriber_id")


def _registration(model_dir: Path) -> dict:
    """The churn model's MLflow run and registry version, when it was registered."""
    path = model_dir / "registration.json"
    if not path.is_file():
        return {"run_id": None, "version": None}
    registration = json.loads(path.read_text(encoding="utf-8"))
    return {"run_id": registration["run_id"], "version": registration["version"]}


def log_to_mlflow(result: Monitoring, files: MonitorPaths = MonitorPaths()) -> str:
    """Log the month series, the alerts and the report to an MLflow run tagged with the
    champion's run and version, and tag that registry version with the verdict; return the
    run's id."""
    import mlflow
    from mlflow import MlflowClient

    from clm.registry import REGISTERED_MODELS
    from clm.tracking import EXPERIMENT, use_experiment

    document = result.document
    model = document["model"]
    use_experiment(EXPERIMENT)
    with mlflow.start_run(run_name=f"monitor {document['latest_month']}") as run:
        mlflow.set_tags(
            {
                "clm.stage": "monitor",
                "clm.model_run_id": str(model["run_id"]),
                "clm.model_version": str(model["version"]),
                "retrain_recommended": str(bool(result.retrain)).lower(),
            }
        )
        for step, month in enumerate(document["months"]):
            figures = {
                "mean_churn_probability": month["mean_churn_probability"],
                "score_psi_reference": month["psi_reference"]["churn_probability"],
                "feature_psi_reference_max": month["feature_psi_reference_max"],
            }
            if month["performance"]:
                figures |= {
                    f"realised_{name}": month["performance"][name]
                    for name in ("roc_auc", "top_decile_lift", "ece")
                }
            mlflow.log_metrics(figures, step=step)
        mlflow.log_metrics({"alerts": len(result.alerts), "retrain_alerts": len(result.retrain)})
        mlflow.log_artifact(str(files.metrics))
        mlflow.log_artifact(str(files.report))
    if model["version"] is not None:
        client = MlflowClient()
        name, version = REGISTERED_MODELS["churn"], str(model["version"])
        client.set_model_version_tag(
            name, version, "monitor_latest_month", document["latest_month"]
        )
        client.set_model_version_tag(
            name, version, "monitor_retrain_recommended", str(bool(result.retrain)).lower()
        )
    return run.info.run_id
