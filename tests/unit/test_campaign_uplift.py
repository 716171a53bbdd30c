"""The uplift T-learner on hand-made pilots whose true effect is known, and the pilot's
out-of-fold verdict on whether its effects or the prior's plan the next month."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from clm.campaign.candidates import PriorEffects
from clm.campaign.config import CampaignConfig
from clm.campaign.uplift import fit_uplift, load_uplift
from clm.config import load_section
from clm.domain.taxonomy import load_taxonomy

PARAMS = Path(__file__).parents[2] / "params.yaml"


def pilot_arm(
    arm: str,
    probability: np.ndarray,
    rng: np.random.Generator,
    true_cut: float = 0.0,
    measure: str = "DS001",
    category: str = "service_level",
) -> pl.DataFrame:
    """Customers whose churn follows their score less ``true_cut`` of it (the measure's
    true relative effect; 0: a measure that does nothing); every control customer is one the
    plan's rule would have given ``measure``."""
    n = probability.size
    return pl.DataFrame(
        {
            "arm": [arm] * n,
            "measure_code": [measure if arm == "treatment" else None] * n,
            "control_measure_code": [None if arm == "treatment" else measure] * n,
            "churn_probability": probability,
            "arpu_mean_3m": rng.uniform(50, 150, n),
            "value_tier": ["mid"] * n,
            "stage": ["warning"] * n,
            "reason_1_category": [category] * n,
            "churned": rng.random(n) < probability * (1 - true_cut),
        },
        schema_overrides={"measure_code": pl.String, "control_measure_code": pl.String},
    )


def test_a_measure_without_effect_gets_no_cut_when_the_arms_churn_rates_differ() -> None:
    """The plan treats the riskiest while the control spans every decile, so the arms' churn
    rates differ by design; that must not show as an effect of the measure. The prior's cut
    (30 % of the score, 0.21 on average here) moves most of the way to none; the folds'
    models, each fitted on four fifths of the pilot, keep a little of it."""
    rng = np.random.default_rng(0)
    config = load_section(CampaignConfig, "campaign", PARAMS)
    pilot = pl.concat(
        [
            pilot_arm("control", rng.beta(1, 12, 3000), rng),  # the whole base: mostly safe
            pilot_arm("treatment", rng.uniform(0.5, 0.9, 400), rng),  # the riskiest
        ]
    )
    model = fit_uplift(pilot, config, load_taxonomy())
    risky = pilot_arm("treatment", np.linspace(0.5, 0.9, 50), rng)
    cut = model.learned_reduction(risky).to_numpy()
    assert abs(cut.mean()) < 0.1, cut.mean()


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
    model = fit_uplift(pilot, config, load_taxonomy())
    risky = pilot_arm("treatment", np.linspace(0.5, 0.9, 50), rng)
    learned = model.learned_reduction(risky).to_numpy()
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
    model = fit_uplift(pilot, config, load_taxonomy())
    risky = pilot_arm("treatment", np.linspace(0.5, 0.9, 50), rng)
    assert all(fold.treated.num_boosted_rounds() == 0 for fold in model.folds)
    np.testing.assert_allclose(
        model.churn_reduction(risky).to_numpy(), prior.churn_reduction(risky).to_numpy(), atol=0.02
    )


def randomised_pilot(
    true_cut: float, rng: np.random.Generator, n: int = 2000, measure: str = "DM001"
) -> pl.DataFrame:
    """A pilot as the plan runs it: the customers its rule contacts, a fifth held out at
    random; ``measure`` (a costly discount by default) cuts competitor churn by ``true_cut``.
    Risky customers, the only ones for whom the prior's 35 % cut pays for DM001's discount."""
    probability = rng.uniform(0.7, 0.95, n)
    held_out = rng.random(n) < 0.2
    arms = [
        pilot_arm(arm, probability[rows], rng, cut, measure, "competitor_behaviour")
        for arm, rows, cut in (("treatment", ~held_out, true_cut), ("control", held_out, 0.0))
    ]
    return pl.concat(arms)


def test_a_pilot_that_refutes_the_prior_replaces_it() -> None:
    """The prior says DM001 cuts competitor churn by 35 %, so the plan pays its discount to
    everyone; it does nothing. Out of fold, dropping those contacts clearly pays, so the
    learned effects plan the next month and the discount is no longer worth giving."""
    config = load_section(CampaignConfig, "campaign", PARAMS)
    pilot = randomised_pilot(true_cut=0.0, rng=np.random.default_rng(3))
    model = fit_uplift(pilot, config, load_taxonomy())
    assert model.check.keep_learned, model.check
    assert model.check.gain_yuan > model.check.standard_error_yuan > 0
    customers = pilot.head(200).with_columns(measure_code=pl.lit("DM001"))
    np.testing.assert_array_equal(
        model.churn_reduction(customers).to_numpy(),
        model.learned_reduction(customers).to_numpy(),
    )
    assert model.churn_reduction(customers).mean() < 0.5 * (
        PriorEffects(config).churn_reduction(customers).mean()
    )


def test_a_pilot_that_bears_the_prior_out_does_not_replace_it() -> None:
    """DM001 does cut competitor churn by the prior's 35 %: whatever the learned arms say,
    their decisions cannot beat the prior's out of fold, and the plan keeps the prior."""
    config = load_section(CampaignConfig, "campaign", PARAMS)
    prior_cut = config.measures["DM001"].expected_effect["competitor_behaviour"]
    pilot = randomised_pilot(true_cut=prior_cut, rng=np.random.default_rng(4))
    model = fit_uplift(pilot, config, load_taxonomy())
    assert not model.check.keep_learned, model.check
    customers = pilot.head(200).with_columns(measure_code=pl.lit("DM001"))
    np.testing.assert_array_equal(
        model.churn_reduction(customers).to_numpy(),
        PriorEffects(config).churn_reduction(customers).to_numpy(),
    )


def test_the_verdict_survives_saving(tmp_path: Path) -> None:
    config = load_section(CampaignConfig, "campaign", PARAMS)
    pilot = randomised_pilot(true_cut=0.0, rng=np.random.default_rng(3))
    model = fit_uplift(pilot, config, load_taxonomy())
    model.save(tmp_path)
    loaded = load_uplift(tmp_path, PriorEffects(config))
    assert loaded.check == model.check
    customers = pilot.head(50).with_columns(measure_code=pl.lit("DM001"))
    np.testing.assert_allclose(
        loaded.churn_reduction(customers).to_numpy(), model.churn_reduction(customers).to_numpy()
    )
