"""Months missing in a subscriber's history are quarantined or imputed, never read as zero usage."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import polars as pl
import pytest
from tests.handmade import churn_events, months, subscribers, usage
from tests.params import repo_params

from clm.config import ConfigError
from clm.data.validate import FAILED_CHECKS
from clm.features.history import settle_training_gaps
from clm.months import add_months
from clm.scoring.inputs import scoring_input, split_scorable
from clm.scoring.month import base_features

T = date(2024, 12, 1)
WINDOW = months(add_months(T, -6), 7)  # the scoring month and the six before it
JAN = date(2024, 1, 1)

IMPUTE = replace(repo_params().features, history_gaps="impute")


def scoring_frame() -> pl.DataFrame:
    """Scoring input: 1 complete, 2 missing T-2, 3 joined long ago with a row only at T,
    4 joined at T-1 (complete since joining), 5 gone before T (not scored, not checked)."""
    people = subscribers(
        {"subscriber_id": 1},
        {"subscriber_id": 2},
        {"subscriber_id": 3, "join_month": date(2023, 1, 1)},
        {"subscriber_id": 4, "join_month": add_months(T, -1)},
        {"subscriber_id": 5},
    )
    rows = pl.concat(
        [
            usage(1, WINDOW),
            usage(2, [m for m in WINDOW if m != add_months(T, -2)]),
            usage(3, [T]),
            usage(4, WINDOW[-2:]),
            usage(5, WINDOW[:3]),
        ]
    )
    return scoring_input(people.lazy(), rows.lazy()).collect()


def test_scoring_quarantines_every_row_of_a_subscriber_missing_a_window_month():
    frame = scoring_frame()

    accepted, quarantined = split_scorable(frame, T, "quarantine", {})

    assert accepted.height + quarantined.height == frame.height
    assert set(quarantined["subscriber_id"]) == {2, 3}
    assert quarantined.height == frame.filter(pl.col("subscriber_id").is_in([2, 3])).height
    assert all(checks == ["month:history_gap"] for checks in quarantined[FAILED_CHECKS].to_list())
    assert set(accepted["subscriber_id"]) == {1, 4, 5}


def test_impute_policy_accepts_gaps_and_the_features_count_the_imputed_months():
    frame = scoring_frame()

    accepted, quarantined = split_scorable(frame, T, "impute", {})
    base = base_features(accepted, T, WINDOW[0], IMPUTE)

    assert quarantined.is_empty() and accepted.height == frame.height
    imputed = dict(base.select("subscriber_id", "imputed_months").iter_rows())
    assert imputed == {1: 0, 2: 1, 3: 6, 4: 0}


def test_an_imputed_month_repeats_its_neighbour_instead_of_reading_as_a_drop():
    frame = scoring_frame()
    config = IMPUTE

    base = base_features(frame, T, WINDOW[0], config).sort("subscriber_id")

    complete, gap, only_t = base.filter(pl.col("subscriber_id").is_in([1, 2, 3])).iter_rows(
        named=True
    )
    # constant usage: the gap month and the six months before T are imputed as the same level
    for row in (gap, only_t):
        assert row["arpu_mean_3m"] == complete["arpu_mean_3m"]
        assert row["arpu_delta_3m_share"] == complete["arpu_delta_3m_share"] == 0.0
        assert row["mou_delta_6m_share"] == complete["mou_delta_6m_share"] == 0.0


def test_features_stage_sets_aside_subscribers_with_gaps_by_default():
    people = subscribers(
        {"subscriber_id": 1, "join_month": JAN},
        {"subscriber_id": 2, "join_month": JAN},
        {"subscriber_id": 3, "join_month": JAN},
    )
    rows = pl.concat(
        [
            usage(1, months(JAN, 12)),
            usage(2, [m for m in months(JAN, 12) if m != date(2024, 5, 1)]),
            usage(3, months(JAN, 4)),  # churned in May: no month is missing
        ]
    )
    churn = churn_events((3, date(2024, 5, 1)))

    settled = settle_training_gaps(people.lazy(), rows.lazy(), churn.lazy(), "quarantine")

    assert settled.quarantined["subscriber_id"].to_list() == [2]
    assert settled.quarantined[FAILED_CHECKS].to_list() == [["month:history_gap"]]
    assert settled.quarantined["missing_months"].to_list() == [[date(2024, 5, 1)]]
    assert settled.subscribers.collect()["subscriber_id"].to_list() == [1, 3]
    assert set(settled.usage.collect()["subscriber_id"]) == {1, 3}
    assert settled.imputed.is_empty()

    imputing = settle_training_gaps(people.lazy(), rows.lazy(), churn.lazy(), "impute")

    assert imputing.quarantined.is_empty()
    assert imputing.imputed.rows() == [(2, date(2024, 5, 1))]
    filled = imputing.usage.collect().filter(pl.col("subscriber_id") == 2)
    assert filled.height == 12


def test_gap_policy_must_be_known():
    with pytest.raises(ConfigError, match="history_gaps"):
        replace(IMPUTE, history_gaps="zero")
