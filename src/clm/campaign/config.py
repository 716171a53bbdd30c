"""The ``campaign`` params: the operator's belief about each measure, budget and capacity.

Checked once, at the boundary, against the taxonomy, so a typo in a measure code or a zero
budget fails with one line naming the key, before any customer is looked at.
"""

from __future__ import annotations

from dataclasses import dataclass

from clm.domain.taxonomy import Taxonomy


class CampaignError(ValueError):
    """The campaign cannot run on this input; the message names what is wrong."""


@dataclass(frozen=True)
class MeasurePrior:
    """What the operator believes one measure costs and does, before any pilot."""

    contact_cost_yuan: float  # one contact by the retention team
    offer_discount_share: float  # share of ARPU given back per month while the offer runs
    offer_months: int
    expected_effect: dict[str, float]  # reason category -> relative cut in churn probability


@dataclass(frozen=True)
class UpliftParams:
    """XGBoost settings for both arms of the T-learner (``clm.campaign.uplift``)."""

    n_estimators: int
    max_depth: int
    learning_rate: float
    min_child_weight: float
    reg_lambda: float  # L2 on leaf weights: how strongly each arm stays at its prior
    min_gain_standard_errors: float  # out-of-fold gain over the prior needed to plan with it


@dataclass(frozen=True)
class CampaignConfig:
    """The ``campaign`` section of params.yaml."""

    seed: int
    control_share: float  # held out per value tier x risk decile before optimising
    horizon_months: int  # a kept customer's value: margin over these months
    margin_share: float  # margin as a share of ARPU
    total_budget_yuan: float
    channel_capacity: int  # contacts the retention team can make in the month
    tier_budget_share: dict[str, float]  # per value tier, a cap as a share of the total budget
    solver_time_limit_s: float
    measures: dict[str, MeasurePrior]
    uplift: UpliftParams


def check_config(config: CampaignConfig, taxonomy: Taxonomy) -> None:
    """Raise CampaignError naming the first key whose value makes no sense."""
    where = "params.yaml campaign"
    positive = {
        "total_budget_yuan": config.total_budget_yuan,
        "channel_capacity": config.channel_capacity,
        "horizon_months": config.horizon_months,
        "margin_share": config.margin_share,
        "solver_time_limit_s": config.solver_time_limit_s,
    }
    for key, value in positive.items():
        if not value > 0:
            raise CampaignError(f"{where}.{key} must be > 0, got {value}")
    if not 0 <= config.control_share < 1:
        raise CampaignError(f"{where}.control_share must be in [0, 1), got {config.control_share}")
    for tier, share in config.tier_budget_share.items():
        _known(tier, taxonomy.value_tiers, f"{where}.tier_budget_share", "value tier")
        if share < 0:
            raise CampaignError(f"{where}.tier_budget_share.{tier} must be >= 0, got {share}")
    for code, prior in config.measures.items():
        _known(code, taxonomy.measures, f"{where}.measures", "measure code")
        _check_prior(prior, taxonomy, f"{where}.measures.{code}")


def _check_prior(prior: MeasurePrior, taxonomy: Taxonomy, where: str) -> None:
    if prior.contact_cost_yuan < 0 or prior.offer_months < 0:
        raise CampaignError(f"{where}: contact_cost_yuan and offer_months must be >= 0")
    if not 0 <= prior.offer_discount_share <= 1:
        raise CampaignError(f"{where}.offer_discount_share must be in [0, 1]")
    for category, effect in prior.expected_effect.items():
        _known(category, taxonomy.categories, f"{where}.expected_effect", "reason category")
        if not 0 <= effect <= 1:
            raise CampaignError(f"{where}.expected_effect.{category} must be in [0, 1]")


def _known(code: str, table: object, where: str, kind: str) -> None:
    if code not in table:
        raise CampaignError(f"{where}: unknown {kind} {code!r}; known: {', '.join(table)}")
