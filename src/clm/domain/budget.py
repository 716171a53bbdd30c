"""The playbook's retention budget table (domain.md §3), its values from params.yaml."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class BudgetRules:
    """The ``scoring.budget`` params: retention budget caps per value tier.

    A tier listed in neither table (low value) has no cap: the seed gives none.
    """

    acpu_yuan: float  # acquisition cost per user (ACPU), yuan
    maintenance_arpu_share: dict[str, float]  # tier -> monthly cap as a share of ARPU
    winback_acpu_multiple: dict[str, float]  # tier -> total win-back cap as a multiple of ACPU
