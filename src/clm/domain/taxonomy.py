"""The operator's churn-reason taxonomy and retention measures, loaded from ``taxonomy.yaml``.

The taxonomy is data, not code: categories, causes, survey reasons, stages, value tiers and
measures live in the packaged YAML. This module turns it into frozen objects and checks every
cross-reference on load, so a typo fails at once with the entry named, not halfway through a
report or a scoring run.
"""

from __future__ import annotations

import typing
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from clm.config import ConfigError, from_dict
from clm.safe_yaml import YamlError, read_yaml

T = TypeVar("T")

# The survey's shares are rounded whole percentages, so their sum may miss 1 by a little.
SHARE_TOLERANCE = 0.005


class TaxonomyError(ValueError):
    """The taxonomy file is malformed, or a code is not in the taxonomy."""


@dataclass(frozen=True)
class Term:
    """A coded entry with its Chinese and English names, for bilingual reports."""

    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class Controllability(Term):
    """A controllability class and the handling policy it calls for (domain.md §4.2)."""

    internal: bool
    handling_zh: str
    handling_en: str


@dataclass(frozen=True)
class Category(Term):
    """A fishbone category: causes the operator owns (internal) or faces (external)."""

    internal: bool


@dataclass(frozen=True)
class Cause(Term):
    """A churn cause and, per work phase, the measure codes that address it, best first."""

    category: str
    function: str
    controllability: str
    urgency: str
    measures: dict[str, tuple[str, ...]]


@dataclass(frozen=True)
class SurveyReason(Term):
    """An exit-survey reason, its share of churners per network and the cause it maps to."""

    cause: str
    share: dict[str, float]


@dataclass(frozen=True)
class Stage(Term):
    """An operator-model lifecycle stage, the work phase it calls for and its A-E equivalents."""

    phase: str
    consulting_stages: tuple[str, ...]


@dataclass(frozen=True)
class ValueTier(Term):
    """A value tier and the measures too costly to spend on it."""

    excluded_measures: tuple[str, ...]


@dataclass(frozen=True)
class Measure(Term):
    """A retention measure, belonging to one work phase and one function.

    ``needs`` names the clm features the measure rests on (arrears dunning needs arrears):
    it is offered only on data with at least one of them; empty: offered on any data.
    """

    phase: str
    function: str
    needs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Taxonomy:
    """Every table of the taxonomy, each keyed by code in file order."""

    phases: Mapping[str, Term]
    functions: Mapping[str, Term]
    controllability: Mapping[str, Controllability]
    urgency_levels: Mapping[str, Term]
    categories: Mapping[str, Category]
    causes: Mapping[str, Cause]
    survey_reasons: Mapping[str, SurveyReason]
    consulting_stages: Mapping[str, Term]
    stages: Mapping[str, Stage]
    value_tiers: Mapping[str, ValueTier]
    measures: Mapping[str, Measure]

    def cause(self, code: str) -> Cause:
        """The cause with this code."""
        return _lookup(self.causes, code, "cause", "taxonomy")

    def cause_of_reason(self, code: str) -> Cause:
        """The cause an exit-survey reason maps to."""
        return self.cause(_lookup(self.survey_reasons, code, "survey reason", "taxonomy").cause)

    def category_of_reason(self, code: str) -> Category:
        """The fishbone category of an exit-survey reason, via its cause."""
        return self.categories[self.cause_of_reason(code).category]

    def measures_for(self, stage: str, cause: str, value_tier: str) -> tuple[str, ...]:
        """Measure codes for a customer's stage, top cause and value tier, best first.

        The stage picks the work phase; the tier drops measures too costly for it, so a
        low-value customer may get none at all (retention is judged by value, not volume).
        """
        phase = _lookup(self.stages, stage, "stage", "taxonomy").phase
        tier = _lookup(self.value_tiers, value_tier, "value tier", "taxonomy")
        return tuple(
            code for code in self.cause(cause).measures[phase] if code not in tier.excluded_measures
        )

    def offered(self, cause: str, phase: str, features: Collection[str]) -> tuple[str, ...]:
        """The cause's measure codes for ``phase`` that data with ``features`` supports."""
        return tuple(
            code
            for code in self.cause(cause).measures[phase]
            if not self.measures[code].needs or set(self.measures[code].needs) & set(features)
        )


@cache
def load_taxonomy(path: Path | None = None) -> Taxonomy:
    """Load and check the taxonomy; the packaged ``taxonomy.yaml`` unless ``path`` is given."""
    source = path or resources.files("clm.domain").joinpath("taxonomy.yaml")
    try:
        raw = read_yaml(source)
    except YamlError as error:
        raise TaxonomyError(str(error)) from error
    taxonomy = _parse_taxonomy(raw, str(source))
    _check_references(taxonomy, str(source))
    return taxonomy


