"""Tiny hand-made customers and models for the explain tests: one feature per chosen cause.

Churn is driven by the dropped-call rate alone (cause network_coverage, category product
quality), so a correct explanation must put that cause first for the customers it drives.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import polars as pl

from clm.domain.stages import STAGES
from clm.features.metadata import load_feature_metadata
from clm.models.encoding import FeatureEncoder
from clm.models.tasks import CHURN, STAGE, Task, train_booster
from clm.models.trained import TrainedModel
from clm.synthetic.profile import REGIONS
from tests.params import repo_params

FEATURES = ("dropped_call_rate", "arrears", "vas_revenue", "network", "brand", "value_tier")
DRIVER_CAUSE = "network_coverage"
MONTH = date(2024, 9, 1)


def customers(n: int = 600, seed: int = 0) -> pl.DataFrame:
    """Feature rows with keys, labels and the segment columns the report groups by."""
    rng = np.random.default_rng(seed)
    dropped = rng.uniform(0, 0.2, n)
    churn = (dropped > 0.12) | (rng.uniform(size=n) < 0.03)
    stage = np.where(churn, "warning", rng.choice(["growth", "stable", "sunk"], n))
    return pl.DataFrame(
        {
            "subscriber_id": np.arange(1, n + 1),
            "snapshot_month": [MONTH] * n,
            "dropped_call_rate": dropped,
            "arrears": rng.exponential(5, n),
            "vas_revenue": rng.uniform(0, 20, n),
            "network": rng.choice(["C", "G"], n),
            "brand": rng.choice(["flagship", "youth", "budget"], n),
            "region": rng.choice(REGIONS, n),
            "value_tier": rng.choice(["high", "mid", "low"], n),
            "churn": churn.astype(np.int8),
            "stage_true": pl.Series(stage, dtype=pl.Enum(STAGES)),
        }
    )


def train(task: Task, frame: pl.DataFrame) -> TrainedModel:
    """A small XGBoost model on ``FEATURES`` through the project's own training function."""
    metadata = {name: load_feature_metadata()[name] for name in FEATURES}
    encoder = FeatureEncoder.fit(frame, metadata)
    data = (encoder.transform(frame), task.labels(frame))
    params = {"max_depth": 3, "learning_rate": 0.3}
    config = replace(repo_params().model, seed=0, max_boost_rounds=30, early_stopping_rounds=30)
    booster = train_booster(task, params, data, data, model=config)
    return TrainedModel(task, booster, encoder)


def churn_and_stage_models(frame: pl.DataFrame) -> tuple[TrainedModel, TrainedModel]:
    return train(CHURN, frame), train(STAGE, frame)
