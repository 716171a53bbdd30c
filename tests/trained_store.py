"""The small split carried through the train step: a working folder laid out as ``dvc repro``
leaves it before ``evaluate``, with both models registered in its own MLflow store.

Built once per session (``trained_store``); a test that writes works on a copy
(``tests.mlflow_store.copy_store``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import mlflow

from clm import paths
from clm.models.train_stage import run_train
from clm.tracking import EXPERIMENT, use_experiment
from tests.mlflow_store import copy_store, working_in
from tests.params import write_params

# Tiny models: the tests check the steps' bookkeeping, not the models' quality.
TUNED = {"max_depth": 3, "learning_rate": 0.2}
MODEL = {"max_boost_rounds": 60, "early_stopping_rounds": 10}
TRAIN = {"calibration_max_ece": 1.0}  # raw scores, never Platt-scaled


def build_trained_store(small_split, empty_store: Path, root: Path) -> Path:
    """``root`` with params.yaml, the split and its report, tuning results, and the churn and
    stage models trained, saved and registered as challengers; returns ``root``."""
    copy_store(empty_store, root)
    shutil.copytree(small_split.split_dir, root / paths.SPLIT_DIR)
    (root / paths.REPORTS_DIR).mkdir()
    shutil.copy(small_split.root / "split.json", root / paths.SPLIT_REPORT)
    write_params(root / paths.PARAMS, model=MODEL, train=TRAIN)
    (root / paths.TUNING_DIR).mkdir(parents=True)
    with working_in(root):
        use_experiment(EXPERIMENT)
        for task in ("churn", "stage"):
            with mlflow.start_run(run_name=f"tune-{task}") as tuning_run:
                pass
            tuning = {"study_name": f"study-{task}", "best_params": TUNED,
                      "run_id": tuning_run.info.run_id}  # fmt: skip
            (paths.TUNING_DIR / f"{task}.json").write_text(json.dumps(tuning), encoding="utf-8")
            run_train(task, paths.PARAMS)
    return root