def _parse_taxonomy(raw: Any, where: str) -> Taxonomy:
    """Build every table from its section, one entry type per section."""
    entry_types = {
        name: typing.get_args(hint)[1] for name, hint in typing.get_type_hints(Taxonomy).items()
    }
    if not isinstance(raw, dict):
        raise TaxonomyError(f"{where}: expected a mapping of sections {list(entry_types)}")
    unknown = sorted(set(raw) - set(entry_types))
    missing = [name for name in entry_types if name not in raw]
    if unknown or missing:
        raise TaxonomyError(f"{where}: unknown sections {unknown}, missing sections {missing}")
    tables = {
        name: _parse_section(raw[name], entry_type, f"{where}:{name}")
        for name, entry_type in entry_types.items()
    }
    return Taxonomy(**tables)


def _parse_section(entries: Any, entry_type: type[Term], where: str) -> Mapping[str, Term]:
    """Parse a list of entries into a read-only table keyed by code, rejecting duplicates."""
    if not isinstance(entries, list):
        raise TaxonomyError(f"{where}: expected a list of entries")
    table: dict[str, Term] = {}
    for index, entry in enumerate(entries):
        label = f"{where}[{entry.get('code', index) if isinstance(entry, dict) else index}]"
        try:
            term = from_dict(entry_type, entry, where=label)
        except ConfigError as error:
            raise TaxonomyError(str(error)) from error
        if term.code in table:
            raise TaxonomyError(f"{label}: duplicate code {term.code!r}")
        if not term.zh.strip() or not term.en.strip():
            raise TaxonomyError(f"{label}: both zh and en names are required")
        table[term.code] = term
    return MappingProxyType(table)


def _check_references(taxonomy: Taxonomy, where: str) -> None:
    """Check that every code one entry names exists, and the rules that tie tables together."""
    for cause in taxonomy.causes.values():
        _check_cause(taxonomy, cause, f"{where}:causes[{cause.code}]")
    for reason in taxonomy.survey_reasons.values():
        _lookup(taxonomy.causes, reason.cause, "cause", f"{where}:survey_reasons[{reason.code}]")
    _check_shares(taxonomy.survey_reasons, f"{where}:survey_reasons")
    for stage in taxonomy.stages.values():
        label = f"{where}:stages[{stage.code}]"
        _lookup(taxonomy.phases, stage.phase, "phase", label)
        for code in stage.consulting_stages:
            _lookup(taxonomy.consulting_stages, code, "consulting stage", label)
    for tier in taxonomy.value_tiers.values():
        for code in tier.excluded_measures:
            _lookup(taxonomy.measures, code, "measure", f"{where}:value_tiers[{tier.code}]")
    for measure in taxonomy.measures.values():
        label = f"{where}:measures[{measure.code}]"
        _lookup(taxonomy.phases, measure.phase, "phase", label)
        _lookup(taxonomy.functions, measure.function, "function", label)


def _check_cause(taxonomy: Taxonomy, cause: Cause, where: str) -> None:
    """Check a cause's references, and that it has measures of the right phase for every phase."""
    category = _lookup(taxonomy.categories, cause.category, "category", where)
    _lookup(taxonomy.functions, cause.function, "function", where)
    _lookup(taxonomy.urgency_levels, cause.urgency, "urgency level", where)
    control = _lookup(taxonomy.controllability, cause.controllability, "controllability", where)
    if control.internal != category.internal:
        raise TaxonomyError(
            f"{where}: controllability {control.code!r} does not fit "
            f"{'an internal' if category.internal else 'an external'} category"
        )
    if set(cause.measures) != set(taxonomy.phases):
        raise TaxonomyError(
            f"{where}: measures must list the phases {list(taxonomy.phases)}, "
            f"got {list(cause.measures)}"
        )
    for phase, codes in cause.measures.items():
        if not codes:
            raise TaxonomyError(f"{where}.measures.{phase}: no measure listed")
        for code in codes:
            measure = _lookup(taxonomy.measures, code, "measure", f"{where}.measures.{phase}")
            if measure.phase != phase:
                raise TaxonomyError(
                    f"{where}.measures.{phase}: {code} is a {measure.phase} measure"
                )


def _check_shares(reasons: Mapping[str, SurveyReason], where: str) -> None:
    """Check that every reason has a share for every network and each network sums to 1."""
    networks = sorted({network for reason in reasons.values() for network in reason.share})
    for network in networks:
        missing = [code for code, reason in reasons.items() if network not in reason.share]
        if missing:
            raise TaxonomyError(f"{where}: no share for network {network!r} in {missing}")
        total = sum(reason.share[network] for reason in reasons.values())
        if abs(total - 1.0) > SHARE_TOLERANCE:
            raise TaxonomyError(f"{where}: network {network!r} shares sum to {total:.3f}, not 1")


def _lookup(table: Mapping[str, T], code: str, kind: str, where: str) -> T:
    """The entry with ``code``, or a TaxonomyError naming the entry that asked for it."""
    if code not in table:
        raise TaxonomyError(f"{where}: unknown {kind} {code!r}; known: {list(table)}")
    return table[code]
