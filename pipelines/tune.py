"""DVC stage `tune@<task>`: Optuna study for one model (params: model, tune).

Resumes the stored study (optuna/<task>.db) after an interruption; writes the best
parameters to models/tuning/<task>.json for the train stage, never to params.yaml.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict
from pathlib import Path

import mlflow
import optuna

from clm.config import load_section
from clm.features.metadata import load_feature_metadata
from clm.io import write_text_atomic
from clm.models.encoding import FeatureEncoder
from clm.models.splits import SPLIT_DIR, read_part
from clm.models.tasks import task_for
from clm.models.tune import ModelConfig, TuneConfig, tune
from clm.tracking import EXPERIMENT, file_digest

STUDY_DIR = Path("optuna")
OUT_DIR = Path("models/tuning")


def main(task_name: str) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the progress bar says enough
    task = task_for(task_name, read_part("train"))
    train, valid = read_part("train", task), read_part("valid", task)
    encoder = FeatureEncoder.fit(train, load_feature_metadata())
    STUDY_DIR.mkdir(exist_ok=True)
    mlflow.set_experiment(EXPERIMENT)
    result = tune(
        task,
        (encoder.transform(train), task.labels(train)),
        (encoder.transform(valid), task.labels(valid)),
        load_section(ModelConfig, "model"),
        load_section(TuneConfig, "tune"),
        storage=f"sqlite:///{STUDY_DIR / task.name}.db",
        data_digest=file_digest(SPLIT_DIR / "train.parquet", SPLIT_DIR / "valid.parquet"),
        show_progress=True,
    )
    write_text_atomic(json.dumps(asdict(result), indent=2) + "\n", OUT_DIR / f"{task.name}.json")


if __name__ == "__main__":
    main(sys.argv[1])
