"""Evaluation figures as PNG for MLflow (DVC draws its own plots from the CSV files)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and CI

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from clm.domain.stages import STAGES
from clm.models.evaluate import ChurnEvaluation, StageEvaluation

AXES = {
    "roc": ("fpr", "tpr", "ROC curve"),
    "precision_recall": ("recall", "precision", "Precision-recall"),
    "gain": ("share_targeted", "share_of_churners_caught", "Cumulative gain"),
    "calibration": ("mean_predicted", "observed_rate", "Calibration (test month)"),
}


def churn_figures(evaluation: ChurnEvaluation) -> dict[str, Figure]:
    """One figure per curve, every scorer on it."""
    figures = {}
    for curve, (x, y, title) in AXES.items():
        figure, axes = plt.subplots(figsize=(5, 4))
        for scorer, table in evaluation.curves[curve].items():
            axes.plot(table[x], table[y], label=scorer.replace("_", " "))
        if curve in ("roc", "calibration", "gain"):
            axes.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        axes.set(xlabel=x.replace("_", " "), ylabel=y.replace("_", " "), title=title)
        axes.legend(fontsize=8)
        figure.tight_layout()
        figures[f"churn_{curve}.png"] = figure
    return figures


def confusion_figure(evaluation: StageEvaluation, scorer: str) -> Figure:
    """Row-normalised confusion matrix of one stage scorer."""
    counts = np.array(evaluation.metrics[scorer]["confusion"], dtype=float)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    figure, axes = plt.subplots(figsize=(4.5, 4))
    axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    for (row, col), value in np.ndenumerate(counts):
        axes.text(col, row, f"{int(value)}", ha="center", va="center", fontsize=8)
    axes.set(
        xticks=range(len(STAGES)),
        yticks=range(len(STAGES)),
        xticklabels=STAGES,
        yticklabels=STAGES,
        xlabel="predicted",
        ylabel="true",
        title=f"Stage: {scorer.replace('_', ' ')}",
    )
    figure.tight_layout()
    return figure
