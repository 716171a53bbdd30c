"""The latent lifecycle every synthetic subscriber follows, and its exact churn probability.

A monthly Markov chain over the operator's stages (domain.md §1): growth -> stable ->
warning -> exit, with warning able to fall back to stable, and dealer SIM-flipping cards
sunk from the start. Entering warning is the only step whose probability varies by
subscriber and month (the *warning hazard*); the same functions drive the simulation and
the oracle, so the oracle is the generator's true probability, not an estimate.
"""

from __future__ import annotations

import numpy as np

from clm.synthetic.profile import GeneratorProfile, TransitionProfile

GROWTH, STABLE, WARNING, SUNK, EXITED, NOT_JOINED = range(6)
STAGE_NAMES = ("growth", "stable", "warning", "sunk")


def warning_hazard(
    base_hazard: np.ndarray,
    network_is_g: np.ndarray,
    tenure_months: np.ndarray,
    months_to_contract_end: np.ndarray,
    profile: GeneratorProfile,
) -> np.ndarray:
    """Monthly probability of a stable or growing subscriber entering the warning stage.

    Args:
        base_hazard: per-subscriber hazard without the time-varying multipliers.
        network_is_g: True for GSM subscribers.
        tenure_months: months since joining (0 in the join month).
        months_to_contract_end: contract end month minus this month; NaN without a contract.
        profile: generator profile.
    """
    young = np.where(
        network_is_g,
        profile.networks["G"].young_tenure_multiplier,
        profile.networks["C"].young_tenure_multiplier,
    )
    old = np.where(
        network_is_g,
        profile.networks["G"].old_tenure_multiplier,
        profile.networks["C"].old_tenure_multiplier,
    )
    tenure_factor = np.where(
        tenure_months < profile.hazard.young_tenure_months,
        young,
        np.where(tenure_months >= profile.hazard.old_tenure_months, old, 1.0),
    )
    expiry_factor = np.where(
        in_expiry_window(months_to_contract_end, profile.hazard.contract_expiry_window),
        profile.hazard.contract_expiry_multiplier,
        1.0,
    )
    hazard = base_hazard * tenure_factor * expiry_factor
    return np.minimum(hazard, profile.hazard.max_monthly_hazard)


def in_expiry_window(months_to_contract_end: np.ndarray, window: tuple[int, int]) -> np.ndarray:
    """True where the contract is near its end: offer expiry pulls churn forward (domain.md
    §5). ``window`` is the half-open range of contract end - month; NaN (no contract): False."""
    low, high = window
    with np.errstate(invalid="ignore"):
        return (months_to_contract_end >= low) & (months_to_contract_end < high)


def step_stages(
    stage: np.ndarray,
    hazard: np.ndarray,
    uniform: np.ndarray,
    transitions: TransitionProfile,
    exit_multiplier: np.ndarray | float = 1.0,
) -> np.ndarray:
    """Draw next month's stage for active subscribers (EXITED marks a churn).

    ``exit_multiplier`` scales the warning -> exit probability (a retention measure at
    work). The exits it prevents recover to stable and every other uniform keeps its
    outcome, so with common uniforms a treated step differs from the untreated one only
    where the treatment made the difference.
    """
    to_exit_w = np.minimum(transitions.warning_to_exit * exit_multiplier, 1.0)
    next_stage = stage.copy()
    growth, stable = stage == GROWTH, stage == STABLE
    warning, sunk = stage == WARNING, stage == SUNK

    enters_warning = (growth | stable) & (uniform < hazard)
    grows_up = growth & ~enters_warning
    grows_up &= uniform < hazard + (1 - hazard) * transitions.growth_to_stable
    next_stage[enters_warning] = WARNING
    next_stage[grows_up] = STABLE

    next_stage[warning & (uniform < to_exit_w)] = EXITED
    recover_limit = transitions.warning_to_exit + transitions.warning_to_stable
    recovers = (uniform >= to_exit_w) & (uniform < recover_limit)
    next_stage[warning & recovers] = STABLE
    next_stage[sunk & (uniform < transitions.sunk_to_exit)] = EXITED
    return next_stage


def churn_probability_within(
    stage: np.ndarray, hazards: np.ndarray, transitions: TransitionProfile
) -> np.ndarray:
    """Exact probability of churning within the next ``len(hazards)`` months.

    Propagates each subscriber's stage distribution through the chain of ``step_stages``.

    Args:
        stage: stage code at the snapshot month, one per subscriber.
        hazards: warning hazard, shape (horizon, n): row k for the snapshot month + k.
        transitions: the chain's fixed transition probabilities.
    """
    probs = np.zeros((4, stage.size))
    probs[stage, np.arange(stage.size)] = 1.0
    growth, stable, warning, sunk = probs
    exited = np.zeros(stage.size)
    for hazard in hazards:
        exited = exited + warning * transitions.warning_to_exit + sunk * transitions.sunk_to_exit
        grows_up = growth * (1 - hazard) * transitions.growth_to_stable
        growth, stable, warning, sunk = (
            growth * (1 - hazard) - grows_up,
            stable * (1 - hazard) + grows_up + warning * transitions.warning_to_stable,
            (growth + stable) * hazard
            + warning * (1 - transitions.warning_to_exit - transitions.warning_to_stable),
            sunk * (1 - transitions.sunk_to_exit),
        )
    return exited
