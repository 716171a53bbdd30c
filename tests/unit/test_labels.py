"""Labels: churn horizon, unlabelled recent months, true stage, and the seed's rule table."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from tests import handmade
from tests.params import repo_params

from clm.domain.stages import STAGES, rule_stage
from clm.labels import add_labels, label_churn

JUL = date(2023, 7, 1)
LAST = date(2023, 12, 1)


def snapshot_rows(*pairs: tuple[int, date]) -> pl.DataFrame:
    return pl.DataFrame(
        {"subscriber_id": [p[0] for p in pairs], "snapshot_month": [p[1] for p in pairs]},
        schema={"subscriber_id": pl.Int64, "snapshot_month": pl.Date},
    )


def test_churn_counts_months_t_plus_1_to_t_plus_h_only():
    rows = snapshot_rows((1, JUL), (2, JUL), (3, JUL), (4, JUL))
    churn = handmade.churn_events(
        (1, date(2023, 8, 1)), (2, date(2023, 10, 1)), (3, date(2023, 11, 1))
    )
    got = label_churn(rows, churn.lazy(), LAST, horizon_months=3)
    assert got["churn"].to_list() == [1, 1, 0, 0]
    assert "churn_month" not in got.columns


def test_months_whose_horizon_passes_the_data_are_unlabelled():
    rows = snapshot_rows((1, date(2023, 9, 1)), (1, date(2023, 10, 1)))
    got = label_churn(rows, handmade.churn_events().lazy(), LAST, horizon_months=3)
    assert got["churn"].to_list() == [0, None]


def test_true_stage_joins_by_month_and_is_null_without_truth():
    rows = snapshot_rows((1, JUL), (2, JUL))
    truth = pl.DataFrame(
        {"subscriber_id": [1, 1], "month": [JUL, date(2023, 8, 1)], "stage": ["warning", "sunk"]},
        schema={"subscriber_id": pl.Int64, "month": pl.Date, "stage": pl.String},
    )
    features = rows.with_columns(**_plain_features())
    churn = handmade.churn_events().lazy()
    with_truth = add_labels(features, churn, truth.lazy(), LAST, repo_params().labels)
    assert with_truth["stage_true"].to_list() == ["warning", None]
    without = add_labels(features, churn, None, LAST, repo_params().labels)
    assert without["stage_true"].null_count() == 2
    assert without["stage_true"].dtype == pl.Enum(STAGES)


def _plain_features(**changes) -> dict:
    """A stable customer's rule-table inputs, with ``changes`` applied."""
    return {
        "tenure_months": 12,
        "arpu": 50.0,
        "mou": 200.0,
        "contract_remaining_months": None,
        "contract_remaining_amount_share": None,
        "arpu_delta_3m_share": 0.0,
        "mou_delta_3m_share": 0.0,
        "complaint_surge": False,
        "hotline_calls": 0,
        "call_forward_offnet_count": 0,
        **changes,
    }


@pytest.mark.parametrize(
    ("changes", "stage"),
    [
        ({}, "stable"),
        ({"tenure_months": 2}, "growth"),
        ({"tenure_months": 3}, "stable"),
        ({"tenure_months": 4, "arpu": 0.0, "mou": 5.0}, "sunk"),
        ({"tenure_months": 2, "arpu": 0.0, "mou": 0.0}, "growth"),
        ({"arpu": 0.0, "mou": 50.0}, "stable"),
        ({"contract_remaining_months": 2, "contract_remaining_amount_share": 0.5}, "warning"),
        ({"contract_remaining_months": 3, "contract_remaining_amount_share": 0.5}, "stable"),
        ({"contract_remaining_months": 9, "contract_remaining_amount_share": 0.2}, "warning"),
        ({"arpu_delta_3m_share": -0.5}, "warning"),
        ({"mou_delta_3m_share": -0.6}, "warning"),
        ({"arpu_delta_3m_share": -0.4}, "stable"),
        ({"complaint_surge": True}, "warning"),
        ({"hotline_calls": 2}, "warning"),
        ({"call_forward_offnet_count": 1}, "warning"),
        ({"tenure_months": 1, "call_forward_offnet_count": 1}, "warning"),
    ],
)
def test_rule_table_stage(changes, stage):
    frame = pl.DataFrame([_plain_features(**changes)]).with_columns(
        pl.col("contract_remaining_months").cast(pl.Int64),
        pl.col("contract_remaining_amount_share").cast(pl.Float64),
    )
    got = frame.select(rule_stage(repo_params().labels.stage_rule)).item()
    assert got == stage
