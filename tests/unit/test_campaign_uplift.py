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


def pilot_arm(arm: str, probability: np.ndarray, rng: np.random.Generator) -> pl.DataFrame:
    """Customers whose churn follows their score exactly: a measure that does nothing."""
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
            "churned": rng.random(n) < probability,
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
