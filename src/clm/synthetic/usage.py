"""Monthly usage of synthetic subscribers: a personal base level, shaped by the latent stage
and, in the warning months before exit, by the churn reason's behavioural signature."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import special

from clm.data.contract import SURVEY_REASONS
from clm.synthetic.lifecycle import GROWTH, SUNK, WARNING
from clm.synthetic.population import Population
from clm.synthetic.profile import REGIONS, GeneratorProfile

LEVELS = (
    "arpu",
    "mou",
    "calls_out",
    "calls_in",
    "distinct_called_numbers",
    "call_forward_onnet_count",
    "call_forward_offnet_count",
    "sms_count",
    "data_mb",
    "vas_revenue",
    "complaints",
    "hotline_calls",
    "dropped_call_rate",
    "arrears",
    "roaming_minutes",
)
COUNTS = (
    "calls_out",
    "calls_in",
    "distinct_called_numbers",
    "call_forward_onnet_count",
    "call_forward_offnet_count",
    "sms_count",
    "complaints",
    "hotline_calls",
)
# Trouble does not fade with spending: a sunk card still has its network's dropped calls.
NOT_SCALED_BY_ACTIVITY = ("dropped_call_rate", "complaints", "hotline_calls", "arrears")
DECIMALS = {"dropped_call_rate": 4}
_COLUMN = {name: i for i, name in enumerate(LEVELS)}


def base_levels(
    population: Population, profile: GeneratorProfile, rng: np.random.Generator
) -> np.ndarray:
    """Each subscriber's usual monthly level of every usage column, shape (n, len(LEVELS))."""
    usage = profile.usage
    n = population.subscriber_id.size

    def lognormal(median: float | np.ndarray, sigma: float) -> np.ndarray:
        return median * np.exp(sigma * rng.standard_normal(n))

    arpu = population.arpu_base
    mou = arpu * lognormal(usage.minutes_per_yuan, 0.3)
    calls = mou / usage.minutes_per_call
    incoming_per_outgoing = lognormal(usage.incoming_per_outgoing, 0.3)
    calls_out = calls / (1 + incoming_per_outgoing)
    forwards = lognormal(usage.call_forward_rate, 0.5)
    youth = np.where(population.brand == 1, 2.0, 1.0)
    region_factor = np.array([usage.region_dropped_call_factor[region] for region in REGIONS])
    levels = {
        "arpu": arpu,
        "mou": mou,
        "calls_out": calls_out,
        "calls_in": calls - calls_out,
        "distinct_called_numbers": calls_out * lognormal(usage.distinct_numbers_per_call, 0.2),
        "call_forward_onnet_count": forwards * (1 - usage.offnet_forward_share),
        "call_forward_offnet_count": forwards * usage.offnet_forward_share,
        "sms_count": lognormal(usage.sms_median, 0.8) * youth,
        "data_mb": lognormal(usage.data_mb_median, 1.0) * youth,
        "vas_revenue": arpu * usage.vas_share_of_arpu,
        "complaints": np.full(n, usage.complaint_rate),
        "hotline_calls": np.full(n, usage.hotline_rate),
        "dropped_call_rate": lognormal(usage.dropped_call_rate_mean, 0.3)
        * region_factor[population.region],
        "arrears": np.zeros(n),
        "roaming_minutes": lognormal(usage.roaming_minutes_median, 1.0),
    }
    return np.column_stack([levels[name] for name in LEVELS]).astype(np.float32)


def signature_matrices(profile: GeneratorProfile) -> tuple[np.ndarray, np.ndarray]:
    """Scale and add matrices, shape (len(SURVEY_REASONS), len(LEVELS)), from the profile."""
    scale = np.ones((len(SURVEY_REASONS), len(LEVELS)), np.float32)
    add = np.zeros_like(scale)
    for reason, signature in profile.signatures.items():
        row = SURVEY_REASONS.index(reason)
        for target, values in ((scale, signature.scale), (add, signature.add)):
            for column, value in values.items():
                if column not in _COLUMN:
                    raise ValueError(f"generator profile: signature {reason!r} names {column!r}")
                target[row, _COLUMN[column]] = value
    return scale, add


