"""The batch scorer as an MLflow pyfunc: raw monthly rows in, one scored row per subscriber out.

Artifacts: the churn and stage models as saved by ``TrainedModel`` (XGBoost UBJ plus
``model.json``), and ``scorer.json`` with the feature and budget parameters they were exported
with. The taxonomy and measure table come with the ``clm`` package, which travels in the model
as code (``code_paths``); the class is defined as code too (``model_code.py``), so nothing is
pickled and ``mlflow.pyfunc.load_model`` works in a fresh process.

Input: the columns of ``clm.scoring.inputs.SCORING_INPUT``, one row per subscriber and month,
holding the scoring month and the months before it that the features read. Params:
``scoring_month`` (``YYYY-MM-01``; default the latest month of the input) and ``month_stats``
(JSON of ``MonthStats``; default computed from the input, which must then be the whole base)
and ``output_rows``: ``subscriber`` (default: one row per subscriber scored) or ``input`` (one
row per input row, as ``mlflow.pyfunc.spark_udf`` needs: a scored subscriber's scores on its
scoring-month row, nulls but the row's subscriber_id and month on every other row and on the
rows of subscribers that fail the checks; ``risk_decile`` null, as a part of the base cannot
rank it).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import polars as pl
from mlflow.types.schema import AnyType, ColSpec, Schema

from clm.domain.budget import BudgetRules
from clm.errors import InputError
from clm.features.build import FeatureConfig
from clm.scoring.artifact import (
    CHURN_ARTIFACT,
    CONFIG_ARTIFACT,
    REASON_ARTIFACT,
    STAGE_ARTIFACT,
    load_scorer,
)
from clm.scoring.inputs import SCORING_INPUT, check_history, failed_checks_summary, split_scorable
from clm.scoring.month import MonthStats
from clm.scoring.score import OUTPUT_SCHEMA, Scorer

logger = logging.getLogger(__name__)

PARAMS = {"scoring_month": "", "month_stats": "", "output_rows": "subscriber"}
OUTPUT_ROWS = ("subscriber", "input")


class InvalidInputError(InputError):
    """Rows the scorer cannot score; ``clm score`` quarantines them instead of failing."""


class ChurnScorerModel(mlflow.pyfunc.PythonModel):
    """Loads the two models and the rules; predicts with ``predict_frame``."""

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        artifacts = {name: Path(path) for name, path in context.artifacts.items()}
        self.scorer = load_scorer(
            artifacts[CHURN_ARTIFACT],
            artifacts[STAGE_ARTIFACT],
            artifacts[CONFIG_ARTIFACT],
            artifacts.get(REASON_ARTIFACT),
        )

    def predict(
        self,
        context: mlflow.pyfunc.PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        return predict_frame(self.scorer, model_input, params or {})


def write_scorer_config(features: FeatureConfig, budget: BudgetRules, path: Path) -> None:
    """The parameters the artifact scores with, fixed at export."""
    config = {"features": asdict(features), "budget": asdict(budget)}
    path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def predict_frame(
    scorer: Scorer, model_input: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """Score a pandas frame of scoring input rows (the pyfunc's ``predict``).

    Raises:
        InvalidInputError: some rows fail the input checks.
        HistoryError: a month the features read is missing (whole-base calls only).
    """
    frame = from_pandas(model_input)
    month_text = params.get("scoring_month") or ""
    month = date.fromisoformat(month_text) if month_text else frame["month"].max()
    per_input_row = _output_rows(params) == "input"
    accepted, quarantined = split_scorable(
        frame, month, scorer.features.history_gaps, scorer.trained_levels
    )
    if quarantined.height and not per_input_row:
        raise InvalidInputError(
            f"{quarantined.height} of {frame.height} input rows cannot be scored; "
            f"{failed_checks_summary(quarantined)}"
        )
    if params.get("month_stats"):
        stats = MonthStats.from_json(params["month_stats"])
    else:
        check_history(set(accepted["month"].unique()), month)
        stats = scorer.month_stats(accepted, month)
    if not per_input_row:
        return scorer.score(accepted, stats).to_pandas()
    scored = accepted.filter(pl.col("month") == month).height
    scores = scorer.score(accepted, stats) if scored else pl.DataFrame(schema=OUTPUT_SCHEMA)
    return on_input_rows(frame, scores).to_pandas()


def on_input_rows(frame: pl.DataFrame, scores: pl.DataFrame) -> pl.DataFrame:
    """``scores`` on the scoring-month rows of ``frame`` they belong to, nulls elsewhere."""
    keys = frame.select("subscriber_id", pl.col("month").alias("scoring_month"))
    on = ["subscriber_id", "scoring_month"]
    placed = keys.join(scores, on=on, how="left", maintain_order="left")
    scored = pl.col("churn_probability").is_not_null()
    values = [name for name in OUTPUT_SCHEMA if name not in (*on, "risk_decile")]
    return placed.with_columns(
        *(pl.when(scored).then(pl.col(name)).alias(name) for name in values),
        risk_decile=pl.lit(None, dtype=pl.Int8),
    ).select(list(OUTPUT_SCHEMA))


def _output_rows(params: dict[str, Any]) -> str:
    rows = params.get("output_rows") or "subscriber"
    if rows not in OUTPUT_ROWS:
        raise InvalidInputError(f"output_rows must be one of {OUTPUT_ROWS}, not {rows!r}")
    return rows


def input_schema() -> Schema:
    """The signature's input columns: what the contract accepts, as pandas carries it.

    pandas has no nullable integer of its own: an integer column arrives as int64, or as
    float64 when it holds a null, so MLflow's ``long`` and ``double`` each reject one of the
    two. Integer columns are therefore ``any``; ``from_pandas`` casts them back strictly and
    null or out-of-range rows are the quarantine checks' to judge, not MLflow's.
    """
    types = {pl.Int64(): AnyType(), pl.Float64(): "double", pl.String(): "string",
             pl.Date(): "datetime", pl.Boolean(): "boolean"}  # fmt: skip
    return Schema([ColSpec(types[dtype], name) for name, dtype in SCORING_INPUT.items()])


def from_pandas(model_input: pd.DataFrame) -> pl.DataFrame:
    """Scoring input rows with the contract's dtypes.

    pandas has no date or nullable-integer dtype of its own, so month columns arrive as
    datetimes and integer columns holding nulls as floats; both are cast back, strictly.
    """
    frame = pl.from_pandas(model_input)
    missing = [name for name in SCORING_INPUT if name not in frame.columns]
    if missing:
        raise InvalidInputError(f"input lacks column(s) {missing}")
    try:
        return frame.with_columns(
            pl.col(name).cast(dtype, strict=True) for name, dtype in SCORING_INPUT.items()
        )
    except pl.exceptions.InvalidOperationError as error:
        raise InvalidInputError(f"input does not fit the contract's dtypes: {error}") from error
