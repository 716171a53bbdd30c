"""Monitoring's parts on hand-made frames: PSI and the tests, the driver mix and its change,
realised performance, data quality, alerts and the retrain verdict."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import polars as pl
import pytest

from clm.monitoring.alerts import (
    Alert,
    drift_alerts,
    driver_alerts,
    performance_alerts,
    quality_alerts,
    retrain_reasons,
    unscored_alerts,
)
from clm.monitoring.config import MonitorError, check_config
from clm.monitoring.drift import (
    categorical_drift,
    frame_drift,
    numeric_drift,
    population_stability_index,
)
from clm.monitoring.drivers import driver_shares, high_risk, reason_rows, with_change
from clm.monitoring.monitor import check_consecutive
from clm.monitoring.performance import realised_performance
from clm.monitoring.quality import quarantined_shares
from clm.monitoring.scoring import Unscored

JAN, FEB, MAR = date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1)
RNG = np.random.default_rng(3)


def test_psi_is_zero_for_equal_shares_and_grows_with_the_move():
    assert population_stability_index([0.5, 0.5], [0.5, 0.5]) == 0
    small = population_stability_index([0.5, 0.5], [0.45, 0.55])
    large = population_stability_index([0.5, 0.5], [0.2, 0.8])
    assert 0 < small < 0.1 < 0.25 < large


def test_a_shifted_number_drifts_and_a_resample_does_not():
    reference = pl.Series("x", RNG.normal(0, 1, 20_000))
    same = pl.Series("x", RNG.normal(0, 1, 20_000))
    shifted = pl.Series("x", RNG.normal(1, 1, 20_000))
    psi_same, _, p_same = numeric_drift(reference, same, 10, 100_000)
    psi_shifted, ks, p_shifted = numeric_drift(reference, shifted, 10, 100_000)
    assert psi_same < 0.01 and p_same > 0.001
    assert psi_shifted > 0.25 and ks > 0.3 and p_shifted < 1e-10


def test_the_test_reads_a_thinned_sample_and_still_sees_a_shift():
    reference = pl.Series("x", RNG.normal(0, 1, 20_000))
    shifted = pl.Series("x", RNG.normal(0.3, 1, 20_000))
    _, _, p_value = numeric_drift(reference, shifted, 10, 2_000)
    assert p_value < 1e-6


def test_nulls_are_a_bin_of_their_own():
    reference = pl.Series("x", [1.0, 2.0, 3.0, 4.0] * 500)
    with_nulls = pl.Series("x", [1.0, 2.0, None, None] * 500)
    psi, _, _ = numeric_drift(reference, with_nulls, 4, 100_000)
    assert psi > 1


def test_a_category_mix_that_moved_drifts_by_chi_square():
    reference = pl.Series("tier", ["high"] * 100 + ["low"] * 900)
    moved = pl.Series("tier", ["high"] * 300 + ["low"] * 700)
    psi, statistic, p_value = categorical_drift(reference, moved)
    assert psi > 0.1 and statistic > 50 and p_value < 1e-10
    assert categorical_drift(reference, reference)[0] == 0


def test_frame_drift_picks_the_test_by_dtype():
    frame = pl.DataFrame({"x": RNG.normal(0, 1, 500), "flag": RNG.random(500) > 0.5})
    drift = frame_drift(frame, frame, ["x", "flag"], 10, 100_000)
    assert drift["kind"].to_list() == ["numeric", "categorical"]
    assert drift["psi"].to_list() == [0, 0]


def scored(month: date, categories: list[str], contributions: list[float]) -> pl.DataFrame:
    """One customer per entry, its single reason the given category and contribution."""
    n = len(categories)
    return pl.DataFrame(
        {
            "snapshot_month": [month] * n,
            "value_tier": ["high"] * n,
            "stage": ["warning"] * n,
            "churn_probability": np.linspace(0.9, 0.1, n),
            "reason_1_category": categories,
            "reason_1_cause": categories,
            "reason_1_contribution": contributions,
            **{f"reason_{i}_{part}": [None] * n for i in (2, 3) for part in ("category", "cause")},
            **{f"reason_{i}_contribution": [None] * n for i in (2, 3)},
        },
        schema_overrides={f"reason_{i}_contribution": pl.Float64 for i in (2, 3)}
        | {f"reason_{i}_{p}": pl.String for i in (2, 3) for p in ("category", "cause")},
    )


def test_driver_shares_weigh_positive_contributions_and_list_every_code():
    month = scored(JAN, ["price", "price", "network"], [1.0, 1.0, 2.0])
    shares = driver_shares(reason_rows(month, "category"), ["network", "price", "service"])
    assert dict(shares.select("code", "share").iter_rows()) == {
        "network": 0.5, "price": 0.5, "service": 0.0,
    }  # fmt: skip


def test_the_change_is_against_the_previous_month():
    months = pl.concat(
        [
            scored(JAN, ["price", "network"], [1.0, 1.0]),
            scored(FEB, ["price", "network", "network", "network"], [1.0, 1.0, 1.0, 1.0]),
        ]
    )
    changes = with_change(driver_shares(reason_rows(months, "category"), ["network", "price"]))
    feb = dict(changes.filter(snapshot_month=FEB).select("code", "change").iter_rows())
    assert feb == pytest.approx({"network": 0.25, "price": -0.25})
    assert changes.filter(snapshot_month=JAN)["change"].is_null().all()


def test_high_risk_is_the_top_share_of_each_month():
    months = pl.concat([scored(JAN, ["a"] * 10, [1.0] * 10), scored(FEB, ["a"] * 20, [1.0] * 20)])
    risky = high_risk(months, 0.1)
    assert risky.group_by("snapshot_month").len().sort("snapshot_month")["len"].to_list() == [1, 2]
    assert risky["churn_probability"].min() == pytest.approx(0.9 - 0.8 / 19)


def test_realised_performance_skips_months_whose_window_is_open():
    labels = [0, 0, 1, 1]
    frame = pl.DataFrame(
        {
            "snapshot_month": [JAN] * 4 + [FEB] * 4,
            "churn": labels + [None] * 4,
            "churn_probability": [0.1, 0.2, 0.8, 0.9] * 2,
        },
        schema_overrides={"churn": pl.Int8},
    )
    realised = realised_performance(frame)
    assert realised["snapshot_month"].to_list() == [JAN]
    assert realised["roc_auc"][0] == 1.0 and realised["churn_rate"][0] == 0.5


def test_quarantined_share_per_table_and_month():
    accepted = {
        "usage_monthly": pl.LazyFrame({"month": [JAN] * 99 + [FEB] * 100}),
        "subscribers": pl.LazyFrame({"join_month": [JAN]}),
        "churn_events": pl.LazyFrame({"churn_month": [FEB]}),
    }
    quarantined = {
        "usage_monthly": pl.LazyFrame({"month": [JAN]}),
        "subscribers": pl.LazyFrame({"join_month": []}, schema={"join_month": pl.Date}),
        "churn_events": pl.LazyFrame({"churn_month": []}, schema={"churn_month": pl.Date}),
    }
    quality = quarantined_shares(accepted, quarantined).filter(table="usage_monthly")
    assert quality.select("month", "rows", "quarantined", "share").rows() == [
        (JAN, 100, 1, 0.01), (FEB, 100, 0, 0.0),
    ]  # fmt: skip
    assert quality_alerts(quality, [JAN, FEB], 0.005) == [
        Alert("data_quality", JAN, "usage_monthly", 0.01, 0.005)
    ]


def test_a_drift_alert_needs_both_a_large_psi_and_a_small_p_value():
    drift = pl.DataFrame(
        {
            "snapshot_month": [FEB] * 3,
            "feature": ["moved", "noisy", "unmoved"],
            "psi": [0.4, 0.4, 0.01],
            "p_value": [1e-9, 0.2, 1e-9],
        }
    )
    assert [a.subject for a in drift_alerts(drift, "feature_drift", 0.25, 0.001)] == ["moved"]


def test_the_driver_alert_names_the_category_that_moved():
    changes = pl.DataFrame(
        {
            "snapshot_month": [JAN, JAN, FEB, FEB],
            "code": ["competitor_behaviour", "product_quality"] * 2,
            "change": [None, None, 0.12, -0.12],
        },
        schema_overrides={"change": pl.Float64},
    )
    alerts = driver_alerts(changes, 0.05)
    assert [(a.subject, a.value) for a in alerts] == [
        ("competitor_behaviour", 0.12), ("product_quality", -0.12),
    ]  # fmt: skip
    assert all(a.retrain for a in alerts)


def test_decay_is_judged_against_the_first_realised_month(params):
    realised = pl.DataFrame(
        {
            "snapshot_month": [JAN, FEB, MAR],
            "roc_auc": [0.80, 0.79, 0.70],
            "top_decile_lift": [3.0, 2.9, 2.9],
            "ece": [0.01, 0.01, 0.2],
        }
    )
    alerts = performance_alerts(realised, params.monitor.alerts)
    assert [(a.month, a.subject) for a in alerts] == [(MAR, "roc_auc"), (MAR, "ece")]
    assert alerts[0].value == pytest.approx(-0.10)


def test_only_new_alerts_that_matter_trigger_a_retrain():
    old_shift = Alert("driver_mix_shift", JAN, "price", 0.1, 0.05)
    new_shift = Alert("driver_mix_shift", FEB, "price", 0.1, 0.05)
    decay = Alert("performance_decay", JAN, "roc_auc", -0.1, 0.03)
    drift = Alert("feature_drift", FEB, "arpu", 0.5, 0.25)
    alerts = [old_shift, new_shift, decay, drift]
    assert retrain_reasons(alerts, FEB, JAN) == [new_shift, decay]
    assert retrain_reasons(alerts, FEB, None) == [new_shift]


def test_customers_the_champion_cannot_score_alert_beyond_their_share():
    few = Unscored(JAN, 1, {"region": ["新疆"]})
    many = Unscored(FEB, 30, {"region": ["新疆", "西藏"], "brand": ["flagship"]})
    alerts = unscored_alerts([few, many], {JAN: 1999, FEB: 970}, 0.001)
    assert [(a.month, a.subject, a.value) for a in alerts] == [
        (FEB, "region: 新疆, 西藏; brand: flagship", pytest.approx(0.03))
    ]
    assert alerts[0].retrain
    assert retrain_reasons(alerts, FEB, None) == alerts
    assert retrain_reasons(alerts, MAR, None) == []


@pytest.mark.parametrize("order", [[JAN, MAR], [FEB, JAN], []])
def test_months_out_of_order_or_missing_are_refused(order):
    with pytest.raises(MonitorError):
        check_consecutive(order)


def test_a_share_outside_its_range_is_named(params):
    with pytest.raises(MonitorError, match=r"monitor\.high_risk_share must be in"):
        check_config(replace(params.monitor, high_risk_share=1.5))
    bad = replace(params.monitor.alerts, auc_drop=-1)
    with pytest.raises(MonitorError, match=r"monitor\.alerts\.auc_drop must be >= 0"):
        check_config(replace(params.monitor, alerts=bad))
