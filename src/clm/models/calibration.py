"""Platt scaling of churn probabilities, fitted on the validation month when needed."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression

EPSILON = 1e-6


@dataclass(frozen=True)
class PlattCalibrator:
    """p' = sigmoid(slope * logit(p) + intercept)."""

    slope: float
    intercept: float

    @classmethod
    def fit(
        cls, y_true: np.ndarray, prob: np.ndarray, sample_weight: np.ndarray | None = None
    ) -> PlattCalibrator:
        """Fitted on ``prob`` against ``y_true``; ``sample_weight`` re-weights rows (e.g. to
        bring a part sampled at one churn rate to the population's)."""
        model = LogisticRegression(C=1e6).fit(
            _logit(prob)[:, None], y_true, sample_weight=sample_weight
        )
        return cls(slope=float(model.coef_[0, 0]), intercept=float(model.intercept_[0]))

    def apply(self, prob: np.ndarray) -> np.ndarray:
        return expit(self.slope * _logit(prob) + self.intercept)


def _logit(prob: np.ndarray) -> np.ndarray:
    return logit(np.clip(np.asarray(prob, dtype=float), EPSILON, 1 - EPSILON))
