"""Behavioural tests of the churn model: invariance, direction, minimum functionality."""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score


def test_the_subscriber_id_changes_nothing(small_churn_model, small_split):
    test = small_split.part("test")
    renamed = test.with_columns(pl.col("subscriber_id") + 123_456_789)
    np.testing.assert_array_equal(
        small_churn_model.predict(renamed), small_churn_model.predict(test)
    )


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
