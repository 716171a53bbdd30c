"""DVC stage `tune` (and `clm tune`): run or resume a task's Optuna study on the split
parts and write its best parameters for training."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from clm import paths
from clm.config import load_section
from clm.data.io import write_text_atomic
from clm.features.metadata import load_feature_metadata
from clm.models.splits import read_part, split_inputs
from clm.models.tasks import CHURN, ModelConfig, TrainConfig, task_for
from clm.models.tune import TuneConfig, TuningResult, journal_storage, tune_parts
from clm.tracking import (
    EXPERIMENT,
    file_digest,
    use_experiment,
)


def run_tune(task_name: str, params: Path = paths.PARAMS) -> TuningResult:
    """Run or resume the task's Optuna study; write its best parameters for training.

    The churn study learns and judges weighted to ``train.population_churn_rate`` when one is
    stated, as the final fit will (``clm.models.prior``).
    """
    task = task_for(task_name, read_part("train"))
    stated = load_section(TrainConfig, "train", params).population_churn_rate
    train, valid = read_part("train", task), read_part("valid", task)
    use_experiment(EXPERIMENT)
    result = tune_parts(
        task,
        train,
        valid,
        load_feature_metadata(),
        load_section(ModelConfig, "model", params),
        load_section(TuneConfig, "tune", params),
        storage=journal_storage(paths.STUDY_DIR / f"{task.name}.journal"),
        data_digest=file_digest(paths.TRAIN_PART, paths.VALID_PART),
        datasets=split_inputs({"train": train, "valid": valid}),
        show_progress=True,
        population_rate=stated if task is CHURN else None,
    )
    write_text_atomic(
        json.dumps(asdict(result), indent=2) + "\n", paths.TUNING_DIR / f"{task.name}.json"
    )
    return result
