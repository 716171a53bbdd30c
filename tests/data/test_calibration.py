"""The synthetic operator reproduces the seed documents' churn figures (domain.md §5, §4.1)."""

from __future__ import annotations

import pytest

from clm.synthetic.calibration import Figure, measure_calibration, render_markdown


@pytest.fixture(scope="module")
def figures(default_sized_data) -> list[Figure]:
    data = default_sized_data
    return measure_calibration(data.tables.subscribers, data.usage.lazy(), data.tables.churn_events)


@pytest.mark.slow  # generates the default-sized operator
def test_every_seed_figure_is_within_its_tolerance(figures):
    outside = [
        f"{f.name}: target {f.target:.3f}, generated {f.generated:.3f} (±{f.tolerance})"
        for f in figures
        if not f.within_tolerance
    ]
    assert not outside, "\n".join(outside)


@pytest.mark.slow  # generates the default-sized operator
def test_every_seed_figure_is_measured(figures):
    names = {f.name for f in figures}
    assert {"half-year churn rate, network C", "half-year churn rate, network G"} <= names
    assert sum(name.startswith("reason share") for name in names) == 22  # 11 reasons x 2 nets
    assert sum(name.startswith("mean tenure") for name in names) == 4
    assert sum("ARPU" in name for name in names) == 6


def test_report_flags_a_figure_outside_tolerance():
    report = render_markdown([Figure("inside", 0.3, 0.31, 0.02), Figure("outside", 0.3, 0.4, 0.02)])
    assert "1 of 2 figures within tolerance" in report
    assert "| outside | 0.300 | 0.400 | ±0.020 | **NO** |" in report
