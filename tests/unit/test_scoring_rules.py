"""Scoring rules: risk deciles, measures by stage x tier x cause, budget caps (domain.md §3)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest
from tests.params import repo_params

from clm.data.contract import PLAUSIBLE_MAX
from clm.domain.budget import BudgetRules
from clm.domain.taxonomy import load_taxonomy
from clm.scoring.month import MonthStats
from clm.scoring.rules import budget_caps, recommended_measures, risk_deciles

# a hand-made table, so the expected caps below are plain arithmetic
RULES = BudgetRules(
    acpu_yuan=400.0,
    maintenance_arpu_share={"high": 0.1, "mid": 0.1, "group": 0.2},
    winback_acpu_multiple={"high": 2.0, "mid": 1.5, "group": 1.5},
)


def test_risk_deciles_rank_by_probability_then_id_and_split_evenly():
    frame = pl.DataFrame(
        {
            "subscriber_id": list(range(20, 0, -1)),
            "churn_probability": [0.5] * 4 + [i / 100 for i in range(16)],
        }
    )
    deciles = risk_deciles(frame)
    assert deciles.value_counts()["count"].to_list() == [2] * 10
    # the four ties at 0.5 are the riskiest; the lower subscriber_id ranks first
    top = frame.with_columns(deciles).filter(pl.col("risk_decile") == 1)
    assert top["subscriber_id"].sort().to_list() == [17, 18]
    assert risk_deciles(frame.reverse()).reverse().equals(deciles)


def test_budget_caps_per_tier():
    frame = pl.DataFrame(
        {
            "value_tier": ["high", "mid", "low", "group"],
            "arpu_mean_3m": [300.0, 100.0, 20.0, 50.0],
            "group_size": [None, None, None, 12],
            "group_arpu_mean_3m": [None, None, None, 80.0],
        }
    )
    caps = frame.select(budget_caps(RULES))
    assert caps["maintenance_cap_yuan"][0] == pytest.approx(30.0)
    assert caps["maintenance_cap_yuan"][1] == pytest.approx(10.0)
    assert caps["maintenance_cap_yuan"][2] is None
    assert caps["maintenance_cap_yuan"][3] == pytest.approx(192.0)
    assert caps["winback_cap_yuan"].to_list() == [800.0, 600.0, None, 12 * 400.0 * 1.5]


def test_budget_caps_are_bounded_by_the_contracts_plausible_arpu():
    frame = pl.DataFrame(
        {
            "value_tier": ["high", "group"],
            "arpu_mean_3m": [1e12, 1e12],
            "group_size": [None, 3],
            "group_arpu_mean_3m": [None, 1e308],
        }
    )
    caps = frame.select(budget_caps(RULES))["maintenance_cap_yuan"]
    arpu_max = PLAUSIBLE_MAX["arpu"]
    assert caps.to_list() == [pytest.approx(0.1 * arpu_max), pytest.approx(3 * 0.2 * arpu_max)]


def test_measures_follow_the_taxonomy_and_none_without_a_cause():
    taxonomy = load_taxonomy()
    frame = pl.DataFrame(
        {
            "stage": ["warning", "warning", "stable", "growth"],
            "value_tier": ["high", "low", "mid", "mid"],
            "reason_1_cause": ["price_war", "price_war", "billing_errors", None],
        }
    )
    codes = recommended_measures(frame, taxonomy).to_list()
    assert codes[0] == list(taxonomy.measures_for("warning", "price_war", "high"))
    assert codes[1] == list(taxonomy.measures_for("warning", "price_war", "low"))
    assert codes[0][0].startswith("D") and len(codes[1]) < len(codes[0])
    assert codes[2] == list(taxonomy.measures_for("stable", "billing_errors", "mid"))
    assert codes[3] == []


def test_month_stats_survive_json():
    rows = pl.DataFrame(
        {
            "subscriber_id": [1, 2, 3, 4],
            "snapshot_month": [date(2024, 6, 1)] * 4,
            "network": ["C", "C", "G", "G"],
            "payment_type": ["prepaid", "postpaid", "prepaid", "postpaid"],
            "is_group": [False, True, False, True],
            "group_id": [None, 7, None, 7],
            "tenure_months": [3, 10, 20, 40],
            "arpu_mean_3m": [10.0, 1 / 3, 55.5, 0.1],
            "cumulative_spend": [100.0, 200.0, 300.0, 400.0],
        }
    )
    stats = MonthStats.from_rows(rows, date(2024, 1, 1), repo_params().features)
    back = MonthStats.from_json(stats.to_json())
    assert (back.scoring_month, back.history_start) == (date(2024, 6, 1), date(2024, 1, 1))
    assert back.network.equals(stats.network) and back.groups.equals(stats.groups)
    assert stats.groups.row(0) == (7, 2, pytest.approx((1 / 3 + 0.1) / 2))
