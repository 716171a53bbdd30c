"""The ``train_reasons`` step: the reason model from past churners' recorded reasons.

Past churners are those who left by the test month, explained at their last month of
service (the month before their churn month), where their reason shows in usage. The test
month's churners, whose reasons the explain step checks, leave after it (the label's
horizon), so none of them is learned from: the check is out of time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from clm import paths
from clm.explain.attribution import survey_categories
from clm.explain.drivers import KEYS
from clm.explain.reason_model import ReasonModel, ReasonModelConfig, fit_reason_model
from clm.explain.reasons import feature_contributions, to_causes
from clm.models.trained import TrainedModel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReasonPaths:
    """Where the step reads and writes (the DVC stage's deps and outs)."""

    churn_model: Path = paths.MODELS_DIR / "churn"
    test: Path = paths.TEST_PART
    features: Path = paths.FEATURES
    churn_events: Path = paths.VALIDATED_CHURN_EVENTS
    model: Path = paths.REASON_MODEL_DIR


def past_churners(test: Path, churn_events: Path, features: Path) -> pl.DataFrame:
    """Feature rows of churners who left by the test month, at their last month of service,
    with the category of the reason they gave (``recorded_category``)."""
    test_month = pl.read_parquet(test, columns=["snapshot_month"])["snapshot_month"].max()
    events = (
        pl.read_parquet(churn_events, columns=["subscriber_id", "churn_month", "reason"])
        .filter(pl.col("reason").is_not_null() & (pl.col("churn_month") <= test_month))
        .select(
            "subscriber_id",
            snapshot_month=pl.col("churn_month").dt.offset_by("-1mo"),
            recorded_category=pl.col("reason").replace_strict(
                survey_categories(), return_dtype=pl.String
            ),
        )
    )
    return (
        pl.scan_parquet(features)
        .join(events.lazy(), on=list(KEYS), how="inner")
        .sort(KEYS)
        .collect()
    )


def run_train_reasons(config: ReasonModelConfig, paths: ReasonPaths = ReasonPaths()) -> ReasonModel:
    """Fit the reason model (TreeSHAP only where too few churners recorded a reason), save
    it and return it."""
    churn = TrainedModel.load(paths.churn_model)
    rows = past_churners(paths.test, paths.churn_events, paths.features)
    causes = to_causes(feature_contributions(churn, rows))
    model = fit_reason_model(
        churn, rows, causes, rows["recorded_category"], rows["snapshot_month"], config
    )
    model.save(paths.model)
    return model
