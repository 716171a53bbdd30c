"""The model steps with their files: tune, train, evaluate.

Shared by the DVC stages (``pipelines/``) and the ``clm`` command line, so both read and
write the same files and nothing is implemented twice.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import polars as pl
from mlflow import MlflowClient
from mlflow.entities import DatasetInput

from clm import paths
from clm.config import load_section
from clm.data.io import write_text_atomic
from clm.data.operator import DataConfig
from clm.features.metadata import load_feature_metadata
from clm.labels import LabelConfig
from clm.models.encoding import FeatureEncoder
from clm.models.evaluate import evaluate_churn, evaluate_stage, fit_logistic_baseline
from clm.models.plots import churn_figures, confusion_figure
from clm.models.splits import read_part
from clm.models.tasks import CHURN, RULE_STAGE, ModelConfig, task_for
from clm.models.train import TrainConfig, fit_final, log_and_register
from clm.models.trained import TrainedModel
from clm.models.tune import TuneConfig, TuningResult, journal_storage, tune
from clm.registry import REGISTERED_MODELS
from clm.synthetic.generate import GenerateConfig
from clm.synthetic.oracle import oracle_churn_probability
from clm.tracking import (
    EXPERIMENT,
    data_version,
    dataset_input,
    file_digest,
    git_commit,
    log_to_finished_run,
    use_experiment,
)

DATASET_CONTEXTS = {"train": "training", "valid": "validation", "test": "test"}


def run_tune(task_name: str, params: Path = paths.PARAMS) -> TuningResult:
    """Run or resume the task's Optuna study; write its best parameters for training."""
    task = task_for(task_name, read_part("train"))
    train, valid = read_part("train", task), read_part("valid", task)
    encoder = FeatureEncoder.fit(train, load_feature_metadata())
    use_experiment(EXPERIMENT)
    result = tune(
        task,
        (encoder.transform(train), task.labels(train)),
        (encoder.transform(valid), task.labels(valid)),
        load_section(ModelConfig, "model", params),
        load_section(TuneConfig, "tune", params),
        storage=journal_storage(paths.STUDY_DIR / f"{task.name}.journal"),
        data_digest=file_digest(paths.TRAIN_PART, paths.VALID_PART),
        datasets=_split_inputs({"train": train, "valid": valid}),
        show_progress=True,
    )
    write_text_atomic(
        json.dumps(asdict(result), indent=2) + "\n", paths.TUNING_DIR / f"{task.name}.json"
    )
    return result


def run_train(task_name: str, params: Path = paths.PARAMS) -> dict:
    """Train the final model from the tuned parameters; save, log and register it.

    Returns the registration (run id, version, fit report), also written beside the model.
    """
    task = task_for(task_name, read_part("train"))
    tuning = json.loads((paths.TUNING_DIR / f"{task.name}.json").read_text(encoding="utf-8"))
    train, valid = read_part("train", task), read_part("valid", task)
    metadata = load_feature_metadata()
    model = load_section(ModelConfig, "model", params)
    trained, report = fit_final(
        task, tuning["best_params"], train, valid, metadata, model,
        load_section(TrainConfig, "train", params),
    )  # fmt: skip
    folder = paths.MODELS_DIR / task.name
    trained.save(folder)
    use_experiment(EXPERIMENT)
    provenance = {
        "git_commit": git_commit(),
        "data_version": data_version("split"),
        "study_name": tuning["study_name"],
        "tuning_run_id": tuning["run_id"],
        "device": model.device,
    }
    run_id, version = log_and_register(
        trained, report, tuning["best_params"], valid.head(200), metadata, provenance,
        run_params=_run_params(model, params),
        datasets=_split_inputs({"train": train, "valid": valid}),
    )  # fmt: skip
    registration = {"run_id": run_id, "version": version, **asdict(report)}
    write_text_atomic(json.dumps(registration, indent=2) + "\n", folder / "registration.json")
    return registration


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


def _split_inputs(parts: dict[str, pl.DataFrame]) -> list[DatasetInput]:
    """Split parts as MLflow dataset inputs, each with its file under data/split."""
    return [
        dataset_input(paths.SPLIT_DIR / f"{part}.parquet", frame, DATASET_CONTEXTS[part])
        for part, frame in parts.items()
    ]


def _run_params(model: ModelConfig, params: Path) -> dict:
    """What defines a model beyond its tuned parameters: the label horizon, the months of
    each split part, the seeds, and the boosting limits."""
    months = {
        part: figures["months"]
        for part, figures in json.loads(paths.SPLIT_REPORT.read_text(encoding="utf-8")).items()
    }
    data = load_section(DataConfig, "data", params)
    return {
        "horizon_months": load_section(LabelConfig, "labels", params).horizon_months,
        "train_months": f"{months['train'][0]}..{months['train'][-1]}",
        "n_train_months": len(months["train"]),
        "valid_month": months["valid"][0],
        "test_month": months["test"][0],
        "data_source": data.source,
        "data_seed": (
            load_section(GenerateConfig, "generate", params).seed
            if data.source == "synthetic"
            else "none: the operator's own data"
        ),
        "model_seed": model.seed,
        "max_boost_rounds": model.max_boost_rounds,
        "early_stopping_rounds": model.early_stopping_rounds,
    }


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
    log_to_finished_run(run_id, test_metrics, datasets=_split_inputs({"test": test}))
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
