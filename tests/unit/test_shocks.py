"""Market shocks in the generator: each raises churn for its own true reason, where and when it
hits, and leaves the rest of the world as it was (common seeds)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from functools import cache

import numpy as np
import polars as pl
import pytest
from tests.fixtures import generate_in_memory
from tests.params import repo_params

from clm.synthetic.profile import load_profile
from clm.synthetic.shocks import Shock, shock_hazard, with_shock

ONSET = date(2024, 7, 1)
BASE = replace(
    repo_params().generate, seed=9, n_subscribers=6_000, n_months=12, first_month="2024-01-01"
)
SHOCKS = {
    "competitor_launch": ("west", "brand_image"),
    "network_outage": ("north", "coverage_quality"),
    "tariff_change": (None, "price"),
}


@cache
def world(kind: str | None):
    """Usage and churners (true reason, region, churn month) with one shock, or none."""
    shocks = () if kind is None else (Shock(kind, ONSET.isoformat(), SHOCKS[kind][0], 0),)
    data = generate_in_memory(replace(BASE, shocks=shocks))
    tables = data.tables
    churners = tables.churn_events.join(
        tables.truth_subscribers.select("subscriber_id", "true_reason"), on="subscriber_id"
    ).join(tables.subscribers.select("subscriber_id", "region"), on="subscriber_id")
    return data.usage, churners


def after_onset(churners: pl.DataFrame, region: str | None, inside: bool) -> pl.DataFrame:
    hit = pl.lit(True) if region is None else pl.col("region") == region
    return churners.filter((pl.col("churn_month") > ONSET) & (hit if inside else ~hit))


@pytest.mark.parametrize("kind", sorted(SHOCKS))
def test_a_shock_changes_nothing_before_its_onset(kind):
    (usage, _), (shocked, _) = world(None), world(kind)
    before = pl.col("month") < ONSET
    assert usage.filter(before).equals(shocked.filter(before))


@pytest.mark.parametrize("kind", sorted(SHOCKS))
def test_a_shock_raises_its_reasons_churn_where_it_hits(kind):
    region, reason = SHOCKS[kind]
    (_, calm), (_, shocked) = world(None), world(kind)
    calm_hit = after_onset(calm, region, inside=True).filter(true_reason=reason).height
    shocked_hit = after_onset(shocked, region, inside=True).filter(true_reason=reason).height
    assert shocked_hit > 2.5 * calm_hit


@pytest.mark.parametrize("kind", sorted(SHOCKS))
def test_a_shock_raises_no_other_reason_and_leaves_other_regions_alone(kind):
    """Where it hits, other reasons' churn does not rise (it may fall: the customers a shock
    takes cannot leave for another reason later); elsewhere churn is as without it."""
    region, reason = SHOCKS[kind]
    (_, calm), (_, shocked) = world(None), world(kind)
    others = pl.col("true_reason") != reason
    calm_others = after_onset(calm, region, inside=True).filter(others).height
    shocked_others = after_onset(shocked, region, inside=True).filter(others).height
    assert shocked_others < 1.1 * calm_others
    if region is not None:
        outside = [after_onset(c, region, inside=False).height for c in (calm, shocked)]
        assert outside[1] == pytest.approx(outside[0], rel=0.1)


def test_the_push_is_limited_to_its_region_and_months():
    profile = load_profile()
    shock = Shock("network_outage", "2024-07-01", "north", 2)
    regions = np.array([0, 1])  # north, south
    push = profile.shocks["network_outage"].extra_warning_hazard
    for month, expected in ((date(2024, 6, 1), 0), (date(2024, 7, 1), push), (date(2024, 9, 1), 0)):
        extra, _ = shock_hazard((shock,), profile, regions, month)
        assert extra.tolist() == pytest.approx([expected, 0])
    hazard = np.array([0.1, 0.1])
    assert with_shock(hazard, np.array([0.0, 0.5])).tolist() == pytest.approx([0.1, 0.55])
