"""The synthetic operator's behaviour, loaded from the packaged ``generator_profile.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from clm.config import from_dict
from clm.safe_yaml import read_yaml


@dataclass(frozen=True)
class NetworkProfile:
    payment_mix: dict[str, float]
    brand_mix: dict[str, float]
    arpu_median: float
    arpu_sigma: float
    joiner_share: float
    initial_tenure_mean: float
    warning_hazard: float
    sham_share: float
    young_tenure_multiplier: float
    old_tenure_multiplier: float
    destination_mix: dict[str, float]


@dataclass(frozen=True)
class HazardProfile:
    payment_multiplier: dict[str, float]
    arpu_reference: float
    arpu_exponent: float
    group_multiplier: float
    contract_expiry_multiplier: float
    max_monthly_hazard: float


@dataclass(frozen=True)
class TransitionProfile:
    growth_to_stable: float
    warning_to_exit: float
    warning_to_stable: float
    sunk_to_exit: float


@dataclass(frozen=True)
class ContractProfile:
    share_with_contract: dict[str, float]
    lengths_months: tuple[int, ...]
    commitment_share_of_arpu: float


@dataclass(frozen=True)
class UsageProfile:
    minutes_per_yuan: float
    minutes_per_call: float
    incoming_per_outgoing: float
    distinct_numbers_per_call: float
    call_forward_rate: float
    offnet_forward_share: float
    sms_median: float
    data_mb_median: float
    vas_share_of_arpu: float
    dropped_call_rate_mean: float
    complaint_rate: float
    hotline_rate: float
    roaming_minutes_median: float
    growth_start_level: float
    growth_ramp_per_month: float
    sunk_level: float
    noise_sigma: float
    warning_ramp_months: int


@dataclass(frozen=True)
class Signature:
    """How one churn reason shifts usage columns at full strength."""

    scale: dict[str, float] = field(default_factory=dict)
    add: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class GeneratorProfile:
    networks: dict[str, NetworkProfile]
    hazard: HazardProfile
    transitions: TransitionProfile
    contracts: ContractProfile
    usage: UsageProfile
    signatures: dict[str, Signature]


@cache
def load_profile(path: Path | None = None) -> GeneratorProfile:
    """Load the generator profile; the packaged default unless ``path`` is given."""
    source = path or resources.files("clm.data").joinpath("generator_profile.yaml")
    return from_dict(GeneratorProfile, read_yaml(source), where=str(source))
