"""A small churn model trained once on the small split, for behavioural tests."""

from __future__ import annotations

import pytest

from clm.features.metadata import load_feature_metadata
from clm.models.tasks import CHURN, ModelConfig
from clm.models.train import TrainConfig, fit_final
from clm.models.trained import TrainedModel


@pytest.fixture(scope="session")
def small_churn_model(small_split) -> TrainedModel:
    model = ModelConfig(
        device="cpu",
        seed=1,
        max_boost_rounds=200,
        early_stopping_rounds=20,
        monotone_constraints={
            "churn": {
                "complaints": 1,
                "complaints_3m_sum": 1,
                "complaint_surge": 1,
                "contract_remaining_months": -1,
                "contract_remaining_amount_share": -1,
            }
        },
    )
    trained, _ = fit_final(
        CHURN,
        {"max_depth": 4, "learning_rate": 0.1},
        small_split.part("train"),
        small_split.part("valid"),
        load_feature_metadata(),
        model,
        TrainConfig(calibration_max_ece=1.0),
    )
    return trained
