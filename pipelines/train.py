"""DVC stage `train@<task>`: final model from the tuned parameters, logged and registered
as the task's `challenger` (params: model, train)."""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

import mlflow

from clm.config import load_section
from clm.features.metadata import load_feature_metadata
from clm.io import write_text_atomic
from clm.models.splits import read_part
from clm.models.tasks import task_for
from clm.models.train import TrainConfig, fit_final, log_and_register
from clm.models.tune import ModelConfig
from clm.tracking import EXPERIMENT, data_version, git_commit

TUNING_DIR = Path("models/tuning")
MODEL_DIR = Path("models")


def main(task_name: str) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    task = task_for(task_name, read_part("train"))
    tuning = json.loads((TUNING_DIR / f"{task.name}.json").read_text(encoding="utf-8"))
    train, valid = read_part("train", task), read_part("valid", task)
    metadata = load_feature_metadata()
    model = load_section(ModelConfig, "model")
    trained, report = fit_final(
        task, tuning["best_params"], train, valid, metadata, model,
        load_section(TrainConfig, "train"),
    )  # fmt: skip
    folder = MODEL_DIR / task.name
    trained.save(folder)
    mlflow.set_experiment(EXPERIMENT)
    provenance = {
        "git_commit": git_commit(),
        "data_version": data_version("split"),
        "study_name": tuning["study_name"],
        "device": model.device,
    }
    run_id, version = log_and_register(
        trained, report, tuning["best_params"], valid.head(200), metadata, provenance
    )
    registration = {"run_id": run_id, "version": version, **asdict(report)}
    write_text_atomic(json.dumps(registration, indent=2) + "\n", folder / "registration.json")


if __name__ == "__main__":
    main(sys.argv[1])
