"""The driver mix per region on hand-made high-risk customers: the shares and their test, and
the alert that names region and category."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from clm.monitoring.alerts import regional_driver_alerts
from clm.monitoring.regions import _with_holm_adjusted, regional_shares

CODES = ["competitor_behaviour", "customer_behaviour", "product_quality", "service_level"]
MIX = [0.2, 0.4, 0.3, 0.1]  # each category's chance of being a quiet customer's top reason
FIRST = date(2025, 1, 1)


def month_of(index: int) -> date:
    return date(FIRST.year + (FIRST.month - 1 + index) // 12, (FIRST.month - 1 + index) % 12 + 1, 1)


def risky(month: date, region: str, top_reasons: list[str]) -> pl.DataFrame:
    """One high-risk customer per entry, its top reason the given category (contribution 1)."""
    n = len(top_reasons)
    return pl.DataFrame(
        {
            "snapshot_month": [month] * n,
            "region": [region] * n,
            "reason_1_category": top_reasons,
            "reason_1_contribution": [1.0] * n,
            **{f"reason_{i}_category": [None] * n for i in (2, 3)},
            **{f"reason_{i}_contribution": [None] * n for i in (2, 3)},
        },
        schema_overrides={f"reason_{i}_contribution": pl.Float64 for i in (2, 3)}
        | {f"reason_{i}_category": pl.String for i in (2, 3)},
    )


def drawn(rng: np.random.Generator, month: date, region: str, n: int, mix=MIX) -> pl.DataFrame:
    return risky(month, region, list(rng.choice(CODES, size=n, p=mix)))


def alerts_of(frame: pl.DataFrame, params, min_customers: int = 30):
    t = params.monitor.alerts
    shares = regional_shares(frame, CODES, min_customers)
    return regional_driver_alerts(shares, t.driver_share_change, t.driver_p_value)


def test_shares_change_and_test_per_region():
    frame = pl.concat(
        [
            risky(FIRST, "west", ["competitor_behaviour"] * 20 + ["service_level"] * 80),
            risky(month_of(1), "west", ["competitor_behaviour"] * 60 + ["service_level"] * 40),
            risky(FIRST, "east", ["service_level"] * 50),
            risky(month_of(1), "east", ["service_level"] * 50),
        ]
    )
    shares = regional_shares(frame, CODES, 30)
    west = shares.filter(snapshot_month=month_of(1), region="west", code="competitor_behaviour")
    assert west.select("customers", "share", "top_reason_share").row(0) == (100, 0.6, 0.6)
    assert west["change"][0] == pytest.approx(0.4) and west["p_value"][0] < 1e-8
    east = shares.filter(snapshot_month=month_of(1), region="east", code="service_level")
    assert east["change"][0] == 0 and east["p_value"][0] == 1.0
    assert shares.filter(snapshot_month=FIRST)["p_value"].is_null().all()
    assert shares.group_by("snapshot_month", "region").agg(pl.col("share").sum())[
        "share"
    ].to_list() == pytest.approx([1.0] * 4)


def test_a_region_below_the_minimum_is_left_out():
    frame = pl.concat(
        [risky(FIRST, "west", ["service_level"] * 29), risky(FIRST, "east", ["service_level"])]
    )
    assert regional_shares(frame, CODES, 29)["region"].unique().to_list() == ["west"]


def test_a_shift_in_one_region_alerts_and_names_region_and_category(params):
    rng = np.random.default_rng(5)
    shifted = [0.45, 0.3, 0.175, 0.075]  # competitor behaviour +25 pp, the rest scaled down
    frame = pl.concat(
        [
            drawn(rng, month_of(0), "west", 400),
            drawn(rng, month_of(1), "west", 400, shifted),
            *(drawn(rng, month_of(i), r, 400) for i in (0, 1) for r in ("north", "east")),
        ]
    )
    alerts = alerts_of(frame, params)
    rising = [a for a in alerts if a.value > 0]
    assert [(a.month, a.subject) for a in rising] == [(month_of(1), "west: competitor_behaviour")]
    assert all(a.subject.startswith("west: ") and a.retrain for a in alerts)


def test_noise_in_small_regions_does_not_alert(params):
    """Twelve quiet months of small regions: the shares move past the threshold by chance, the
    test holds the alert back."""
    rng = np.random.default_rng(11)
    regions = {"north": 40, "south": 60, "east": 80, "west": 120, "central": 200}
    frame = pl.concat(
        [drawn(rng, month_of(i), r, n) for i in range(13) for r, n in regions.items()]
    )
    shares = regional_shares(frame, CODES, params.monitor.min_segment_customers)
    moved = shares.filter(pl.col("change").abs() > params.monitor.alerts.driver_share_change)
    assert moved.height > 50  # a fixed threshold alone would fire again and again
    assert alerts_of(frame, params, params.monitor.min_segment_customers) == []


def test_many_quiet_regions_do_not_give_chance_more_tries(params):
    """Three hundred quiet regions for twelve months: 14,400 tests, where an unadjusted
    p < 0.001 fired in 7 of the 12 months; Holm's adjustment over each month's tests holds
    the month's chance of a false alarm at driver_p_value, whatever the number of regions."""
    rng = np.random.default_rng(11)
    frame = pl.concat(
        [drawn(rng, month_of(i), f"city {r}", 100) for i in range(13) for r in range(300)]
    )
    shares = regional_shares(frame, CODES, params.monitor.min_segment_customers)
    assert (shares["p_value"] < 0.001).sum() > 10  # what an unadjusted test would act on
    assert alerts_of(frame, params, params.monitor.min_segment_customers) == []


def test_holm_scales_each_months_ordered_p_values_and_keeps_their_order():
    tests = pl.DataFrame(
        {
            "snapshot_month": [FIRST] * 2 + [month_of(1)] * 4,
            "p_value": [None, None, 0.04, 0.01, 0.03, 0.5],
        }
    )
    adjusted = _with_holm_adjusted(tests).sort("snapshot_month", "p_value", nulls_last=True)
    # four tests in the second month: 4 x 0.01, then 3 x 0.03, max(2 x 0.04, 0.09), 1 x 0.5
    assert adjusted["p_adjusted"].to_list() == pytest.approx(
        [None, None, 0.04, 0.09, 0.09, 0.5], nan_ok=True
    )
