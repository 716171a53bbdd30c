"""The synthetic operator's behaviour, loaded from the packaged ``generator_profile.yaml``."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from clm.config import ConfigError, from_dict
from clm.data.contract import SURVEY_REASONS
from clm.safe_yaml import read_yaml

# The synthetic operator's regions (an operator's own tables may name theirs as they like).
REGIONS = ("north", "south", "east", "west", "central")


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
    contract_expiry_window: tuple[int, int]  # contract end - month, half-open [low, high)
    young_tenure_months: int
    old_tenure_months: int
    max_monthly_hazard: float


@dataclass(frozen=True)
class GroupProfile:
    member_share: float  # of postpaid subscribers
    subscribers_per_group: int  # subscribers of the window per group account


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
    region_dropped_call_factor: dict[str, float]
    complaint_rate: float
    hotline_rate: float
    roaming_minutes_median: float
    growth_start_level: float
    growth_ramp_per_month: float
    sunk_level: float
    noise_sigma: float
    warning_ramp_months: int

    def __post_init__(self) -> None:
        regions = sorted(self.region_dropped_call_factor)
        if regions != sorted(REGIONS):
            raise ValueError(
                f"generator profile: usage.region_dropped_call_factor needs the regions "
                f"{sorted(REGIONS)}, got {regions}"
            )


@dataclass(frozen=True)
class Signature:
    """How one churn reason shifts usage columns at full strength."""

    # a reason may only scale columns or only add to them: the other is empty, not unset
    scale: dict[str, float] = field(default_factory=dict)
    add: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class MeasureProfile:
    """What one retention measure truly costs and does; the operator only has beliefs.

    The effect multiplies the warning -> exit probability of a customer who accepted, for
    ``effect_months`` after the contact; a customer it keeps from leaving recovers to stable.
    """

    contact_cost_yuan: float
    offer_discount_share: float  # share of ARPU given back per month of the offer
    offer_months: int
    acceptance: float  # probability that a contacted customer takes the measure
    effect_months: int
    hazard_multiplier: dict[str, float]  # per true reason; the default covers the rest
    default_hazard_multiplier: float
    contract_expiry_multiplier: float  # extra factor while the contract is in its expiry window
    stable_prompt_leave_share: float  # contacted stable customers prompted into warning

    def __post_init__(self) -> None:
        shares = {
            "offer_discount_share": self.offer_discount_share,
            "acceptance": self.acceptance,
            "stable_prompt_leave_share": self.stable_prompt_leave_share,
        }
        for name, value in shares.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"generator profile: measure {name} must be in [0, 1]: {value}")
        factors = [
            self.default_hazard_multiplier,
            self.contract_expiry_multiplier,
            *self.hazard_multiplier.values(),
        ]
        if min(factors) < 0 or self.contact_cost_yuan < 0:
            raise ValueError("generator profile: measure costs and multipliers must be >= 0")
        if self.offer_months < 0 or self.effect_months < 0:
            raise ValueError("generator profile: measure months must be >= 0")


@dataclass(frozen=True)
class ExitSurveyProfile:
    """How the exit survey records a churner's reason: a noisy answer, not the truth.

    A churner states the true reason with ``truthful_share`` (or the reason's own share in
    ``truthful_share_by_reason``); otherwise the recorded answer is drawn from the survey's
    shares for the network, so the recorded mix still matches domain.md §4.1.
    """

    truthful_share: float
    truthful_share_by_reason: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.truthful_share_by_reason) - set(SURVEY_REASONS))
        if unknown:
            raise ValueError(
                f"generator profile: exit_survey.truthful_share_by_reason: {unknown} are not "
                f"survey reasons {list(SURVEY_REASONS)}"
            )
        shares = {"truthful_share": self.truthful_share, **self.truthful_share_by_reason}
        for name, value in shares.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(
                    f"generator profile: exit_survey truthful share {name} must be in [0, 1]: "
                    f"{value}"
                )


@dataclass(frozen=True)
class ShockProfile:
    """What one kind of market shock does to the stable customers it hits."""

    reason: str  # the survey reason (contract.SURVEY_REASONS) they enter warning with
    extra_warning_hazard: float  # monthly probability of that push, on top of the usual hazard

    def __post_init__(self) -> None:
        if self.reason not in SURVEY_REASONS:
            raise ValueError(f"generator profile: shock reason {self.reason!r} is unknown")
        if not 0.0 <= self.extra_warning_hazard <= 1.0:
            raise ValueError("generator profile: extra_warning_hazard must be in [0, 1]")


@dataclass(frozen=True)
class EconomicsProfile:
    margin_share_of_arpu: float  # the operator's true margin on a month of a customer's bill


@dataclass(frozen=True)
class GeneratorProfile:
    networks: dict[str, NetworkProfile]
    hazard: HazardProfile
    groups: GroupProfile
    transitions: TransitionProfile
    contracts: ContractProfile
    usage: UsageProfile
    signatures: dict[str, Signature]
    exit_survey: ExitSurveyProfile
    economics: EconomicsProfile
    measures: dict[str, MeasureProfile]
    shocks: dict[str, ShockProfile]


@cache
def load_profile(path: Path | None = None) -> GeneratorProfile:
    """Load the generator profile; the packaged default unless ``path`` is given."""
    source = path or resources.files("clm.synthetic").joinpath("generator_profile.yaml")
    raw = read_yaml(source)
    raw["measures"] = resolve_families(raw.pop("measure_families"), raw["measures"], str(source))
    return from_dict(GeneratorProfile, raw, where=str(source))


def resolve_families(families: dict, measures: dict, where: str) -> dict:
    """Each measure's values: its family's, overridden by its own (a shallow merge)."""
    resolved = {}
    for code, spec in measures.items():
        values = dict(spec)
        family = values.pop("family", None)
        if family not in families:
            raise ConfigError(
                f"{where}: measures.{code}.family: {family!r} is not one of {sorted(families)}"
            )
        resolved[code] = {**families[family], **values}
    return resolved
