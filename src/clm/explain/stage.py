"""The ``explain`` step with its default paths, shared by the DVC stage and ``clm explain``.

Explains the churn model on the test month: per-customer reasons to a parquet file, the
agreement checks to a metric file, and the driver report; the report and the metric file
also go to the churn model's MLflow run.

Each check is made against two references where the data has them: the synthetic truth
(``data/truth``) and the reason the operator recorded at the exit point
(``churn_events.reason``), which real data has too. And each is made twice on the same
churners: at the test month, up to three months before they leave (why *will* they leave),
and at their last month of service, the last month the monthly scorer explains them (why
*did* they leave, which the exit survey asks).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from clm import paths
from clm.data.io import write_together
from clm.explain.attribution import Checks, attribution_accuracy
from clm.explain.drivers import CATEGORY, KEYS, ExplainConfig, explain_customers, high_risk
from clm.explain.reason_model import ReasonModel, explain_reasons
from clm.explain.reasons import feature_contributions, to_causes
from clm.explain.report import ReportInputs, render_report
from clm.explain.scored_month import ScoredMonth, summarise_scored_month
from clm.models.tasks import RULE_STAGE
from clm.models.trained import TrainedModel
from clm.tracking import log_to_finished_run

logger = logging.getLogger(__name__)

NO_TRUTH = "no true churn reasons in this data (only synthetic data has them)"
NO_RECORDED = "no recorded exit reasons in churn_events.reason"


TRUE, RECORDED = "true", "recorded"


@dataclass(frozen=True)
class ExplainPaths:
    """Where the step reads and writes (the DVC stage's deps and outs)."""

    models: Path = paths.MODELS_DIR
    test: Path = paths.TEST_PART
    truth: Path = paths.TRUTH_SUBSCRIBERS
    stages: Path = paths.TRUTH_STAGES
    features: Path = paths.FEATURES
    churn_events: Path = paths.VALIDATED_CHURN_EVENTS
    scores: Path = paths.SCORES
    previous_scores: Path = paths.PREVIOUS_SCORES
    reasons: Path = paths.REASONS
    metrics: Path = paths.EXPLAIN_METRICS
    report: Path = paths.DRIVERS_REPORT


def run_explain(config: ExplainConfig, paths: ExplainPaths = ExplainPaths()) -> dict:
    """Explain the test month, write the three outputs and return the metric document."""
    churn = TrainedModel.load(paths.models / "churn")
    stage = TrainedModel.load(paths.models / "stage")
    reason_model = ReasonModel.load(paths.models / "reasons")
    test = pl.read_parquet(paths.test)
    month = str(test["snapshot_month"].max())
    explained = explain_customers(churn, stage, test, config.top_reasons, reason_model)
    churners = (
        test.select(*KEYS, "churn", stage="stage_true")
        .with_columns(explained["top_categories"])
        .filter(pl.col("churn") == 1)
        .drop("churn")
    )
    at_exit = _at_last_month_of_service(churn, reason_model, churners, paths)
    checks = {
        name: Checks(
            attribution_accuracy(_with_reason(churners, reasons)),
            attribution_accuracy(_with_reason(at_exit, reasons)),
        )
        for name, reasons in _references(paths).items()
        if not churners.is_empty()
    }
    for name, check in checks.items():
        logger.info(
            "top category matches the %s reason for %.1f%% of churners at the test month, "
            "%.1f%% at their last month of service (naive %.1f%%)",
            name,
            100 * check.at_test_month.accuracy,
            100 * check.at_exit.accuracy,
            100 * check.at_test_month.naive_accuracy,
        )
    scored = _scored_month(paths, config.high_risk_share)
    inputs = ReportInputs(month, explained, checks, stage.task.label_column == RULE_STAGE, scored)
    document = {
        **(
            {
                "scored_month": {
                    "month": scored.month,
                    "customers": scored.customers,
                    "high_risk_customers": scored.high_risk_customers,
                    "previous_month": scored.previous_month,
                }
            }
            if scored
            else {}
        ),
        "test_month": month,
        "customers": explained.height,
        "high_risk_customers": high_risk(explained, config.high_risk_share).height,
        **(
            {
                "attribution": checks[TRUE].at_test_month.summary(),
                "attribution_at_exit": checks[TRUE].at_exit.summary(),
            }
            if TRUE in checks
            else {"attribution_skipped": NO_TRUTH}
        ),
        **(
            {"recorded_reasons": checks[RECORDED].summary()}
            if RECORDED in checks
            else {"recorded_reasons_skipped": NO_RECORDED}
        ),
    }
    # one commit: a failed run never leaves new reasons beside an older report
    with write_together(paths.reasons, paths.report, paths.metrics) as staged:
        reasons_path, report_path, metrics_path = staged
        _reasons_table(explained, config.top_reasons).write_parquet(reasons_path)
        report_path.write_text(render_report(inputs, config), encoding="utf-8")
        metrics_path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return document


def log_to_run(document: dict, paths: ExplainPaths = ExplainPaths()) -> str:
    """Attach the report and metric file to the churn model's finished MLflow run, without
    reopening it; return its id."""
    registration = paths.models / "churn" / "registration.json"
    run_id = json.loads(registration.read_text(encoding="utf-8"))["run_id"]
    metrics = {}
    if "attribution" in document:
        figures = document["attribution"]
        metrics = {
            "explain_top_category_accuracy": figures["top_category_accuracy"],
            "explain_naive_accuracy": figures["naive_accuracy"],
            "explain_top_category_accuracy_at_exit": document["attribution_at_exit"][
                "top_category_accuracy"
            ],
        }
    for when, figures in document.get("recorded_reasons", {}).items():
        metrics[f"explain_recorded_agreement_{when}"] = figures["top_category_accuracy"]
        metrics[f"explain_recorded_naive_{when}"] = figures["naive_accuracy"]
    log_to_finished_run(run_id, metrics, [paths.report, paths.metrics], "explain")
    return run_id


def _scored_month(paths: ExplainPaths, high_risk_share: float) -> ScoredMonth | None:
    """The scorer's latest month and the month before, where the score step has run."""
    if not paths.scores.exists():
        logger.warning("no scores at %s: the report describes the test month only", paths.scores)
        return None
    previous = pl.read_parquet(paths.previous_scores) if paths.previous_scores.exists() else None
    return summarise_scored_month(pl.read_parquet(paths.scores), previous, high_risk_share)


def _references(paths: ExplainPaths) -> dict[str, pl.DataFrame]:
    """The reasons churners are checked against, each as ``subscriber_id``, ``reason``: the
    synthetic truth where it exists, the recorded exit reasons where any are given."""
    references = {}
    if paths.truth.exists():
        references[TRUE] = pl.read_parquet(paths.truth, columns=["subscriber_id", "true_reason"])
    recorded = pl.read_parquet(paths.churn_events, columns=["subscriber_id", "reason"])
    if recorded["reason"].is_not_null().any():
        references[RECORDED] = recorded
    return {
        name: frame.rename({frame.columns[1]: "reason"}).filter(pl.col("reason").is_not_null())
        for name, frame in references.items()
    }


def _with_reason(churners: pl.DataFrame, reasons: pl.DataFrame) -> pl.DataFrame:
    """Churners (keys, ``stage``, ``top_categories``) with their reference reason, where
    known."""
    return churners.join(reasons, on="subscriber_id", how="inner")


def _at_last_month_of_service(
    churn: TrainedModel, reason_model: ReasonModel, churners: pl.DataFrame, paths: ExplainPaths
) -> pl.DataFrame:
    """The test month's churners explained at the month before their churn month.

    Those feature rows come after the test month, but each reads only months up to its own
    snapshot month and no model was trained on them. ``stage`` is the true stage then, where
    the data knows it.
    """
    exits = pl.scan_parquet(paths.churn_events).select(
        "subscriber_id", snapshot_month=pl.col("churn_month").dt.offset_by("-1mo")
    )
    wanted = churners.lazy().select("subscriber_id").join(exits, on="subscriber_id").collect()
    rows = (
        pl.scan_parquet(paths.features)
        .join(wanted.lazy(), on=list(KEYS), how="semi")
        .sort(KEYS)
        .collect()
    )
    if rows.height < wanted.height:
        logger.warning(
            "%d of %d churners have no feature row in their last month of service (%s); the "
            "check at exit counts the others",
            wanted.height - rows.height,
            wanted.height,
            paths.features,
        )
    causes = to_causes(feature_contributions(churn, rows))
    top = explain_reasons(churn, rows, causes, 1, reason_model)["top_categories"]
    explained = rows.select(*KEYS).with_columns(top)
    if not paths.stages.exists():
        return explained
    stages = (
        pl.scan_parquet(paths.stages)
        .select("subscriber_id", snapshot_month="month", stage="stage")
        .join(wanted.lazy(), on=list(KEYS), how="semi")
        .collect()
    )
    return explained.join(stages, on=list(KEYS), how="left", maintain_order="left")


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
