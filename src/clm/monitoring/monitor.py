"""One monitoring pass: every monitored month against the training reference and the month
before, gathered into the document ``reports/monitoring.json`` holds, with its alerts.

Pure: frames in, a document out. ``clm.monitoring.stage`` reads the files and scores the months.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from datetime import date

import polars as pl

from clm.domain.taxonomy import load_taxonomy
from clm.monitoring import alerts as find
from clm.monitoring.alerts import Alert
from clm.monitoring.config import MonitorConfig, MonitorError
from clm.monitoring.drift import frame_drift
from clm.monitoring.drivers import SEGMENT, driver_shares, high_risk, reason_rows, with_change
from clm.monitoring.performance import realised_performance
from clm.monitoring.regions import regional_shares
from clm.monitoring.scoring import Unscored

SCORE = "churn_probability"
MIX = ("stage", "value_tier")


@dataclass(frozen=True)
class Monitoring:
    """The document and the alerts, those that recommend retraining now apart."""

    document: dict
    alerts: list[Alert]
    retrain: list[Alert]


def monitor(
    reference: pl.DataFrame,
    months: pl.DataFrame,
    quality: pl.DataFrame,
    unscored: list[Unscored],
    features: list[str],
    config: MonitorConfig,
) -> Monitoring:
    """Compare each month of ``months`` with the reference and with the month before.

    Args:
        reference: The champion's training rows: ``features``, its ``churn_probability`` and
            predicted ``stage``, ``value_tier``.
        months: The scored months, the baseline (test month) first: the reference's columns
            plus ``snapshot_month``, ``region``, ``churn`` (null while open) and the top
            reasons.
        quality: ``clm.monitoring.quality.quarantined_shares``.
        unscored: The customers left out of ``months`` for a level the champion never trained
            on (``clm.monitoring.scoring.split_unscorable``).
        features: The model's feature columns.
        config: The ``monitor`` params.
    """
    by_month = month_slices(months)
    order = list(by_month)
    check_consecutive(order)
    columns = [*features, *(c for c in (SCORE, *MIX) if c not in features)]
    drift = _drift(reference, by_month, columns, config)
    risky = high_risk(months, config.high_risk_share)
    taxonomy = load_taxonomy()
    categories = with_change(driver_shares(reason_rows(risky, "category"), [*taxonomy.categories]))
    causes = with_change(driver_shares(reason_rows(risky, "cause"), [*taxonomy.causes]))
    segments = _segments(risky, [*taxonomy.categories], config.min_segment_customers)
    regions = regional_shares(risky, [*taxonomy.categories], config.min_segment_customers)
    realised = realised_performance(months.select("snapshot_month", "churn", SCORE))
    t = config.alerts
    later = drift.filter(pl.col("snapshot_month") > order[0])
    psi_limit = {"feature_drift": t.feature_psi, "score_drift": t.score_psi, "mix_drift": t.mix_psi}
    alerts = [
        alert
        for kind, limit in psi_limit.items()
        for alert in find.drift_alerts(
            later.filter(_drift_kind() == kind),
            kind,
            limit,
            t.feature_p_value,
        )
    ]
    alerts += [
        *find.driver_alerts(categories, t.driver_share_change),
        *find.regional_driver_alerts(regions, t.driver_share_change, t.driver_p_value),
        *find.performance_alerts(realised, t),
        *find.quality_alerts(quality, order[1:], t.quarantined_share),
        *find.unscored_alerts(
            unscored, {month: rows.height for month, rows in by_month.items()}, t.unscored_share
        ),
    ]
    latest_realised = realised["snapshot_month"].max() if realised.height > 1 else None
    retrain = find.retrain_reasons(alerts, order[-1], latest_realised)
    document = {
        "baseline_month": order[0].isoformat(),
        "latest_month": order[-1].isoformat(),
        "reference": {
            "months": sorted({m.isoformat() for m in reference["snapshot_month"]}),
            "customers": reference.height,
        },
        "months": [
            _month_summary(
                month, current, risky, drift, categories, causes, regions, realised, config
            )
            for month, current in by_month.items()
        ],
        "feature_drift": _records(drift.filter(snapshot_month=order[-1]).drop("snapshot_month")),
        "segments": _records(segments.filter(snapshot_month=order[-1]).drop("snapshot_month")),
        "quality": _records(quality),
        "unscored": [row.to_dict() for row in unscored],
        "thresholds": asdict(t),
        "alerts": [alert.to_dict() for alert in alerts],
        "retrain": {
            "recommended": bool(retrain),
            "because": [alert.describe() for alert in retrain],
        },
    }
    return Monitoring(document, alerts, retrain)


def check_consecutive(order: list[date]) -> None:
    """Raise MonitorError unless the months follow each other with none missing."""
    if not order:
        raise MonitorError("no scored months to monitor")
    for before, after in itertools.pairwise(order):
        if (after.year - before.year) * 12 + after.month - before.month != 1:
            raise MonitorError(
                f"months out of order or missing: {before} is followed by {after}; the monitor "
                "compares each month with the one before"
            )


def month_slices(months: pl.DataFrame) -> dict[date, pl.DataFrame]:
    """Each month's rows, in month order: zero-copy slices when ``months`` is sorted by month
    (as the stage reads it), so a million-row month is not copied again."""
    if not months["snapshot_month"].is_sorted():
        months = months.sort("snapshot_month", maintain_order=True)
    counts = months["snapshot_month"].rle()
    slices, offset = {}, 0
    for month, length in zip(counts.struct.field("value"), counts.struct.field("len"), strict=True):
        slices[month] = months.slice(offset, length)
        offset += length
    return slices


def _drift(
    reference: pl.DataFrame,
    by_month: dict[date, pl.DataFrame],
    columns: list[str],
    config: MonitorConfig,
) -> pl.DataFrame:
    """Per month and column: PSI and test against the reference and against the month before
    (``psi`` and ``p_value`` are the month-before figures, which alerts read)."""
    parts = []
    previous = None
    for month, current in by_month.items():
        against_reference = frame_drift(
            reference, current, columns, config.psi_bins, config.test_rows
        )
        frame = against_reference.select(
            "feature", "kind", psi_reference="psi", p_value_reference="p_value"
        )
        if previous is None:
            frame = frame.with_columns(psi=None, statistic=None, p_value=None)
        else:
            against_previous = frame_drift(
                previous, current, columns, config.psi_bins, config.test_rows
            ).drop("kind")
            frame = frame.join(against_previous, on="feature", maintain_order="left")
        parts.append(frame.with_columns(snapshot_month=pl.lit(month)))
        previous = current
    return pl.concat(parts, how="vertical_relaxed")


def _drift_kind() -> pl.Expr:
    """The alert a column's drift raises: the score, the stage or tier mix, or a feature."""
    kinds = {SCORE: "score_drift", **dict.fromkeys(MIX, "mix_drift")}
    return pl.col("feature").replace_strict(kinds, default="feature_drift", return_dtype=pl.String)


