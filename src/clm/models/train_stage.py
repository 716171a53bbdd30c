"""DVC stage `train` (and `clm train`): the final model from the tuned parameters, saved,
logged to MLflow with its params and datasets, and registered as challenger."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from clm import paths
from clm.config import load_section
from clm.data.operator import DataConfig
from clm.features.metadata import load_feature_metadata
from clm.labels import LabelConfig
from clm.models.splits import read_part, split_inputs
from clm.models.tasks import ModelConfig, TrainConfig, task_for
from clm.models.train import booster_logger, fit_final, log_and_register
from clm.synthetic.generate import GenerateConfig
from clm.tracking import (
    EXPERIMENT,
    data_version,
    git_commit,
    use_experiment,
)


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
    use_experiment(EXPERIMENT)
    provenance = {
        "git_commit": git_commit(),
        "data_version": data_version("split"),
        "study_name": tuning["study_name"],
        "tuning_run_id": tuning["run_id"],
        "device": model.device,
    }
    run_id, version = log_and_register(
        trained, report, tuning["best_params"], booster_logger(trained, valid.head(200)),
        metadata, provenance,
        run_params=_run_params(model, params),
        datasets=split_inputs({"train": train, "valid": valid}),
    )  # fmt: skip
    registration = {"run_id": run_id, "version": version, **asdict(report)}
    # the model and the registration naming its version in one commit: never one run's model
    # beside another's registration
    folder = paths.MODELS_DIR / task.name
    with trained.saved_with(folder, folder / "registration.json") as (registration_path,):
        registration_path.write_text(json.dumps(registration, indent=2) + "\n", encoding="utf-8")
    return registration


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
