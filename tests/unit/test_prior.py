"""Prior shift: probabilities learned on an oversampled sample, corrected to the population."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss

from clm.models.calibration import PlattCalibrator
from clm.models.prior import at_rate, correct_prior, log_odds_shift, rates_differ, shifted, then


def population(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Customers churning at about 5 %, with risk rising in one feature."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, 2))
    churned = rng.random(rows) < 1 / (1 + np.exp(-(-3.4 + 1.2 * x[:, 0] - 0.5 * x[:, 1])))
    return x, churned.astype(int)


def oversample(x: np.ndarray, y: np.ndarray, share: float, seed: int):
    """Churners drawn again with replacement until they are ``share`` of the rows."""
    rng = np.random.default_rng(seed)
    stayers = int((y == 0).sum())
    needed = round(share * stayers / (1 - share))
    extra = rng.choice(np.flatnonzero(y == 1), needed, replace=True)
    keep = np.concatenate([np.flatnonzero(y == 0), extra])
    return x[keep], y[keep]


def test_the_corrected_oversampled_model_is_as_calibrated_as_the_natural_one():
    x, y = population(40_000, seed=1)
    test_x, test_y = population(40_000, seed=2)
    natural = LogisticRegression().fit(x, y).predict_proba(test_x)[:, 1]
    sample_x, sample_y = oversample(x, y, 0.5, seed=3)
    raw = LogisticRegression().fit(sample_x, sample_y).predict_proba(test_x)[:, 1]
    corrected = correct_prior(raw, sample_y.mean(), y.mean())

    assert raw.mean() > 5 * test_y.mean()  # uncorrected: far too high
    assert corrected.mean() == pytest.approx(test_y.mean(), rel=0.15)
    natural_brier = brier_score_loss(test_y, natural)
    assert brier_score_loss(test_y, corrected) <= 1.05 * natural_brier
    assert brier_score_loss(test_y, raw) > 2 * natural_brier


def test_no_shift_when_the_rates_are_equal_and_the_shift_is_bayes_rule():
    prob = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(correct_prior(prob, 0.2, 0.2), prob)
    assert log_odds_shift(0.5, 0.02) == pytest.approx(np.log(0.02 / 0.98))
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        log_odds_shift(0.5, 0.0)


def test_calibrators_compose_as_applied_one_after_the_other():
    prob = np.linspace(0.01, 0.99, 25)
    first, second = PlattCalibrator(1.3, -0.2), PlattCalibrator(0.8, 0.5)
    np.testing.assert_allclose(then(first, second).apply(prob), second.apply(first.apply(prob)))
    np.testing.assert_allclose(
        shifted(-1.5).apply(prob), correct_prior(prob, 0.5, 1 / (1 + np.exp(1.5)))
    )


def test_rates_differ_beyond_sampling_noise_only():
    assert rates_differ(0.5, 4_000, 0.02, 1_000, z_max=3.0)
    assert not rates_differ(0.15, 2_000, 0.16, 600, z_max=3.0)
    assert at_rate(0.021, 1_000, 0.02, z_max=3.0) and not at_rate(0.5, 1_000, 0.02, z_max=3.0)
