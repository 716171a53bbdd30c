"""DVC stage `evaluate` (and `clm evaluate`): both models, the baselines and the oracle on the
test month; metrics and plots for DVC, logged to each model's finished MLflow run."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from mlflow import MlflowClient

from clm import paths
from clm.config import load_section
from clm.data.io import write_text_atomic
from clm.labels import LabelConfig
from clm.models.evaluate import evaluate_churn, evaluate_stage, fit_logistic_baseline
from clm.models.plots import churn_figures, confusion_figure
from clm.models.splits import read_part, split_inputs
from clm.models.tasks import CHURN, RULE_STAGE
from clm.models.trained import TrainedModel
from clm.registry import REGISTERED_MODELS
from clm.synthetic.generate import GenerateConfig
from clm.synthetic.oracle import oracle_churn_probability
from clm.tracking import (
    log_to_finished_run,
)


def run_evaluate(params: Path = paths.PARAMS) -> dict:
    """Evaluate both models on the test month; write metrics and plots; log them to MLflow.

    Returns the metrics document (also written to reports/metrics.json).
    """
    horizon = load_section(LabelConfig, "labels", params).horizon_months
    churn_model, stage_model = (TrainedModel.load(paths.MODELS_DIR / t) for t in ("churn", "stage"))
    test = read_part("test", CHURN)
    oracle = None
    if paths.TRUTH_SUBSCRIBERS.exists():
        oracle = oracle_churn_probability(
            test,
            pl.read_parquet(paths.VALIDATED_SUBSCRIBERS),
            pl.read_parquet(paths.TRUTH_SUBSCRIBERS),
            horizon,
            shocks=load_section(GenerateConfig, "generate", params).shocks,
        )
    baseline = fit_logistic_baseline(churn_model, read_part("train", CHURN))
    churn = evaluate_churn(churn_model, baseline, test, oracle)
    stage_test = read_part("test", stage_model.task)
    stage = evaluate_stage(stage_model, stage_test)

    registration = {
        task: json.loads(
            (paths.MODELS_DIR / task / "registration.json").read_text(encoding="utf-8")
        )
        for task in ("churn", "stage")
    }
    churn_metrics = {**churn.metrics, "calibration": _calibration_note(registration["churn"])}
    if oracle is not None:
        gap = churn.metrics["oracle"]["roc_auc"] - churn.metrics["model"]["roc_auc"]
        churn_metrics["model_vs_oracle"] = {"roc_auc_gap": gap}
    stage_scalars = {name: {"macro_f1": m["macro_f1"]} for name, m in stage.metrics.items()}
    if stage_model.task.label_column == RULE_STAGE:  # no true stage: say so, fake nothing
        stage_scalars = {
            "trained_on": "stage_rule: this data has no true latent stage",
            "model_agreement_with_rule_table": stage_scalars["model"],
        }
    document = {
        "test_month": str(test["snapshot_month"].max()),
        "test_rows": test.height,
        "churn": churn_metrics,
        "stage": stage_scalars,
    }
    write_text_atomic(json.dumps(document, indent=2) + "\n", paths.METRICS)
    for curve, tables in churn.curves.items():
        for scorer, table in tables.items():
            table.write_csv(_ensure(paths.PLOTS_DIR / curve / f"{scorer}.csv"))
    stage.predictions.write_csv(_ensure(paths.PLOTS_DIR / "stage_confusion.csv"))

    figures = churn_figures(churn)
    _log_to_run(registration["churn"], "churn", churn.metrics["model"], document, figures, test)
    stage_figures = {f"stage_confusion_{s}.png": confusion_figure(stage, s) for s in stage.metrics}
    stage_model_f1 = {"macro_f1": stage.metrics["model"]["macro_f1"]}
    _log_to_run(registration["stage"], "stage", stage_model_f1, document, stage_figures, stage_test)
    return document


def _calibration_note(registration: dict) -> dict:
    """Whether the churn model was Platt-scaled, and why (its validation ECE before)."""
    return {
        "platt_scaled_on_valid": float(registration["calibrated"]),
        "valid_ece_before": registration["valid_ece_raw"],
    }


def _log_to_run(
    registration: dict, task: str, metrics: dict, document: dict, figures, test: pl.DataFrame
) -> None:
    """Test metrics, figures and dataset on the model's finished run; the metrics also as
    tags on its registry version."""
    run_id = registration["run_id"]
    test_metrics = {f"test_{k}": v for k, v in metrics.items()}
    log_to_finished_run(run_id, test_metrics, datasets=split_inputs({"test": test}))
    client = MlflowClient()
    client.log_dict(run_id, document, "evaluation/metrics.json")
    for name, figure in figures.items():
        client.log_figure(run_id, figure, f"evaluation/{name}")
    for key, value in metrics.items():
        client.set_model_version_tag(
            REGISTERED_MODELS[task], registration["version"], f"test_{key}", f"{value:.6f}"
        )


def _ensure(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path
