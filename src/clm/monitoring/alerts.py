"""Alerts: each compares one figure of one month with its threshold in ``monitor.alerts``.

A performance-decay or driver-mix-shift alert recommends retraining (``config.RETRAIN``); drift
and data-quality alerts say where to look. The first monitored month (the test month) is the
baseline: it is compared with nothing, and realised performance is judged against it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

import polars as pl

from clm.monitoring.config import RETRAIN, AlertThresholds
from clm.monitoring.scoring import Unscored


@dataclass(frozen=True)
class Alert:
    """One figure beyond its threshold; ``subject`` names what moved (a feature, a category,
    a metric, a table)."""

    kind: str
    month: date
    subject: str
    value: float
    threshold: float

    @property
    def retrain(self) -> bool:
        return self.kind in RETRAIN

    def to_dict(self) -> dict:
        return asdict(self) | {"month": self.month.isoformat(), "retrain": self.retrain}

    def describe(self) -> str:
        where = f"{self.kind} {self.month:%Y-%m}: {self.subject}"
        return f"{where} {self.value:+.3f} (threshold {self.threshold:g})"


def drift_alerts(drift: pl.DataFrame, kind: str, psi_limit: float, p_limit: float) -> list[Alert]:
    """Rows (``snapshot_month``, ``feature``, ``psi``, ``p_value``) whose PSI is above
    ``psi_limit`` with a p-value below ``p_limit`` (a missing p-value does not hold one back)."""
    hits = drift.filter(
        (pl.col("psi") > psi_limit) & (pl.col("p_value").is_null() | (pl.col("p_value") < p_limit))
    )
    return [
        Alert(kind, row["snapshot_month"], row["feature"], row["psi"], psi_limit)
        for row in hits.iter_rows(named=True)
    ]


def driver_alerts(categories: pl.DataFrame, limit: float) -> list[Alert]:
    """Category shares (``with_change``) that moved more than ``limit`` since last month."""
    hits = categories.filter(pl.col("change").abs() > limit)
    return _shifts(hits.with_columns(subject="code"), limit)


def regional_driver_alerts(regions: pl.DataFrame, limit: float, p_limit: float) -> list[Alert]:
    """Regional category shares (``regions.regional_shares``) that moved more than ``limit``
    since last month with a test p-value, Holm-adjusted over the month's regions and
    categories, below ``p_limit`` (a small region's shares are noisy, and many regions give
    chance many tries); the subject names the region and the category
    (``west: competitor_behaviour``)."""
    hits = regions.filter((pl.col("change").abs() > limit) & (pl.col("p_adjusted") < p_limit))
    return _shifts(hits.with_columns(subject=pl.format("{}: {}", "region", "code")), limit)


def _shifts(hits: pl.DataFrame, limit: float) -> list[Alert]:
    return [
        Alert("driver_mix_shift", row["snapshot_month"], row["subject"], row["change"], limit)
        for row in hits.iter_rows(named=True)
    ]


def performance_alerts(realised: pl.DataFrame, t: AlertThresholds) -> list[Alert]:
    """Months whose realised AUC or lift fell beyond their drop from the first month's, or
    whose calibration error is above ``max_ece``; value is the drop (or the ECE)."""
    if realised.is_empty():
        return []
    baseline = realised.row(0, named=True)
    alerts = []
    for row in realised.slice(1).iter_rows(named=True):
        for metric, limit in (("roc_auc", t.auc_drop), ("top_decile_lift", t.lift_drop)):
            drop = baseline[metric] - row[metric]
            if drop > limit:
                alerts.append(
                    Alert("performance_decay", row["snapshot_month"], metric, -drop, limit)
                )
        if row["ece"] > t.max_ece:
            alerts.append(
                Alert("performance_decay", row["snapshot_month"], "ece", row["ece"], t.max_ece)
            )
    return alerts


def quality_alerts(quality: pl.DataFrame, months: list[date], limit: float) -> list[Alert]:
    """Tables whose quarantined share of a monitored month is above ``limit``."""
    hits = quality.filter(pl.col("month").is_in(months) & (pl.col("share") > limit))
    return [
        Alert("data_quality", row["month"], row["table"], row["share"], limit)
        for row in hits.iter_rows(named=True)
    ]


def unscored_alerts(unscored: list[Unscored], scored: dict[date, int], limit: float) -> list[Alert]:
    """Months whose customers the champion could not score (``scored``: the customers it did
    score per month) are more than ``limit`` of the month; the subject names the levels."""
    alerts = []
    for row in unscored:
        share = row.rows / (scored.get(row.month, 0) + row.rows)
        if share > limit:
            alerts.append(Alert("unknown_levels", row.month, row.describe(), share, limit))
    return alerts


def retrain_reasons(alerts: list[Alert], latest: date, latest_realised: date | None) -> list[Alert]:
    """The alerts that recommend retraining now: a driver-mix shift or customers left unscored
    in the latest month, or a decay of the latest month whose churn window has closed."""
    return [
        alert
        for alert in alerts
        if (alert.kind in ("driver_mix_shift", "unknown_levels") and alert.month == latest)
        or (alert.kind == "performance_decay" and alert.month == latest_realised)
    ]
