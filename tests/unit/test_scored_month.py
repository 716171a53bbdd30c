"""The scored month's summary: reason mix, segments with budget totals, measures by name,
and the change from the month before."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from clm.explain.scored_month import summarise_scored_month


def _scores(month: date, rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "churn_probability": pl.Float64,
            "value_tier": pl.String,
            "stage": pl.String,
            "reason_1_category": pl.String,
            "measure_codes": pl.List(pl.String),
            "maintenance_cap_yuan": pl.Float64,
            "winback_cap_yuan": pl.Float64,
        },
        orient="row",
    ).with_columns(scoring_month=pl.lit(month))


NOW = _scores(
    date(2024, 12, 1),
    [
        (0.9, "high", "warning", "competitor_behaviour", ["DM001", "DS001"], 10.0, 100.0),
        (0.8, "high", "warning", "product_quality", ["DS001"], 12.0, 100.0),
        (0.1, "high", "warning", "product_quality", ["DS001"], 9.0, 100.0),
        (0.2, "low", "stable", None, [], 0.0, 0.0),
    ],
)
BEFORE = _scores(
    date(2024, 11, 1),
    [
        (0.7, "high", "warning", "product_quality", ["DS001"], 10.0, 100.0),
        (0.05, "high", "warning", "product_quality", ["DS001"], 9.0, 100.0),
        (0.1, "low", "stable", None, [], 0.0, 0.0),
        (0.04, "low", "stable", None, [], 0.0, 0.0),
    ],
)


def test_segments_sum_the_caps_of_their_high_risk_customers_and_change_from_last_month():
    month = summarise_scored_month(NOW, BEFORE, high_risk_share=0.5)
    assert (month.month, month.previous_month) == ("2024-12-01", "2024-11-01")
    assert month.high_risk_customers == 2
    high = month.segments.filter(value_tier="high", stage="warning").row(0, named=True)
    assert high["customers"] == 3
    assert high["high_risk_customers"] == 2 and high["high_risk_customers_change"] == 1
    assert high["maintenance_cap_yuan"] == 22.0 and high["winback_cap_yuan"] == 200.0
    assert high["mean_churn_probability_change"] == pytest.approx(0.6 - 0.375)
    low = month.segments.filter(value_tier="low", stage="stable").row(0, named=True)
    assert low["high_risk_customers"] == 0 and low["high_risk_customers_change"] == -1


def test_reason_mix_lists_every_category_with_its_change():
    month = summarise_scored_month(NOW, BEFORE, high_risk_share=0.5)
    reasons = {row["category"]: row for row in month.reasons.iter_rows(named=True)}
    assert len(reasons) == 7
    assert reasons["competitor_behaviour"]["share"] == 0.5
    assert reasons["competitor_behaviour"]["share_change"] == pytest.approx(0.5)
    assert reasons["product_quality"]["share_change"] == pytest.approx(0.5 - 0.5)


def test_measures_carry_their_names_and_without_a_previous_month_changes_are_null():
    month = summarise_scored_month(NOW, None, high_risk_share=0.5)
    measures = month.measures.to_dicts()
    assert [m["code"] for m in measures] == ["DM001", "DS001"]
    assert measures[0]["en"] and measures[0]["zh"]
    assert month.previous_month is None
    assert month.segments["high_risk_customers_change"].is_null().all()