def _segments(risky: pl.DataFrame, codes: list[str], min_customers: int) -> pl.DataFrame:
    """Category shares per value tier x stage with their change, for cells with at least
    ``min_customers`` high-risk customers."""
    counts = risky.group_by("snapshot_month", *SEGMENT).agg(customers=pl.len())
    shares = with_change(driver_shares(reason_rows(risky, "category"), codes, SEGMENT), SEGMENT)
    return (
        shares.join(counts, on=["snapshot_month", *SEGMENT])
        .filter(pl.col("customers") >= min_customers)
        .sort("snapshot_month", *SEGMENT, "code")
    )


def _month_summary(
    month: date,
    current: pl.DataFrame,
    risky: pl.DataFrame,
    drift: pl.DataFrame,
    categories: pl.DataFrame,
    causes: pl.DataFrame,
    regions: pl.DataFrame,
    realised: pl.DataFrame,
    config: MonitorConfig,
) -> dict:
    own = drift.filter(snapshot_month=month)
    psi = dict(own.select("feature", "psi").iter_rows())
    psi_reference = dict(own.select("feature", "psi_reference").iter_rows())
    top = causes.filter(snapshot_month=month).sort("share", descending=True).head(config.top_causes)
    performance = realised.filter(snapshot_month=month).drop("snapshot_month")
    return {
        "month": month.isoformat(),
        "customers": current.height,
        "high_risk_customers": risky.filter(snapshot_month=month).height,
        "mean_churn_probability": float(current[SCORE].mean()),
        "psi_reference": {name: psi_reference[name] for name in (SCORE, *MIX)},
        "psi_previous": {name: psi[name] for name in (SCORE, *MIX)},
        "feature_psi_reference_max": max(psi_reference.values()),
        "mix": {  # in the categories' order: a rerun writes the same file
            column: dict(
                current[column].value_counts(normalize=True, name="share").sort(column).rows()
            )
            for column in MIX
        },
        "categories": _records(categories.filter(snapshot_month=month).drop("snapshot_month")),
        "top_causes": _records(top.drop("snapshot_month")),
        "regions": _records(regions.filter(snapshot_month=month).drop("snapshot_month")),
        "performance": performance.row(0, named=True) if performance.height else None,
    }


def _records(frame: pl.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts (dates as ISO text)."""
    dates = [name for name, dtype in frame.schema.items() if dtype == pl.Date]
    return frame.with_columns(pl.col(dates).cast(pl.String)).to_dicts()