def monthly_levels(
    base: np.ndarray,
    stage: np.ndarray,
    tenure_months: np.ndarray,
    months_in_warning: np.ndarray,
    reason: np.ndarray,
    signatures: tuple[np.ndarray, np.ndarray],
    profile: GeneratorProfile,
) -> np.ndarray:
    """Expected usage this month for active subscribers (rows of ``base``)."""
    usage = profile.usage
    activity = np.ones(stage.size, np.float32)
    ramp = usage.growth_start_level + usage.growth_ramp_per_month * tenure_months
    activity = np.where(stage == GROWTH, np.minimum(ramp, 1.0), activity)
    activity = np.where(stage == SUNK, usage.sunk_level, activity).astype(np.float32)
    levels = base.copy()
    scaled = [i for i, name in enumerate(LEVELS) if name not in NOT_SCALED_BY_ACTIVITY]
    levels[:, scaled] *= activity[:, None]

    warning = np.flatnonzero(stage == WARNING)
    strength = np.minimum(1.0, (months_in_warning[warning] + 1) / usage.warning_ramp_months)
    scale, add = signatures
    rows = reason[warning]
    strength = strength[:, None].astype(np.float32)
    levels[warning] *= 1 + (scale[rows] - 1) * strength
    levels[warning] += add[rows] * strength
    arrears = _COLUMN["arrears"]
    levels[:, arrears] *= levels[:, _COLUMN["arpu"]]  # arrears are a multiple of the bill
    return levels


def draw_usage(levels: np.ndarray, profile: GeneratorProfile, rng: np.random.Generator) -> dict:
    """Observed usage columns (contract names) around the expected levels."""
    n = levels.shape[0]
    return _usage_columns(
        levels,
        profile,
        count=lambda _, level: rng.poisson(level),
        normal=lambda _: rng.standard_normal(n, dtype=np.float32),
    )


def draw_usage_from_uniforms(
    levels: np.ndarray, profile: GeneratorProfile, uniforms: np.ndarray
) -> dict:
    """``draw_usage`` driven by given uniforms, one column per entry of ``LEVELS``.

    Each draw is the inverse CDF of its own uniform, so a subscriber's noise is the same
    whatever the levels: the common random numbers of a counterfactual roll-forward.
    """
    uniforms = np.clip(uniforms, 1e-12, 1 - 1e-12)
    return _usage_columns(
        levels,
        profile,
        count=lambda i, level: poisson_quantile(uniforms[:, i], level),
        normal=lambda i: special.ndtri(uniforms[:, i]).astype(np.float32),
    )


def poisson_quantile(uniform: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Smallest count k with P(Poisson(mean) <= k) >= uniform, elementwise.

    Starts from the Cornish-Fisher guess and steps to the exact quantile; many times
    faster than ``scipy.stats.poisson.ppf``, which inverts the CDF numerically.
    """
    z = special.ndtri(uniform)
    mean = np.asarray(mean, np.float64)
    k = np.maximum(np.floor(mean + np.sqrt(mean) * z + (z * z - 1) / 6), 0.0)
    while (low := special.pdtr(k, mean) < uniform).any():
        k[low] += 1
    while (high := (k > 0) & (special.pdtr(k - 1, mean) >= uniform)).any():
        k[high] -= 1
    return k


def _usage_columns(
    levels: np.ndarray,
    profile: GeneratorProfile,
    count: Callable[[int, np.ndarray], np.ndarray],
    normal: Callable[[int], np.ndarray],
) -> dict:
    sigma = profile.usage.noise_sigma
    columns: dict[str, np.ndarray] = {}
    for i, name in enumerate(LEVELS):
        level = levels[:, i]
        if name in COUNTS:
            columns[name] = count(i, level).astype(np.int64)
        else:
            noisy = level * np.exp(sigma * normal(i))
            columns[name] = np.round(noisy.astype(np.float64), DECIMALS.get(name, 2))
    columns["dropped_call_rate"] = np.clip(columns["dropped_call_rate"], 0.0, 1.0)
    columns["distinct_called_numbers"] = np.minimum(
        columns["distinct_called_numbers"], columns["calls_out"]
    )
    onnet = columns.pop("call_forward_onnet_count")
    columns["call_forward_count"] = onnet + columns["call_forward_offnet_count"]
    return columns
