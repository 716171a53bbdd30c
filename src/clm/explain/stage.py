"""The ``explain`` step with its default paths, shared by the DVC stage and ``clm explain``.

Explains the churn model on the test month: per-customer reasons to a parquet file, the
attribution check against the synthetic truth (when there is one) to a metric file, and the
driver report; the report and the metric file also go to the churn model's MLflow run.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import mlflow
import polars as pl

from clm.explain.attribution import attribution_accuracy
from clm.explain.drivers import CATEGORY, KEYS, ExplainConfig, explain_customers, high_risk
from clm.explain.report import ReportInputs, render_report
from clm.io import write_parquet_atomic, write_text_atomic
from clm.models.trained import TrainedModel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExplainPaths:
    """Where the step reads and writes (the DVC stage's deps and outs)."""

    models: Path = Path("models")
    test: Path = Path("data/split/test.parquet")
    truth: Path = Path("data/truth/subscribers.parquet")
    reasons: Path = Path("data/explain/reasons.parquet")
    metrics: Path = Path("reports/explain.json")
    report: Path = Path("reports/drivers.html")


def run_explain(config: ExplainConfig, paths: ExplainPaths = ExplainPaths()) -> dict:
    """Explain the test month, write the three outputs and return the metric document."""
    churn = TrainedModel.load(paths.models / "churn")
    stage = TrainedModel.load(paths.models / "stage")
    test = pl.read_parquet(paths.test)
    month = str(test["snapshot_month"].max())
    explained = explain_customers(churn, stage, test, config.top_reasons)
    attribution = None
    if paths.truth.exists():
        attribution = attribution_accuracy(_churners_with_reason(test, explained, paths.truth))
        logger.info(
            "top category matches the true reason for %.1f%% of churners (naive %.1f%%)",
            100 * attribution.accuracy,
            100 * attribution.naive_accuracy,
        )
    write_parquet_atomic(_reasons_table(explained, config.top_reasons), paths.reasons)
    html = render_report(ReportInputs(month, explained, attribution), config)
    write_text_atomic(html, paths.report)
    document = {
        "test_month": month,
        "customers": explained.height,
        "high_risk_customers": high_risk(explained, config.high_risk_share).height,
        **({"attribution": attribution.summary()} if attribution else {}),
    }
    write_text_atomic(json.dumps(document, indent=2) + "\n", paths.metrics)
    return document


def log_to_run(document: dict, paths: ExplainPaths = ExplainPaths()) -> str:
    """Attach the report and metric file to the churn model's MLflow run; return its id."""
    registration = paths.models / "churn" / "registration.json"
    run_id = json.loads(registration.read_text(encoding="utf-8"))["run_id"]
    with mlflow.start_run(run_id=run_id):
        mlflow.log_artifact(str(paths.report), "explain")
        mlflow.log_artifact(str(paths.metrics), "explain")
        if "attribution" in document:
            figures = document["attribution"]
            mlflow.log_metrics(
                {
                    "explain_top_category_accuracy": figures["top_category_accuracy"],
                    "explain_naive_accuracy": figures["naive_accuracy"],
                }
            )
    return run_id


def _churners_with_reason(test: pl.DataFrame, explained: pl.DataFrame, truth: Path) -> pl.DataFrame:
    """Churners of the month with their true reason, true stage and top category."""
    reasons = pl.read_parquet(truth, columns=["subscriber_id", "true_reason"])
    return (
        test.select(*KEYS, "churn", stage="stage_true")
        .with_columns(top_category=explained["top_category"])
        .filter(pl.col("churn") == 1)
        .join(reasons, on="subscriber_id", how="inner")
        .filter(pl.col("true_reason").is_not_null())
    )


def _reasons_table(explained: pl.DataFrame, k: int) -> pl.DataFrame:
    """The parquet output: keys, risk, stage, tier, top-k reasons and category contributions."""
    reasons = [
        f"reason_{i}_{part}"
        for i in range(1, k + 1)
        for part in ("cause", "category", "contribution")
    ]
    return explained.select(
        *KEYS,
        "churn_probability",
        "stage_predicted",
        "value_tier",
        *reasons,
        "top_category",
        pl.col(f"^{CATEGORY}.*$"),
    )
