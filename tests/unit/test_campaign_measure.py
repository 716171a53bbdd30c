"""Measuring a campaign on hand-made outcomes: months, outcomes, intervals, Qini, uplift."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest
from tests.campaign_support import MONTH, small_config

from clm.campaign.candidates import PriorEffects
from clm.campaign.config import CampaignError
from clm.campaign.measure import (
    campaign_roi,
    compare,
    outcome_months,
    pilot_rows,
    qini_coefficient,
    qini_curve,
    realised_outcomes,
)
from clm.campaign.uplift import fit_uplift, load_uplift
from clm.domain.taxonomy import load_taxonomy

JULY, AUGUST, SEPTEMBER = date(2024, 7, 1), date(2024, 8, 1), date(2024, 9, 1)


def test_outcome_months_run_from_the_month_after_the_plan_up_to_the_horizon() -> None:
    assert outcome_months(MONTH, [MONTH, JULY, AUGUST, SEPTEMBER, date(2024, 10, 1)], 3) == [
        JULY,
        AUGUST,
        SEPTEMBER,
    ]
    assert outcome_months(MONTH, [JULY, SEPTEMBER], 3) == [JULY]  # no gap inside the window


def test_outcome_months_not_in_yet_are_named() -> None:
    with pytest.raises(CampaignError, match="no month after the plan month 2024-06-01"):
        outcome_months(MONTH, [date(2024, 5, 1), MONTH], 3)


def test_outcome_for_a_month_that_had_no_plan_is_named() -> None:
    with pytest.raises(CampaignError, match="starts 2024-09-01, after 2024-08-01, a month that"):
        outcome_months(MONTH, [SEPTEMBER], 3)


def plan_rows(
    arms: list[str], measures: list[str | None], shadow: list[str | None]
) -> pl.DataFrame:
    n = len(arms)
    return pl.DataFrame(
        {
            "subscriber_id": list(range(1, n + 1)),
            "month": [MONTH] * n,
            "arm": arms,
            "measure_code": measures,
            "control_measure_code": shadow,
            "expected_churn_reduction": [0.1] * n,
            "cost_yuan": [5.0 if a == "treatment" else 0.0 for a in arms],
            "value_tier": ["mid"] * n,
        },
        schema_overrides={"measure_code": pl.String, "control_measure_code": pl.String},
    )


def test_realised_outcome_is_margin_billed_in_the_window_less_contact_cost() -> None:
    plan = plan_rows(["treatment", "control"], ["DS001", None], [None, "DS001"])
    usage = pl.LazyFrame(
        {
            "subscriber_id": [1, 1, 1, 2],
            "month": [MONTH, JULY, AUGUST, JULY],
            "arpu": [1000.0, 100.0, 100.0, 80.0],
        }
    )
    churn = pl.LazyFrame({"subscriber_id": [2], "churn_month": [AUGUST]})
    rows = realised_outcomes(plan, usage, churn, [JULY, AUGUST], small_config())
    assert rows["margin_yuan"].to_list() == [100.0, 40.0]  # margin share 0.5
    assert rows["net_value_yuan"].to_list() == [95.0, 40.0]  # DS001 contact costs 5
    assert rows["churned"].to_list() == [False, True]


def test_compare_gives_the_difference_and_an_interval_around_it() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    treated = rng.random(n) < 0.5
    churned = rng.random(n) < np.where(treated, 0.2, 0.3)  # true cut: 10 points
    rows = pl.DataFrame(
        {
            "treated": treated,
            "churned": churned,
            "net_value_yuan": np.where(churned, 0.0, 100.0),
            "cost_yuan": np.where(treated, 5.0, 0.0),
        }
    )
    figures = compare(rows)
    low, high = figures["churn_cut_ci95"]
    assert low < 0.10 < high
    assert high - low < 0.06
    assert figures["churn_cut"] == pytest.approx(
        figures["churn_rate_control"] - figures["churn_rate_treated"]
    )
    roi = campaign_roi(rows)
    assert roi["incremental_value_yuan"] == pytest.approx(
        figures["net_value_uplift_yuan"] * treated.sum()
    )


def test_pilot_compares_treated_with_control_the_plan_would_have_treated() -> None:
    plan = plan_rows(
        ["treatment", "control", "control", "untargeted"],
        ["DS001", None, None, None],
        [None, "DM001", None, None],
    )
    rows = pilot_rows(plan)
    assert rows["subscriber_id"].to_list() == [1, 2]
    assert rows["measure"].to_list() == ["DS001", "DM001"]


def test_qini_curve_rises_above_random_when_the_ranking_finds_the_uplift() -> None:
    rng = np.random.default_rng(1)
    n = 2000
    reduction = rng.random(n)
    treated = rng.random(n) < 0.5
    churned = rng.random(n) < np.where(treated, 0.5 - 0.4 * reduction, 0.5)
    rows = pl.DataFrame(
        {
            "subscriber_id": np.arange(n),
            "expected_churn_reduction": reduction,
            "treated": treated,
            "churned": churned,
        }
    )
    curve = qini_curve(rows)
    assert curve["share_targeted"][0] == 0.0 and curve["share_targeted"][-1] == 1.0
    assert qini_coefficient(curve) > 0
    shuffled = rows.with_columns(expected_churn_reduction=pl.Series(rng.random(n)))
    assert qini_coefficient(qini_curve(shuffled)) < qini_coefficient(curve)


def test_the_t_learner_finds_whom_a_measure_helps(tmp_path) -> None:
    rng = np.random.default_rng(2)
    n = 3000
    category = rng.choice(["service_level", "competitor_behaviour"], n)
    arm = np.where(rng.random(n) < 0.5, "treatment", "control")
    helped = (category == "service_level") & (arm == "treatment")
    churned = rng.random(n) < np.where(helped, 0.1, 0.4)  # DS001 cuts service churn only
    pilot = pl.DataFrame(
        {
            "arm": arm,
            "measure_code": np.where(arm == "treatment", "DS001", None),
            "control_measure_code": [None if a == "treatment" else "DS001" for a in arm],
            "churned": churned,
            "churn_probability": np.full(n, 0.4),
            "arpu_mean_3m": rng.uniform(50, 150, n),
            "value_tier": ["mid"] * n,
            "stage": ["warning"] * n,
            "reason_1_category": category,
        }
    )
    config = small_config(seed=1)
    prior = PriorEffects(config)
    model = fit_uplift(pilot, config, load_taxonomy())
    model.save(tmp_path)
    loaded = load_uplift(tmp_path, prior)
    candidates = pilot.head(4).with_columns(
        measure_code=pl.Series(["DS001", "DS001", "RS001", "RS001"]),
        reason_1_category=pl.Series(
            ["service_level", "competitor_behaviour", "service_level", "service_level"]
        ),
    )
    cut = loaded.learned_reduction(candidates).to_list()  # whatever the verdict
    assert cut[0] > 0.15  # true cut 0.3
    assert abs(cut[1]) < 0.08  # true cut 0
    assert cut[2] == pytest.approx(0.4 * 0.1)  # RS001 never tried: the prior (service 0.1)


def test_a_pilot_too_small_to_learn_from_is_named() -> None:
    pilot = pl.DataFrame({"arm": ["treatment", "control"], "measure_code": ["DS001", None]})
    with pytest.raises(CampaignError, match="pilot too small to learn uplift: 1 treated"):
        fit_uplift(pilot, small_config(), load_taxonomy())
