"""The scorer artifact's files, and the ``Scorer`` loaded from them without importing MLflow.

MLflow's pyfunc loader (``clm.scoring.pyfunc``) and Spark's Python workers read the same files;
a worker imports only what scoring needs, which keeps its start-up to the scoring libraries.
"""

from __future__ import annotations

import json
from pathlib import Path

from clm.config import from_dict
from clm.domain.budget import BudgetRules
from clm.domain.taxonomy import load_taxonomy
from clm.explain.reason_model import ReasonModel
from clm.features.build import FeatureConfig
from clm.models.trained import TrainedModel
from clm.safe_yaml import read_yaml
from clm.scoring.score import Scorer

CHURN_ARTIFACT = "churn_model"
STAGE_ARTIFACT = "stage_model"
REASON_ARTIFACT = "reason_model"
CONFIG_ARTIFACT = "scorer_config"


def load_scorer(
    churn_dir: Path, stage_dir: Path, config_path: Path, reason_dir: Path | None = None
) -> Scorer:
    """The ``Scorer`` from the artifact's files (an artifact without a reason model ranks
    reasons by TreeSHAP alone)."""
    config = json.loads(config_path.read_text(encoding="utf-8"))
    return Scorer(
        churn=TrainedModel.load(churn_dir),
        stage=TrainedModel.load(stage_dir),
        features=from_dict(FeatureConfig, config["features"], where="scorer.json:features"),
        budget=from_dict(BudgetRules, config["budget"], where="scorer.json:budget"),
        taxonomy=load_taxonomy(),
        reasons=ReasonModel.load(reason_dir) if reason_dir else None,
    )


def scorer_in(folder: Path) -> Scorer:
    """The ``Scorer`` of a saved artifact folder, its files found through its ``MLmodel``."""
    flavor = read_yaml(folder / "MLmodel")["flavors"]["python_function"]
    paths = {name: folder / spec["path"] for name, spec in flavor["artifacts"].items()}
    return load_scorer(
        paths[CHURN_ARTIFACT],
        paths[STAGE_ARTIFACT],
        paths[CONFIG_ARTIFACT],
        paths.get(REASON_ARTIFACT),
    )
