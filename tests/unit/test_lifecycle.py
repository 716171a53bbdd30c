"""The oracle's churn probability is exactly the simulated chain's."""

from __future__ import annotations

import numpy as np
import pytest

from clm.synthetic.lifecycle import (
    EXITED,
    GROWTH,
    STABLE,
    SUNK,
    WARNING,
    churn_probability_within,
    step_stages,
    warning_hazard,
)
from clm.synthetic.profile import load_profile


@pytest.mark.parametrize("start", [GROWTH, STABLE, WARNING, SUNK])
def test_oracle_matches_monte_carlo_of_the_chain(start):
    transitions = load_profile().transitions
    n, horizon = 200_000, 3
    hazards = np.array([0.05, 0.20, 0.10])[:, None] * np.ones((horizon, n))
    rng = np.random.default_rng(0)
    stage = np.full(n, start, np.int8)
    churned = np.zeros(n, bool)
    for hazard in hazards:
        alive = ~churned
        stage[alive] = step_stages(
            stage[alive], hazard[alive], rng.random(alive.sum()), transitions
        )
        churned |= stage == EXITED
    exact = churn_probability_within(np.full(n, start), hazards, transitions)
    assert exact[0] == pytest.approx(churned.mean(), abs=0.005)


def test_offer_expiry_raises_the_warning_hazard_only_around_the_contract_end():
    profile = load_profile()
    months_to_end = np.array([10.0, 2.0, 0.0, -2.0, -3.0, np.nan])
    hazard = warning_hazard(
        np.full(6, 0.02), np.ones(6, bool), np.full(6, 12), months_to_end, profile
    )
    raised = 0.02 * profile.hazard.contract_expiry_multiplier
    assert hazard.tolist() == pytest.approx([0.02, raised, raised, raised, 0.02, 0.02])


def test_hazard_is_capped():
    profile = load_profile()
    hazard = warning_hazard(
        np.array([5.0]), np.array([True]), np.array([1]), np.array([np.nan]), profile
    )
    assert hazard[0] == profile.hazard.max_monthly_hazard
