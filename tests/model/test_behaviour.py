"""Behavioural tests of the churn model: invariance, direction, minimum functionality."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score
from tests.params import repo_params

pytestmark = pytest.mark.slow  # trains a small churn model once per session

# the domain rules the churn model may not break, as the pipeline trains it: feature -> +1
# (risk never falls as the feature rises) or -1 (never rises)
CONSTRAINED = sorted(repo_params().model.monotone_constraints["churn"].items())


def test_the_subscriber_id_changes_nothing(small_churn_model, small_split):
    test = small_split.part("test")
    renamed = test.with_columns(pl.col("subscriber_id") + 123_456_789)
    np.testing.assert_array_equal(
        small_churn_model.predict(renamed), small_churn_model.predict(test)
    )


@pytest.mark.parametrize(("feature", "direction"), CONSTRAINED)
def test_each_constrained_feature_moves_churn_risk_only_its_way(
    small_churn_model, small_split, feature, direction
):
    """Every customer of the test month with the feature set to its low, middle and high value,
    everything else equal: the predicted risk follows the direction params.yaml gives."""
    test = small_split.part("test")
    column = test[feature]
    levels = [column.min(), column.median(), column.max()]
    risks = np.array(
        [small_churn_model.predict(test.with_columns(pl.lit(level, column.dtype).alias(feature)))
         for level in levels]
    )  # fmt: skip
    steps = np.diff(risks, axis=0) * direction
    assert levels[0] < levels[-1], f"{feature} is constant in the test month"
    assert np.all(steps >= -1e-7)


def test_a_complaint_surge_never_lowers_churn_risk(small_churn_model, small_split):
    test = small_split.part("test")
    surging = test.with_columns(
        complaints=pl.col("complaints") + 3,
        complaints_3m_sum=pl.col("complaints_3m_sum") + 3,
        complaint_surge=pl.lit(True),
    )
    before, after = small_churn_model.predict(test), small_churn_model.predict(surging)
    assert np.all(after >= before - 1e-7)
    assert np.mean(after > before) > 0.5  # and it does raise it for most customers


def test_a_contract_about_to_end_never_lowers_churn_risk(small_churn_model, small_split):
    test = small_split.part("test").filter(pl.col("has_contract"))
    ending = test.with_columns(
        contract_remaining_months=pl.lit(0, dtype=test["contract_remaining_months"].dtype),
        contract_remaining_amount_share=pl.lit(0.0),
    )
    before, after = small_churn_model.predict(test), small_churn_model.predict(ending)
    assert np.all(after >= before - 1e-7)


def test_the_model_ranks_the_test_month_far_better_than_chance(small_churn_model, small_split):
    test = small_split.part("test")
    auc = roc_auc_score(test["churn"].to_numpy(), small_churn_model.predict(test))
    assert auc > 0.8
