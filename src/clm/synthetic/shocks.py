"""Market shocks: a month-and-region-limited push of stable customers into warning for one
reason (a competitor's launch, a network outage, a tariff change).

Which reason a kind of shock gives and how hard it pushes is the generator profile's
(``shocks:``); when and where one happens is the ``generate.shocks`` params list, empty by
default. The same function gives the generator and the oracle the extra hazard, so the oracle
stays the generator's true probability under a shock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from clm.data import contract
from clm.months import to_index
from clm.synthetic.profile import REGIONS, GeneratorProfile


@dataclass(frozen=True)
class Shock:
    """One shock of ``generate.shocks``."""

    kind: str  # a shock of the generator profile: competitor_launch, network_outage, ...
    onset_month: str  # ISO date of the first month whose transitions it pushes
    region: str | None  # the region it hits (REGIONS); null: every region
    months: int  # how long it lasts; 0: to the end of the window


def check_shocks(shocks: tuple[Shock, ...], profile: GeneratorProfile) -> None:
    """Raise ValueError naming the first shock that names no known kind or region."""
    for index, shock in enumerate(shocks):
        where = f"generate.shocks[{index}]"
        if shock.kind not in profile.shocks:
            raise ValueError(f"{where}.kind: {shock.kind!r} not in {sorted(profile.shocks)}")
        if shock.region is not None and shock.region not in REGIONS:
            raise ValueError(f"{where}.region: {shock.region!r} not in {REGIONS}")
        if date.fromisoformat(shock.onset_month).day != 1 or shock.months < 0:
            raise ValueError(f"{where}: onset_month must be a first of month and months >= 0")


def shock_hazard(
    shocks: tuple[Shock, ...],
    profile: GeneratorProfile,
    region: np.ndarray,
    month: date,
) -> tuple[np.ndarray, np.ndarray]:
    """The extra monthly hazard of entering warning in the step into ``month``, and the survey
    reason (index, -1 where none) it enters with, per subscriber (``region``: region index).

    Several shocks at once combine as independent pushes; the last listed names the reason.
    """
    extra = np.zeros(region.size)
    reason = np.full(region.size, -1, np.int8)
    for shock in shocks:
        start = to_index(date.fromisoformat(shock.onset_month))
        elapsed = to_index(month) - start
        if elapsed < 0 or (shock.months and elapsed >= shock.months):
            continue
        kind = profile.shocks[shock.kind]
        hit = (
            np.ones(region.size, bool)
            if shock.region is None
            else region == REGIONS.index(shock.region)
        )
        extra = np.where(hit, 1 - (1 - extra) * (1 - kind.extra_warning_hazard), extra)
        reason = np.where(hit, contract.SURVEY_REASONS.index(kind.reason), reason).astype(np.int8)
    return extra, reason


def with_shock(hazard: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """The warning hazard with a shock's extra push (unchanged, bit for bit, where none)."""
    return np.where(extra > 0, 1 - (1 - hazard) * (1 - extra), hazard)
