"""Draw the static attributes of a synthetic subscriber base: who they are, not what they do."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clm.data.contract import BRANDS, NETWORKS, PAYMENT_TYPES
from clm.synthetic.profile import REGIONS, GeneratorProfile

FIRST_SUBSCRIBER_ID = 10_000_001


@dataclass(frozen=True)
class Population:
    """Per-subscriber attributes; every array has one entry per subscriber, in id order."""

    subscriber_id: np.ndarray
    network: np.ndarray  # index into NETWORKS
    payment: np.ndarray  # index into PAYMENT_TYPES
    brand: np.ndarray  # index into BRANDS
    region: np.ndarray  # index into REGIONS
    group_id: np.ndarray  # -1 when not in a group
    join_index: np.ndarray  # month index of joining; negative before the window
    is_sham: np.ndarray  # dealer SIM-flipping card, sunk from its first month
    arpu_base: np.ndarray  # yuan
    base_hazard: np.ndarray  # warning hazard before tenure and contract multipliers
    contract_start_index: np.ndarray  # month index; -9999 without a contract
    contract_end_index: np.ndarray  # last month covered; -9999 without a contract
    contract_total_amount: np.ndarray  # yuan; NaN without a contract

    @property
    def is_g(self) -> np.ndarray:
        return self.network == NETWORKS.index("G")

    @property
    def has_contract(self) -> np.ndarray:
        return ~np.isnan(self.contract_total_amount)


NO_CONTRACT = -9999


def draw_population(
    n: int, n_months: int, cdma_share: float, profile: GeneratorProfile, rng: np.random.Generator
) -> Population:
    """Draw ``n`` subscribers seen in an ``n_months`` window, base and joiners together."""
    network = (rng.random(n) >= cdma_share).astype(np.int8)
    payment = np.empty(n, np.int8)
    brand = np.empty(n, np.int8)
    arpu = np.empty(n)
    joins_in_window = np.empty(n, bool)
    initial_tenure = np.empty(n)
    base_hazard = np.empty(n)
    sham = np.zeros(n, bool)
    for code, name in enumerate(NETWORKS):
        members = np.flatnonzero(network == code)
        net = profile.networks[name]
        payment[members] = _choice(rng, PAYMENT_TYPES, net.payment_mix, members.size)
        brand[members] = _choice(rng, BRANDS, net.brand_mix, members.size)
        arpu[members] = net.arpu_median * np.exp(net.arpu_sigma * rng.standard_normal(members.size))
        joins_in_window[members] = rng.random(members.size) < net.joiner_share
        initial_tenure[members] = rng.exponential(net.initial_tenure_mean, members.size)
        base_hazard[members] = net.warning_hazard
        sham[members] = rng.random(members.size) < net.sham_share

    # Prepaid cards spend less; flagship brands more.
    arpu *= np.array([1.25, 0.95, 0.75])[payment] * np.array([1.3, 1.0, 0.8])[brand]
    join_index = np.where(
        joins_in_window,
        rng.integers(1, n_months, n),
        -np.floor(initial_tenure).astype(np.int64),
    )
    sham &= joins_in_window

    groups = profile.groups
    is_group = (rng.random(n) < groups.member_share) & (payment == PAYMENT_TYPES.index("postpaid"))
    n_groups = max(1, n // groups.subscribers_per_group)
    group_id = np.where(is_group, rng.integers(1, n_groups + 1, n), -1)

    hazard = profile.hazard
    base_hazard *= np.array([hazard.payment_multiplier[p] for p in PAYMENT_TYPES])[payment]
    base_hazard *= (arpu / hazard.arpu_reference) ** -hazard.arpu_exponent
    base_hazard *= np.where(is_group, hazard.group_multiplier, 1.0)

    start, end, total = _draw_contracts(payment, join_index, arpu, profile, rng)
    return Population(
        subscriber_id=FIRST_SUBSCRIBER_ID + np.arange(n, dtype=np.int64),
        network=network,
        payment=payment,
        brand=brand,
        region=rng.integers(0, len(REGIONS), n).astype(np.int8),
        group_id=group_id,
        join_index=join_index,
        is_sham=sham,
        arpu_base=arpu,
        base_hazard=base_hazard,
        contract_start_index=start,
        contract_end_index=end,
        contract_total_amount=total,
    )


def _choice(
    rng: np.random.Generator, names: tuple[str, ...], mix: dict[str, float], size: int
) -> np.ndarray:
    weights = np.array([mix[name] for name in names])
    return rng.choice(len(names), size=size, p=weights / weights.sum()).astype(np.int8)


def _draw_contracts(
    payment: np.ndarray,
    join_index: np.ndarray,
    arpu: np.ndarray,
    profile: GeneratorProfile,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One contract per subscriber: the one running when the window (or the customer) starts.

    Contracts of the existing base started at joining or at a renewal since, so their ends
    are spread over the window; that spread is what lets offer expiry drive churn.
    """
    contracts = profile.contracts
    share = np.array([contracts.share_with_contract[p] for p in PAYMENT_TYPES])[payment]
    has = rng.random(payment.size) < share
    length = rng.choice(np.array(contracts.lengths_months), size=payment.size)
    months_in_before_window = np.maximum(0, -join_index)
    elapsed = np.where(months_in_before_window > 0, months_in_before_window % length, 0)
    start = np.maximum(join_index, 0) - elapsed
    end = start + length - 1
    total = np.round(arpu * contracts.commitment_share_of_arpu * length, 2)
    return (
        np.where(has, start, NO_CONTRACT),
        np.where(has, end, NO_CONTRACT),
        np.where(has, total, np.nan),
    )
