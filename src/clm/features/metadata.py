"""Feature metadata as data: description, unit, cause, kind and legal range per column.

The explain step maps SHAP contributions to churn-reason causes through this table, and the
feature schema is built from it, so a feature without metadata cannot slip through.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from clm.domain.taxonomy import load_taxonomy
from clm.safe_yaml import read_yaml

KINDS = ("float", "int", "bool", "category")


@dataclass(frozen=True)
class FeatureMeta:
    """What one feature column means and which values it may take."""

    name: str
    description: str
    unit: str
    cause: str
    kind: str
    min: float | None = None
    max: float | None = None
    nullable: bool = False
    min_count: int | None = None  # category: levels rarer in training share one column


@cache
def load_feature_metadata() -> dict[str, FeatureMeta]:
    """Read the packaged metadata.yaml, checked by ``parse_feature_metadata``."""
    return parse_feature_metadata(read_yaml(resources.files("clm.features") / "metadata.yaml"))


def parse_feature_metadata(raw: dict[str, dict[str, Any]]) -> dict[str, FeatureMeta]:
    """Metadata entries by feature name, checking every kind and every cause.

    The taxonomy is the one source of cause codes: a feature with no cause, or one the
    taxonomy does not know, is an error, because its SHAP contribution would have no reason.
    """
    causes = load_taxonomy().causes
    table = {}
    for name, entry in raw.items():
        cause = entry.get("cause")
        if cause not in causes:
            what = f"unknown cause '{cause}'" if cause else "no cause"
            raise ValueError(
                f"feature '{name}': {what}; map it to one of the taxonomy's causes {list(causes)}"
            )
        if entry.get("kind") not in KINDS:
            raise ValueError(f"feature '{name}': unknown kind '{entry.get('kind')}'")
        table[name] = FeatureMeta(name=name, **entry)
    return table
