"""Prior shift: a model trained at one churn rate, used on a population at another.

A training sample oversampled to 50 % churners teaches the model 50 % odds; scored on a
population churning at 2 %, its probabilities are some twenty times too high, and every budget
decision built on them is wrong. When the population's rate is stated, every boosting fit
(tuning trials, their early stopping, cross-validation, the final fit and its refit) learns
from importance-weighted rows: churners weighted so that the weighted rate is the stated one.
For churners oversampled by copying, that is the natural-rate loss itself (a churner copied
``m`` times counts ``m`` times ``1 / m``), so tuning and early stopping judge the model as on
the natural sample, and its probabilities need no log-odds correction afterwards (a
correction on top would move them twice). Calibration follows on the validation part
weighted the same way, since unweighted it would pull the probabilities back to the sample's
rate.

The monthly pipeline (``train.population_churn_rate``) and the snapshot path (the mapping's
``population.churn_rate``) both go through ``clm.models.tasks`` and ``fit_final``, which call
this module.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class PriorReport:
    """The churn rates a fit saw and stated, and what was done about them (for reports)."""

    train_rate: float  # the rows the booster learned from, unweighted
    train_rows: int
    valid_rate: float
    population_rate: float | None  # as stated (params or mapping); None: not stated
    churner_weight: float  # a training churner's weight over a stayer's; 1 when unweighted
    valid_at_natural_rate: bool  # the validation part churns at the stated rate
    action: str  # one line for the reports


def population_weights(y_true: np.ndarray, population_rate: float) -> np.ndarray:
    """Row weights under which ``y_true`` churns at ``population_rate``, the larger class at
    weight 1: a part sampled at another rate, weighted, stands in for one at the natural
    rate (churners oversampled by copying count once each, as in the natural sample)."""
    y = np.asarray(y_true)
    churner, stayer = _class_weights(y, population_rate)
    return np.where(y == 1, churner, stayer)


def churner_weight(y_true: np.ndarray, population_rate: float | None) -> float:
    """A churner's weight over a stayer's in ``population_weights`` (1: unweighted)."""
    if population_rate is None:
        return 1.0
    churner, stayer = _class_weights(np.asarray(y_true), population_rate)
    return churner / stayer


def _class_weights(y: np.ndarray, population_rate: float) -> tuple[float, float]:
    """The churner's and the stayer's weight, the larger 1."""
    if not 0 < population_rate < 1:
        raise ValueError(f"a churn rate must lie strictly between 0 and 1, got {population_rate}")
    rate = y.mean()
    if not 0 < rate < 1:
        raise ValueError("re-weighting to a churn rate needs churners and stayers")
    churner = population_rate / rate
    stayer = (1 - population_rate) / (1 - rate)
    top = max(churner, stayer)
    return float(churner / top), float(stayer / top)


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
