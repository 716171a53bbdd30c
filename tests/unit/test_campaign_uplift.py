"""The uplift T-learner on hand-made pilots whose true effect is known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from clm.campaign.candidates import PriorEffects
from clm.campaign.config import CampaignConfig
from clm.campaign.uplift import fit_uplift
from clm.config import load_section
from clm.domain.taxonomy import load_taxonomy

PARAMS = Path(__file__).parents[2] / "params.yaml"


def pilot_arm(
    arm: str, probability: np.ndarray, rng: np.random.Generator, true_cut: float = 0.0
) -> pl.DataFrame:
    """Customers whose churn follows their score less ``true_cut`` of it (the measure's
    true relative effect; 0: a measure that does nothing)."""
    n = probability.size
    return pl.DataFrame(
        {
            "arm": [arm] * n,
            "measure_code": ["DS001" if arm == "treatment" else None] * n,
            "churn_probability": probability,
            "arpu_mean_3m": rng.uniform(50, 150, n),
            "value_tier": ["mid"] * n,
            "stage": ["warning"] * n,
            "reason_1_category": ["service_level"] * n,
            "churned": rng.random(n) < probability * (1 - true_cut),
        },
        schema_overrides={"measure_code": pl.String},
    )


def test_a_measure_without_effect_gets_no_cut_when_the_arms_churn_rates_differ() -> None:
    """The plan treats the riskiest while the control spans every decile, so the arms' churn
    rates differ by design; that must not show as an effect of the measure."""
    rng = np.random.default_rng(0)
    config = load_section(CampaignConfig, "campaign", PARAMS)
    pilot = pl.concat(
        [
            pilot_arm("control", rng.beta(1, 12, 3000), rng),  # the whole base: mostly safe
            pilot_arm("treatment", rng.uniform(0.5, 0.9, 400), rng),  # the riskiest
        ]
    )
    model = fit_uplift(pilot, config.uplift, config.seed, load_taxonomy(), PriorEffects(config))
    risky = pilot_arm("treatment", np.linspace(0.5, 0.9, 50), rng)
    cut = model.churn_reduction(risky).to_numpy()
    assert abs(cut.mean()) < 0.05, cut.mean()


def test_a_pilot_that_bears_the_prior_out_keeps_it() -> None:
    """Outcomes as the prior effect table predicts (DS001 cuts service-level churn by 30 %):
    the treated arm starts from that prior, so the learned cut stays where it was."""
    rng = np.random.default_rng(1)
    config = load_section(CampaignConfig, "campaign", PARAMS)
    prior_cut = config.measures["DS001"].expected_effect["service_level"]
    pilot = pl.concat(
        [
            pilot_arm("control", rng.beta(1, 12, 3000), rng),
            pilot_arm("treatment", rng.uniform(0.5, 0.9, 400), rng, true_cut=prior_cut),
        ]
    )
    prior = PriorEffects(config)
    model = fit_uplift(pilot, config.uplift, config.seed, load_taxonomy(), prior)
    risky = pilot_arm("treatment", np.linspace(0.5, 0.9, 50), rng)
    learned = model.churn_reduction(risky).to_numpy()
    expected = prior.churn_reduction(risky).to_numpy()
    assert abs(learned.mean() - expected.mean()) < 0.03, (learned.mean(), expected.mean())


def test_a_pilot_too_small_to_tell_keeps_the_prior_exactly() -> None:
    """Thirty treated customers cannot beat the prior out of fold: no boosting round is kept
    and the learned cut is the prior's, whatever noise the outcomes carry."""
    rng = np.random.default_rng(2)
    config = load_section(CampaignConfig, "campaign", PARAMS)
    pilot = pl.concat(
        [
            pilot_arm("control", rng.beta(1, 12, 300), rng),
            pilot_arm("treatment", rng.uniform(0.5, 0.9, 30), rng, true_cut=0.3),
        ]
    )
    prior = PriorEffects(config)
    model = fit_uplift(pilot, config.uplift, config.seed, load_taxonomy(), prior)
    risky = pilot_arm("treatment", np.linspace(0.5, 0.9, 50), rng)
    assert model.treated.num_boosted_rounds() == 0
    np.testing.assert_allclose(
        model.churn_reduction(risky).to_numpy(), prior.churn_reduction(risky).to_numpy(), atol=0.02
    )
