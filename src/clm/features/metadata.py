"""Feature metadata as data: description, unit, cause, kind and legal range per column.

The explain step maps SHAP contributions to churn-reason causes through this table, and the
feature schema is built from it, so a feature without metadata cannot slip through.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

# The 23 fishbone causes of domain.md §4.2, as coded in src/clm/explain/taxonomy.yaml.
CAUSE_CODES = (
    "call_quality",
    "network_coverage",
    "service_offering",
    "handset_quality",
    "policy_loopholes",
    "promotion_intensity",
    "market_separation",
    "billing_errors",
    "service_attitude",
    "handset_after_sales",
    "organisation_investment",
    "processes_rules",
    "inauthentic_records",
    "channel_service_gaps",
    "loose_channel_management",
    "dealer_speculation",
    "competitor_poaching",
    "price_war",
    "competitor_brand_advantage",
    "falling_satisfaction",
    "consumption_substitution",
    "chasing_promotions",
    "malicious_churn",
)
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


@cache
def load_feature_metadata() -> dict[str, FeatureMeta]:
    """Read metadata.yaml, checking every cause code and kind."""
    text = resources.files("clm.features").joinpath("metadata.yaml").read_text(encoding="utf-8")
    table = {name: FeatureMeta(name=name, **entry) for name, entry in yaml.safe_load(text).items()}
    for meta in table.values():
        if meta.cause not in CAUSE_CODES:
            raise ValueError(f"feature '{meta.name}': unknown cause '{meta.cause}'")
        if meta.kind not in KINDS:
            raise ValueError(f"feature '{meta.name}': unknown kind '{meta.kind}'")
    return table
