"""Build the scorer artifact, save it locally and register it as ``clm-scorer@challenger``."""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import warnings
from importlib import metadata
from pathlib import Path

import mlflow
import polars as pl
from mlflow.models import ModelSignature, infer_signature

import clm
from clm import paths
from clm.domain.budget import BudgetRules
from clm.errors import InputError
from clm.features.build import FeatureConfig
from clm.registry import REGISTERED_MODELS, mark_challenger
from clm.scoring.artifact import (
    CHURN_ARTIFACT,
    CONFIG_ARTIFACT,
    REASON_ARTIFACT,
    STAGE_ARTIFACT,
    load_scorer,
)
from clm.scoring.inputs import TABLE, scoring_input, split_scorable
from clm.scoring.pyfunc import PARAMS, input_schema, predict_frame, write_scorer_config
from clm.scoring.score import Scorer
from clm.tracking import EXPERIMENT, data_version, git_commit, use_experiment

logger = logging.getLogger(__name__)

ARTIFACT_NAME = "scorer"
MODEL_CODE = Path(__file__).with_name("model_code.py")  # run by MLflow, never imported
EXAMPLE_SUBSCRIBERS = 20
EXAMPLE_CANDIDATES = 10 * EXAMPLE_SUBSCRIBERS  # the first subscribers checked for the example
# What the artifact imports; pinned to this environment's versions so a server rebuilds it.
REQUIREMENTS = ("mlflow", "numpy", "pandas", "pandera", "polars", "pyarrow", "pyyaml",
                "scikit-learn", "scipy", "xgboost")  # fmt: skip


def input_example(frame: pl.DataFrame, scorer: Scorer) -> pl.DataFrame:
    """A small whole-base example: the first subscribers of the latest month that ``scorer``
    accepts, with all their months (one it quarantines, in a region it never trained on or
    with a gap in its history, would make the example itself fail)."""
    month = frame["month"].max()
    candidates = _first_ids(frame.filter(pl.col("month") == month), EXAMPLE_CANDIDATES)
    rows = frame.filter(pl.col("subscriber_id").is_in(candidates.implode()))
    accepted, _ = split_scorable(rows, month, scorer.features.history_gaps, scorer.trained_levels)
    ids = _first_ids(accepted.filter(pl.col("month") == month), EXAMPLE_SUBSCRIBERS)
    if ids.is_empty():
        raise InputError(
            f"table '{TABLE}': none of the first {EXAMPLE_CANDIDATES} subscribers of {month} "
            "passes the scorer's checks, so there is no input example to export with"
        )
    return accepted.filter(pl.col("subscriber_id").is_in(ids.implode())).sort(
        "subscriber_id", "month"
    )


def _first_ids(frame: pl.DataFrame, count: int) -> pl.Series:
    return frame["subscriber_id"].unique().sort().head(count)


def export_scorer(
    churn_dir: Path,
    stage_dir: Path,
    reason_dir: Path,
    features: FeatureConfig,
    budget: BudgetRules,
    base: pl.DataFrame,
    out_dir: Path,
    tags: dict[str, str],
) -> tuple[str, str]:
    """Save the artifact to ``out_dir``, log it to MLflow, register it; return (run id, version).

    Args:
        churn_dir: The churn model folder (``TrainedModel.save``).
        stage_dir: The stage model folder.
        reason_dir: The reason model folder (``ReasonModel.save``).
        features: The ``features`` params the models were trained with.
        budget: The ``scoring.budget`` params.
        base: Scoring input of the base; its first subscribers the scorer accepts are the
            input example and give the signature's outputs.
        out_dir: Local copy of the artifact, replaced.
        tags: Provenance tags for the run and the registry version.
    """
    with tempfile.TemporaryDirectory() as temp:
        config_path = Path(temp) / "scorer.json"
        write_scorer_config(features, budget, config_path)
        scorer = load_scorer(churn_dir, stage_dir, config_path, reason_dir)
        example_pd = input_example(base, scorer).to_pandas()
        output = predict_frame(scorer, example_pd, {})
        with warnings.catch_warnings():
            # MLflow's hint that inferred integer inputs cannot hold nulls: the inferred inputs
            # are replaced by the contract's schema below, and outputs are never enforced
            warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer", UserWarning)
            inferred = infer_signature(example_pd, output, params=PARAMS)
        model_args = {
            "python_model": str(MODEL_CODE),
            "artifacts": {
                CHURN_ARTIFACT: str(churn_dir),
                STAGE_ARTIFACT: str(stage_dir),
                REASON_ARTIFACT: str(reason_dir),
                CONFIG_ARTIFACT: str(config_path),
            },
            "code_paths": [str(Path(clm.__file__).parent)],
            "signature": ModelSignature(input_schema(), inferred.outputs, inferred.params),
            "input_example": example_pd,
            "pip_requirements": [f"{name}=={metadata.version(name)}" for name in REQUIREMENTS],
        }
        shutil.rmtree(out_dir, ignore_errors=True)
        mlflow.pyfunc.save_model(path=out_dir, **model_args)
        with mlflow.start_run(run_name="export-scorer") as run:
            mlflow.set_tags(tags)
            mlflow.log_params({f"budget.{k}": v for k, v in budget.__dict__.items()})
            info = mlflow.pyfunc.log_model(
                name=ARTIFACT_NAME, registered_model_name=REGISTERED_MODELS["scorer"], **model_args
            )
    version = str(info.registered_model_version)
    mark_challenger(REGISTERED_MODELS["scorer"], version, tags)
    logger.info("scorer saved to %s and registered as version %s", out_dir, version)
    return run.info.run_id, version


def run_export(
    features: FeatureConfig,
    budget: BudgetRules,
    validated_dir: Path = paths.VALIDATED_DIR,
    model_dir: Path = paths.MODELS_DIR,
    out_dir: Path = paths.SCORER_DIR,
) -> str:
    """The export step: scorer from ``model_dir/{churn,stage,reasons}``; return the registry
    version.

    The input example is the first scorable subscribers of the latest month of
    ``validated_dir``.
    """
    frame = scoring_input(
        pl.scan_parquet(validated_dir / "subscribers.parquet"),
        pl.scan_parquet(validated_dir / "usage_monthly.parquet"),
    ).collect()
    tags = {"git_commit": git_commit(), "data_version": data_version("split")}
    for task in ("churn", "stage"):
        registration = model_dir / task / "registration.json"
        if registration.exists():
            tags[f"{task}_version"] = json.loads(registration.read_text())["version"]
    use_experiment(EXPERIMENT)
    _, version = export_scorer(
        model_dir / "churn",
        model_dir / "stage",
        model_dir / "reasons",
        features,
        budget,
        frame,
        out_dir,
        tags,
    )
    return version
