"""DVC stage `evaluate`: both models, the baselines and the oracle on the test month.

Writes reports/metrics.json (DVC metrics), reports/plots/ (DVC plots) and logs the same to
each model's MLflow run and registry version (params: labels.horizon_months).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import mlflow
import polars as pl
from mlflow import MlflowClient

from clm.config import load_section
from clm.data.oracle import oracle_churn_probability
from clm.io import write_text_atomic
from clm.labels import LabelConfig
from clm.models.evaluate import evaluate_churn, evaluate_stage, fit_logistic_baseline
from clm.models.plots import churn_figures, confusion_figure
from clm.models.splits import read_part
from clm.models.tasks import CHURN, RULE_STAGE
from clm.models.trained import TrainedModel
from clm.registry import REGISTERED_MODELS

MODEL_DIR = Path("models")
RAW_SUBSCRIBERS = Path("data/validated/subscribers.parquet")
TRUTH_SUBSCRIBERS = Path("data/truth/subscribers.parquet")
METRICS = Path("reports/metrics.json")
PLOTS = Path("reports/plots")


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    horizon = load_section(LabelConfig, "labels").horizon_months
    churn_model, stage_model = (TrainedModel.load(MODEL_DIR / t) for t in ("churn", "stage"))
    test = read_part("test", CHURN)
    oracle = None
    if TRUTH_SUBSCRIBERS.exists():
        oracle = oracle_churn_probability(
            test, pl.read_parquet(RAW_SUBSCRIBERS), pl.read_parquet(TRUTH_SUBSCRIBERS), horizon
        )
    baseline = fit_logistic_baseline(churn_model, read_part("train", CHURN))
    churn = evaluate_churn(churn_model, baseline, test, oracle)
    stage = evaluate_stage(stage_model, read_part("test", stage_model.task))

    registration = {
        task: json.loads((MODEL_DIR / task / "registration.json").read_text(encoding="utf-8"))
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
    write_text_atomic(json.dumps(document, indent=2) + "\n", METRICS)
    for curve, tables in churn.curves.items():
        for scorer, table in tables.items():
            table.write_csv(_ensure(PLOTS / curve / f"{scorer}.csv"))
    stage.predictions.write_csv(_ensure(PLOTS / "stage_confusion.csv"))

    figures = churn_figures(churn)
    _log_to_run(registration["churn"], "churn", churn.metrics["model"], document, figures)
    stage_figures = {f"stage_confusion_{s}.png": confusion_figure(stage, s) for s in stage.metrics}
    stage_model_f1 = {"macro_f1": stage.metrics["model"]["macro_f1"]}
    _log_to_run(registration["stage"], "stage", stage_model_f1, document, stage_figures)


def _calibration_note(registration: dict) -> dict:
    """Whether the churn model was Platt-scaled, and why (its validation ECE before)."""
    return {
        "platt_scaled_on_valid": float(registration["calibrated"]),
        "valid_ece_before": registration["valid_ece_raw"],
    }


def _log_to_run(registration: dict, task: str, metrics: dict, document: dict, figures) -> None:
    """Test metrics on the model's run and as tags on its registry version."""
    with mlflow.start_run(run_id=registration["run_id"]):
        mlflow.log_metrics({f"test_{k}": v for k, v in metrics.items()})
        mlflow.log_dict(document, "evaluation/metrics.json")
        for name, figure in figures.items():
            mlflow.log_figure(figure, f"evaluation/{name}")
    client = MlflowClient()
    for key, value in metrics.items():
        client.set_model_version_tag(
            REGISTERED_MODELS[task], registration["version"], f"test_{key}", f"{value:.6f}"
        )


def _ensure(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


if __name__ == "__main__":
    main()
