"""The evaluation metrics the operator reads, on inputs whose answer is known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from clm.models.metrics import expected_calibration_error, gain_table, top_decile_lift


def test_lift_of_a_perfect_ranking_is_one_over_the_churn_rate() -> None:
    y = np.array([1] * 10 + [0] * 90)
    score = np.linspace(1, 0, 100)
    assert top_decile_lift(y, score) == pytest.approx(10.0)


def test_lift_counts_ties_at_the_cut_with_their_mean_rate() -> None:
    # 100 rows, all tied: the top decile is a random draw, so lift is 1 whatever the row order
    y = np.array([1] * 20 + [0] * 80)
    assert top_decile_lift(y, np.full(100, 0.5)) == pytest.approx(1.0)
    assert top_decile_lift(y[::-1], np.full(100, 0.5)) == pytest.approx(1.0)


def test_lift_with_a_partial_tie_at_the_cut() -> None:
    # 5 rows strictly above the cut (all churners), then 10 tied rows with 2 churners for the
    # remaining 5 places: 5 + 5 x 0.2 = 6 churners in the top 10 of 100; 7 churners in all
    y = np.zeros(100)
    y[:5] = 1
    y[5:7] = 1
    score = np.concatenate([np.full(5, 0.9), np.full(10, 0.5), np.full(85, 0.1)])
    assert top_decile_lift(y, score) == pytest.approx((6 / 10) / (7 / 100))


def test_calibration_error_is_zero_when_each_bin_matches_and_grows_with_bias() -> None:
    prob = np.repeat(np.linspace(0.05, 0.95, 10), 100)
    y = np.concatenate(
        [np.r_[np.ones(round(p * 100)), np.zeros(100 - round(p * 100))] for p in prob[::100]]
    )
    assert expected_calibration_error(y, prob) == pytest.approx(0.0, abs=1e-12)
    assert expected_calibration_error(y, np.clip(prob + 0.1, 0, 1)) == pytest.approx(0.1, abs=0.006)


def test_weighted_calibration_error_reads_a_sample_at_the_population_rate() -> None:
    """Churners oversampled by copying: unweighted, a model calibrated on the population
    looks far off; weighted back to the population rate, it is judged as on it."""
    rng = np.random.default_rng(0)
    prob = rng.uniform(0.0, 0.3, 20_000)
    y = (rng.random(prob.size) < prob).astype(int)
    copied = np.concatenate([np.flatnonzero(y == 0), np.repeat(np.flatnonzero(y == 1), 5)])
    weights = np.where(y[copied] == 1, 1 / 5, 1.0)
    natural = expected_calibration_error(y, prob)
    assert expected_calibration_error(y[copied], prob[copied]) > 0.2
    assert expected_calibration_error(y[copied], prob[copied], weights=weights) < 2 * natural + 0.01
    assert expected_calibration_error(y, prob, weights=np.full(y.size, 3.0)) == pytest.approx(
        natural
    )


def test_gain_reaches_all_churners_when_everyone_is_targeted() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    table = gain_table(y, rng.random(200), points=10)
    assert table["share_of_churners_caught"][-1] == pytest.approx(1.0)
    assert table["share_of_churners_caught"].is_sorted()
