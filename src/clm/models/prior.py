"""Prior shift: a model trained at one churn rate, used on a population at another.

A training sample oversampled to 50 % churners teaches the model 50 % odds; scored on a
population churning at 2 %, its probabilities are some twenty times too high, and every budget
decision built on them is wrong. Bayes' rule gives the fix when only the class balance changed
(the churners and stayers themselves look alike in both): add to each log-odds
``log(pi_pop / (1 - pi_pop)) - log(pi_train / (1 - pi_train))``. Calibration then follows only
on a part at the natural rate, since one at the training rate would undo the correction; a
validation part sampled like the training rows is re-weighted to the population rate for it.

The monthly pipeline (``train.population_churn_rate``) and the snapshot path (the mapping's
``population.churn_rate``) both go through ``fit_final``, which calls this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit

from clm.models.calibration import EPSILON, PlattCalibrator


@dataclass(frozen=True)
class PriorReport:
    """The churn rates a fit saw and stated, and what was done about them (for reports)."""

    train_rate: float  # the rows the booster learned from
    train_rows: int
    valid_rate: float
    population_rate: float | None  # as stated (params or mapping); None: not stated
    log_odds_shift: float  # added to every log-odds; 0 when nothing was corrected
    valid_at_natural_rate: bool  # the validation part churns at the stated rate
    action: str  # one line for the reports


def log_odds_shift(train_rate: float, population_rate: float) -> float:
    """What Bayes' rule adds to a log-odds learned at ``train_rate`` to hold at
    ``population_rate``."""
    for rate in (train_rate, population_rate):
        if not 0 < rate < 1:
            raise ValueError(f"a churn rate must lie strictly between 0 and 1, got {rate}")
    return float(logit(population_rate) - logit(train_rate))


def correct_prior(prob: np.ndarray, train_rate: float, population_rate: float) -> np.ndarray:
    """``prob`` (learned at ``train_rate``) as it holds at ``population_rate``."""
    clipped = np.clip(np.asarray(prob, dtype=float), EPSILON, 1 - EPSILON)
    return expit(logit(clipped) + log_odds_shift(train_rate, population_rate))


def shifted(shift: float) -> PlattCalibrator:
    """The calibrator that adds ``shift`` to every log-odds (a prior correction, stored and
    applied like any Platt scaling)."""
    return PlattCalibrator(slope=1.0, intercept=shift)


def then(first: PlattCalibrator, second: PlattCalibrator) -> PlattCalibrator:
    """One calibrator equal to ``second`` applied after ``first`` (both act on log-odds)."""
    return PlattCalibrator(
        slope=second.slope * first.slope,
        intercept=second.slope * first.intercept + second.intercept,
    )


def population_weights(y_true: np.ndarray, population_rate: float) -> np.ndarray:
    """Row weights under which ``y_true`` churns at ``population_rate``: a part sampled at
    another rate, weighted, stands in for one at the natural rate (for calibration)."""
    y = np.asarray(y_true)
    rate = y.mean()
    churner = population_rate / rate
    stayer = (1 - population_rate) / (1 - rate)
    return np.where(y == 1, churner, stayer) / max(churner, stayer)


def rates_differ(rate_a: float, rows_a: int, rate_b: float, rows_b: int, z_max: float) -> bool:
    """Whether two observed churn rates differ by more than ``z_max`` standard errors (pooled
    two-proportion z-test): more than sampling noise between parts of one population."""
    pooled = (rate_a * rows_a + rate_b * rows_b) / (rows_a + rows_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / rows_a + 1 / rows_b))
    return se > 0 and abs(rate_a - rate_b) / se > z_max


def at_rate(observed: float, rows: int, stated: float, z_max: float) -> bool:
    """Whether ``rows`` churning at ``observed`` fit a population rate ``stated``
    (within ``z_max`` binomial standard errors)."""
    se = math.sqrt(stated * (1 - stated) / rows)
    return abs(observed - stated) <= z_max * se
