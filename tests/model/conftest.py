"""A small churn model trained once on the small split, for behavioural tests."""

from __future__ import annotations

from dataclasses import replace

import pytest

from clm.features.metadata import load_feature_metadata
from clm.models.tasks import CHURN
from clm.models.train import fit_final
from clm.models.trained import TrainedModel


@pytest.fixture(scope="session")
def small_churn_model(small_split, params) -> TrainedModel:
    """params.yaml's model settings (its monotone constraints included), fewer rounds."""
    model = replace(params.model, seed=1, max_boost_rounds=200, early_stopping_rounds=20)
    trained, _ = fit_final(
        CHURN,
        {"max_depth": 4, "learning_rate": 0.1},
        small_split.part("train"),
        small_split.part("valid"),
        load_feature_metadata(),
        model,
        replace(
            params.train, calibration_max_ece=1.0
        ),  # raw scores: calibration is not tested here
    )
    return trained
