"""Evaluation metrics the operator reads: ranking, targeting lift, calibration, stage F1."""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    roc_auc_score,
)

DECILE = 0.10


def top_decile_lift(y_true: np.ndarray, score: np.ndarray) -> float:
    """Churn rate among the 10 % highest scores over the overall churn rate.

    Scores tied at the cut count with their mean churn rate (the expectation under random
    tie-breaking), so a flag-like score such as the rule table is not flattered by row order.
    """
    y_true = np.asarray(y_true, dtype=float)
    score = np.asarray(score, dtype=float)
    n_top = max(1, round(DECILE * y_true.size))
    cut = np.sort(score)[::-1][n_top - 1]
    above = score > cut
    at_cut = score == cut
    churners_in_top = y_true[above].sum() + (n_top - above.sum()) * y_true[at_cut].mean()
    return float(churners_in_top / n_top / y_true.mean())


def expected_calibration_error(
    y_true: np.ndarray, prob: np.ndarray, bins: int = 10, weights: np.ndarray | None = None
) -> float:
    """Mean |observed rate - predicted probability| over equal-count bins, weighted by size.

    With row ``weights`` (a part sampled at another churn rate, re-weighted to the
    population's) rates, probabilities and bin sizes are weighted sums.
    """
    w = np.ones(len(prob)) if weights is None else np.asarray(weights, dtype=float)
    order = np.argsort(prob, kind="stable")
    errors = [
        abs(np.average(y_true[part], weights=w[part]) - np.average(prob[part], weights=w[part]))
        * w[part].sum()
        for part in np.array_split(order, bins)
        if part.size
    ]
    return float(np.sum(errors) / w.sum())


def churn_metrics(y_true: np.ndarray, score: np.ndarray) -> dict[str, float]:
    """ROC-AUC, PR-AUC, top-decile lift, Brier score and ECE of a churn score in [0, 1]."""
    y_true = np.asarray(y_true, dtype=int)
    score = np.asarray(score, dtype=float)
    return {
        "roc_auc": float(roc_auc_score(y_true, score)),
        "pr_auc": float(average_precision_score(y_true, score)),
        "top_decile_lift": top_decile_lift(y_true, score),
        "brier": float(brier_score_loss(y_true, score)),
        "ece": expected_calibration_error(y_true, score),
    }


def stage_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, stages: tuple[str, ...]
) -> dict[str, object]:
    """Macro-F1 and the confusion matrix (rows true, columns predicted, in ``stages`` order)."""
    return {
        "macro_f1": float(f1_score(y_true, y_pred, labels=list(stages), average="macro")),
        "confusion": confusion_matrix(y_true, y_pred, labels=list(stages)).tolist(),
    }


def gain_table(y_true: np.ndarray, score: np.ndarray, points: int = 20) -> pl.DataFrame:
    """Cumulative gain and lift when targeting the top x % by score, at ``points`` cuts."""
    y_true = np.asarray(y_true, dtype=float)
    ranked = y_true[np.argsort(-np.asarray(score, dtype=float), kind="stable")]
    caught = np.cumsum(ranked) / ranked.sum()
    cuts = np.linspace(1 / points, 1, points)
    index = np.maximum(1, np.round(cuts * ranked.size).astype(int)) - 1
    return pl.DataFrame(
        {
            "share_targeted": cuts,
            "share_of_churners_caught": caught[index],
            "lift": caught[index] / cuts,
        }
    )
