"""The campaign plan on hand-made customers: value, caps, budget, capacity, control group."""

from __future__ import annotations

import dataclasses
from datetime import date

import numpy as np
import polars as pl
import pytest
from tests.campaign_support import MONTH, customer, customers, small_config
from tests.random_scores import random_customers

from clm.campaign.candidates import PriorEffects, build_candidates
from clm.campaign.config import CampaignError, check_config
from clm.campaign.control import assign_control
from clm.campaign.plan import build_plan, scores_for_month, with_arpu
from clm.domain.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()


def plan_of(frame: pl.DataFrame, **changes: object) -> pl.DataFrame:
    config = small_config(**changes)
    return build_plan(frame, config, TAXONOMY, PriorEffects(config)).table


def candidates_of(frame: pl.DataFrame, **changes: object) -> pl.DataFrame:
    config = small_config(**changes)
    return build_candidates(frame, config, TAXONOMY, PriorEffects(config))


def test_expected_value_is_saved_margin_less_offer_paid_by_stayers_less_contact() -> None:
    frame = customers(customer(1, churn_probability=0.9, arpu=400.0))
    rows = {r["measure_code"]: r for r in candidates_of(frame).iter_rows(named=True)}
    # DM001: 0.9 x 0.4 = 0.36 cut; margin 0.5 x 400 x 3 = 600; offer 0.2 x 400 x 3 = 240
    assert rows["DM001"]["expected_value_yuan"] == pytest.approx(0.36 * 600 - 0.46 * 240 - 10)
    assert rows["DM001"]["cost_yuan"] == pytest.approx(250.0)
    assert rows["DS001"]["expected_value_yuan"] == pytest.approx(0.09 * 600 - 5)


def test_a_discount_to_a_customer_who_would_stay_anyway_is_no_candidate() -> None:
    frame = customers(customer(1, churn_probability=0.1, arpu=400.0, measures=("DM001",)))
    assert candidates_of(frame).is_empty()


def test_customer_caps_bound_each_offer() -> None:
    rich = customer(1, churn_probability=0.9, arpu=400.0, measures=("DM001",))
    capped = {**rich, "subscriber_id": 2, "winback_cap_yuan": 249.0}  # DM001 costs 250
    stable = customer(3, category="service_level", measures=("RS001",), stage="stable")
    tight = {**stable, "subscriber_id": 4, "maintenance_cap_yuan": 1.5}  # RS001 costs 2
    kept = candidates_of(customers(rich, capped, stable, tight))["subscriber_id"].to_list()
    assert kept == [1, 3]


def test_capacity_goes_to_the_most_valuable_contacts_one_measure_each() -> None:
    frame = customers(*(customer(i, churn_probability=0.1 * i, arpu=400.0) for i in range(1, 10)))
    plan = plan_of(frame, channel_capacity=3, total_budget_yuan=10_000.0)
    treated = plan.filter(arm="treatment")
    assert sorted(treated["subscriber_id"]) == [7, 8, 9]
    assert treated["subscriber_id"].is_unique().all()


def test_the_budget_binds_and_is_never_exceeded() -> None:
    frame = customers(*(customer(i, churn_probability=0.9, arpu=400.0) for i in range(1, 6)))
    plan = plan_of(frame, total_budget_yuan=520.0)  # two DM001 at 250, or DS001 for the rest
    treated = plan.filter(arm="treatment")
    assert treated["cost_yuan"].sum() <= 520.0
    assert treated["measure_code"].value_counts().sort("measure_code").rows() == [
        ("DM001", 2),
        ("DS001", 3),
    ]


@pytest.mark.parametrize("seed", range(12))
def test_no_plan_ever_exceeds_a_cap_over_random_budgets(seed: int) -> None:
    rng = np.random.default_rng(seed)
    frame = random_customers(800, seed)
    config = small_config(
        total_budget_yuan=float(rng.uniform(5, 5000)),
        channel_capacity=int(rng.integers(1, 200)),
        tier_budget_share={"high": rng.uniform(0, 1), "mid": rng.uniform(0, 1)},
        control_share=float(rng.uniform(0, 0.5)),
        measures=load_measures(),
    )
    plan = build_plan(frame, config, TAXONOMY, PriorEffects(config))
    treated = plan.table.filter(arm="treatment")
    assert treated["cost_yuan"].sum() <= config.total_budget_yuan + 1e-9
    assert treated.height <= config.channel_capacity
    for tier, share in config.tier_budget_share.items():
        spent = treated.filter(value_tier=tier)["cost_yuan"].sum()
        assert spent <= share * config.total_budget_yuan + 1e-9
    for row in treated.join(frame, on="subscriber_id").iter_rows(named=True):
        prior = config.measures[row["measure_code"]]
        if TAXONOMY.measures[row["measure_code"]].phase == "retention":
            cap, spent = row["winback_cap_yuan"], row["cost_yuan"]
        else:
            cap = row["maintenance_cap_yuan"]
            spent = prior.contact_cost_yuan + prior.offer_discount_share * row["arpu_mean_3m"]
        assert cap is None or spent <= cap + 1e-9
    assert plan.summary["gap_to_lp_bound"] <= 0.05


