"""The ``monitor`` params: how months are compared and when an alert fires.

Checked once, at the boundary, so a share outside [0, 1] or a bin count below 2 fails with one
line naming the key before any month is scored.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from clm.errors import InputError


class MonitorError(InputError):
    """The monitor cannot compare these months; the message names the file and the rule."""


@dataclass(frozen=True)
class AlertThresholds:
    """When an alert fires. Drift is judged against the previous month, where a shock shows
    as a step; the training reference is reported beside it (slow ageing such as cumulative
    spend would otherwise alert every month)."""

    feature_psi: float  # a feature's PSI vs the previous month above this ...
    feature_p_value: float  # ... and its KS / chi-square p-value below this: feature drift
    score_psi: float  # churn-probability PSI vs the previous month: score drift
    mix_psi: float  # stage or value-tier mix PSI vs the previous month: mix drift
    driver_share_change: float  # a category's driver share moving this much (share points)
    driver_p_value: float  # ... and, in a region, its top-reason test's p-value, Holm-adjusted
    # over the month's regions x categories, below this
    auc_drop: float  # realised ROC-AUC this far below the test month's: performance decay
    lift_drop: float  # realised top-decile lift this far below the test month's
    max_ece: float  # realised calibration error above this
    quarantined_share: float  # a table's quarantined share of a month above this
    unscored_share: float  # a month's customers the champion cannot score (a level it never
    # trained on, e.g. a region opened since), as a share of the month, above this: retrain


@dataclass(frozen=True)
class MonitorConfig:
    """The ``monitor`` section of params.yaml."""

    psi_bins: int  # equal-count bins of the reference for a numeric feature's PSI
    test_rows: int  # the KS test reads at most this many values a side (PSI reads all)
    high_risk_share: float  # the driver mix is read over this top share by churn risk
    top_causes: int  # causes listed per month in the driver mix
    min_segment_customers: int  # a value tier x stage cell or a region needs this many
    chunk_rows: int  # feature rows scored at once (bounds the TreeSHAP matrices in memory)
    alerts: AlertThresholds


# alert kinds that recommend retraining
RETRAIN = ("performance_decay", "driver_mix_shift", "unknown_levels")


def check_config(config: MonitorConfig) -> None:
    """Raise MonitorError naming the first key whose value makes no sense."""
    where = "params.yaml monitor"
    if config.psi_bins < 2:
        raise MonitorError(f"{where}.psi_bins must be >= 2, got {config.psi_bins}")
    if not 0 < config.high_risk_share <= 1:
        raise MonitorError(
            f"{where}.high_risk_share must be in (0, 1], got {config.high_risk_share}"
        )
    for key in ("test_rows", "top_causes", "min_segment_customers", "chunk_rows"):
        if getattr(config, key) < 1:
            raise MonitorError(f"{where}.{key} must be >= 1, got {getattr(config, key)}")
    for field in fields(AlertThresholds):
        value = getattr(config.alerts, field.name)
        if value < 0:
            raise MonitorError(f"{where}.alerts.{field.name} must be >= 0, got {value}")
    if config.alerts.driver_p_value > 1:
        raise MonitorError(
            f"{where}.alerts.driver_p_value must be <= 1, got {config.alerts.driver_p_value}"
        )
