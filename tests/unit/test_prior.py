"""Prior shift: a model trained on an oversampled sample, weighted back to the population."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss
from tests.params import repo_params

from clm.models.prior import at_rate, churner_weight, population_weights, rates_differ
from clm.models.tasks import CHURN, predict, train_rounds

MODEL = replace(repo_params().model, monotone_constraints={})


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


def test_weights_bring_a_sample_to_the_stated_rate_the_larger_class_at_one():
    y = np.array([1] * 50 + [0] * 50)
    weights = population_weights(y, 0.1)
    assert np.average(y, weights=weights) == pytest.approx(0.1)
    assert weights.max() == 1.0 and weights[y == 0].min() == 1.0
    assert churner_weight(y, 0.1) == pytest.approx(1 / 9)  # (0.1 / 0.9) / (0.5 / 0.5)
    assert churner_weight(y, None) == 1.0
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        population_weights(y, 0.0)
    with pytest.raises(ValueError, match="churners and stayers"):
        population_weights(np.ones(10), 0.1)


def test_the_weighted_oversampled_model_is_as_calibrated_as_the_natural_one():
    x, y = population(40_000, seed=1)
    test_x, test_y = population(40_000, seed=2)
    natural = LogisticRegression().fit(x, y).predict_proba(test_x)[:, 1]
    sample_x, sample_y = oversample(x, y, 0.5, seed=3)
    raw = LogisticRegression().fit(sample_x, sample_y).predict_proba(test_x)[:, 1]
    weights = population_weights(sample_y, y.mean())
    fitted = LogisticRegression().fit(sample_x, sample_y, sample_weight=weights)
    weighted = fitted.predict_proba(test_x)[:, 1]

    assert raw.mean() > 5 * test_y.mean()  # unweighted: far too high
    assert weighted.mean() == pytest.approx(test_y.mean(), rel=0.15)
    natural_brier = brier_score_loss(test_y, natural)
    assert brier_score_loss(test_y, weighted) <= 1.05 * natural_brier
    assert brier_score_loss(test_y, raw) > 2 * natural_brier


def test_copied_churners_weighted_to_the_natural_rate_train_the_natural_booster():
    """Each churner copied four times and weighted back to the natural rate: the loss is the
    natural sample's, so XGBoost grows the same trees (features with few distinct values,
    so the histogram cuts are the same too)."""
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.integers(0, 12, size=(600, 3)).astype(float), columns=list("abc"))
    y = (rng.random(600) < 1 / (1 + np.exp(-(x["a"] - 9) / 2))).astype(int).to_numpy()
    copied = np.concatenate([np.flatnonzero(y == 0), np.repeat(np.flatnonzero(y == 1), 4)])
    params = {"max_depth": 3, "learning_rate": 0.3}
    natural = train_rounds(CHURN, params, (x, y), 30, model=MODEL)
    over = (x.iloc[copied].reset_index(drop=True), y[copied])
    weighted = train_rounds(CHURN, params, over, 30, model=MODEL, population_rate=y.mean())
    unweighted = train_rounds(CHURN, params, over, 30, model=MODEL)

    np.testing.assert_allclose(predict(weighted, x), predict(natural, x), atol=1e-5)
    assert predict(unweighted, x).mean() > 1.5 * predict(natural, x).mean()


def test_rates_differ_beyond_sampling_noise_only():
    assert rates_differ(0.5, 4_000, 0.02, 1_000, z_max=3.0)
    assert not rates_differ(0.15, 2_000, 0.16, 600, z_max=3.0)
    assert at_rate(0.021, 1_000, 0.02, z_max=3.0) and not at_rate(0.5, 1_000, 0.02, z_max=3.0)
