"""The policies of issue 15 on a small synthetic world: within budget, and value beats volume."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import polars as pl
import pytest
from tests.oracle_scores import oracle_customers
from tests.params import repo_params

from clm.campaign.candidates import PriorEffects
from clm.campaign.config import CampaignConfig
from clm.campaign.policies import (
    PRIOR_PLAN,
    TOP_RISK,
    compare_policies,
    planned_cost_yuan,
    top_risk_decile,
    value_plan,
)
from clm.campaign.simulate import Counterfactuals
from clm.config import load_section
from clm.domain.taxonomy import load_taxonomy
from clm.synthetic.generate import GenerateConfig, state_at

PARAMS = Path(__file__).parents[2] / "params.yaml"
WORLD = GenerateConfig(
    seed=3, n_subscribers=4000, n_months=8, first_month="2023-01-01", cdma_share=0.35, shocks=()
)


@pytest.fixture(scope="module")
def world() -> tuple[Counterfactuals, pl.DataFrame, CampaignConfig]:
    config = dataclasses.replace(
        load_section(CampaignConfig, "campaign", PARAMS),
        total_budget_yuan=6000.0,
        channel_capacity=300,
    )
    truth = Counterfactuals(state_at(WORLD, WORLD.n_months - 1), config.horizon_months, WORLD.seed)
    customers = oracle_customers(
        truth, load_taxonomy(), repo_params().features.tiers, repo_params().scoring.budget
    )
    return truth, customers, config


@pytest.mark.parametrize("budget, capacity", [(6000.0, 300), (800.0, 300), (6000.0, 20)])
def test_every_policy_keeps_to_the_budget_and_the_channel(world, budget, capacity) -> None:
    _, customers, config = world
    config = dataclasses.replace(config, total_budget_yuan=budget, channel_capacity=capacity)
    taxonomy = load_taxonomy()
    for assignment in (
        top_risk_decile(customers, config, taxonomy),
        value_plan(customers, config, taxonomy, PriorEffects(config)),
    ):
        assert 0 < assignment.height <= capacity
        assert assignment["subscriber_id"].is_unique().all()
        assert planned_cost_yuan(assignment, customers, config, taxonomy).sum() <= budget


def test_top_risk_decile_contacts_the_riskiest_first_with_the_template_offer(world) -> None:
    _, customers, config = world
    assignment = top_risk_decile(customers, config, load_taxonomy())
    contacted = customers.join(assignment, on="subscriber_id")
    assert (contacted["risk_decile"] == 1).all()
    assert set(assignment["measure_code"]) == {"DM001"}
    left_out = customers.filter(
        pl.col("risk_decile") == 1,
        ~pl.col("subscriber_id").is_in(assignment["subscriber_id"].implode()),
    )
    if left_out.height:  # the budget ran out: nobody left out is riskier than the contacted
        assert left_out["churn_probability"].max() <= contacted["churn_probability"].min()


def test_the_value_plan_beats_the_top_risk_decile_on_true_net_value(world) -> None:
    truth, customers, config = world
    judged = compare_policies(customers, config, load_taxonomy(), truth, uplift=None)
    net = {row["policy"]: row["net_value_yuan"] for row in judged["policies"]}
    assert set(net) == {TOP_RISK, PRIOR_PLAN}
    assert net[PRIOR_PLAN] > net[TOP_RISK]
    assert net[PRIOR_PLAN] > 0