def load_measures() -> dict:
    from clm.campaign.config import CampaignConfig
    from clm.config import load_section

    return load_section(CampaignConfig, "campaign").measures


def test_every_scored_subscriber_gets_one_row_and_control_is_never_contacted() -> None:
    frame = random_customers(2000, 3)
    config = dataclasses.replace(
        small_config(measures=load_measures(), control_share=0.2, total_budget_yuan=5000.0)
    )
    plan = build_plan(frame, config, TAXONOMY, PriorEffects(config)).table
    assert plan.height == frame.height
    assert plan["subscriber_id"].sort().equals(frame["subscriber_id"].sort())
    control = plan.filter(arm="control")
    assert control["measure_code"].null_count() == control.height
    assert control["cost_yuan"].sum() == 0
    assert (
        plan.filter(arm="treatment")["control_measure_code"].null_count()
        == plan.filter(arm="treatment").height
    )


def test_control_customers_get_the_measure_the_plan_would_have_given_them() -> None:
    # 40 customers, riskier with each id; half are held out, the best 5 others are treated
    frame = customers(*(customer(i, churn_probability=0.5 + 0.01 * i) for i in range(1, 41)))
    config = small_config(control_share=0.5, channel_capacity=5, total_budget_yuan=10_000.0)
    plan = build_plan(frame, config, TAXONOMY, PriorEffects(config)).table
    chosen_p = plan.filter(arm="treatment")["churn_probability"].min()
    shadow = plan.filter(pl.col("control_measure_code").is_not_null())
    assert shadow.height >= 1
    assert (shadow["churn_probability"] >= chosen_p - 1e-9).all()
    others = plan.filter(pl.col("arm") == "control", pl.col("control_measure_code").is_null())
    assert others.height >= 1
    assert (others["churn_probability"] < shadow["churn_probability"].min()).all()


def test_control_is_stratified_and_ignores_row_order() -> None:
    frame = random_customers(5000, 5)
    control = assign_control(frame, 0.2, seed=1)
    shares = (
        frame.with_columns(c=control)
        .group_by("value_tier", "risk_decile")
        .agg(share=pl.col("c").mean(), n=pl.len())
    )
    assert (
        (shares["share"] - 0.2).abs() <= 0.5 / shares["n"] + 1e-9
    ).all()  # round(share x n) per stratum
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=2)
    again = shuffled.with_columns(c=assign_control(shuffled, 0.2, seed=1)).sort("subscriber_id")
    assert again["c"].equals(frame.with_columns(c=control).sort("subscriber_id")["c"])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"total_budget_yuan": 0.0}, "total_budget_yuan must be > 0, got 0.0"),
        ({"total_budget_yuan": -5.0}, "total_budget_yuan must be > 0, got -5.0"),
        ({"channel_capacity": 0}, "channel_capacity must be > 0"),
        ({"tier_budget_share": {"vip": 0.5}}, "unknown value tier 'vip'"),
    ],
)
def test_bad_params_fail_with_one_line_naming_the_key(changes: dict, message: str) -> None:
    with pytest.raises(CampaignError, match=message):
        check_config(small_config(**changes), TAXONOMY)


def test_an_unknown_measure_code_in_params_is_named() -> None:
    measures = {**small_config().measures, "XX999": small_config().measures["DS001"]}
    with pytest.raises(CampaignError, match=r"campaign.measures: unknown measure code 'XX999'"):
        check_config(small_config(measures=measures), TAXONOMY)


def test_a_recommended_measure_without_a_prior_is_named() -> None:
    frame = customers(customer(1, measures=("DS002",)))
    with pytest.raises(
        CampaignError, match=r"measure_codes: unknown measure code\(s\) \['DS002'\]"
    ):
        candidates_of(frame)


def test_a_month_without_scores_is_named() -> None:
    scores = customers(customer(1)).drop("arpu_mean_3m")
    with pytest.raises(CampaignError, match="no scores for month 2024-07-01"):
        scores_for_month(scores, date(2024, 7, 1))
    assert scores_for_month(scores, None).height == 1


def test_arpu_is_the_mean_of_the_scoring_month_and_the_two_before() -> None:
    scores = customers(customer(1)).drop("arpu_mean_3m")
    usage = pl.LazyFrame(
        {
            "subscriber_id": [1] * 4,
            "month": [date(2024, m, 1) for m in (3, 4, 5, 6)],
            "arpu": [1000.0, 10.0, 20.0, 30.0],
        }
    )
    assert with_arpu(scores, usage)["arpu_mean_3m"].to_list() == [20.0]
    with pytest.raises(CampaignError, match="1 scored subscriber"):
        with_arpu(scores, usage.filter(pl.col("month") < date(2024, 4, 1)))


def test_month_is_carried_into_the_plan() -> None:
    assert plan_of(customers(customer(1)))["month"].to_list() == [MONTH]


def test_a_month_where_no_contact_pays_plans_no_contact() -> None:
    frame = customers(customer(1, churn_probability=0.01), customer(2, measures=()))
    config = small_config()
    plan = build_plan(frame, config, TAXONOMY, PriorEffects(config))
    assert plan.table["arm"].to_list() == ["untargeted", "untargeted"]
    assert plan.summary["solver_status"] == "no candidates"
