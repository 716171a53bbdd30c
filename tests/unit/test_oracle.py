"""The oracle is the generator's own churn probability: calibrated and sharp on its data."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from clm.synthetic.oracle import oracle_churn_probability

HORIZON = 3


def test_oracle_probability_matches_observed_churn(default_sized_data):
    data = default_sized_data
    snapshot = date(2024, 3, 1)
    snapshots = data.stages.filter(pl.col("month") == snapshot).rename(
        {"month": "snapshot_month", "stage": "stage_true"}
    )
    probability = oracle_churn_probability(
        snapshots, data.tables.subscribers, data.tables.truth_subscribers, HORIZON
    )
    churned = (
        snapshots.join(data.tables.churn_events, on="subscriber_id", how="left")
        .select(
            pl.col("churn_month")
            .is_between(pl.lit(date(2024, 4, 1)), pl.lit(date(2024, 6, 1)))
            .fill_null(False)
        )
        .to_series()
        .to_numpy()
    )
    assert abs(probability.mean() - churned.mean()) < 0.01
    assert roc_auc_score(churned, probability) > 0.85
    by_decile = np.array_split(np.argsort(probability), 10)
    observed = [churned[part].mean() for part in by_decile]
    expected = [probability[part].mean() for part in by_decile]
    assert np.max(np.abs(np.array(observed) - np.array(expected))) < 0.05
