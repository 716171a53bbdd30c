"""Evaluation on the out-of-time test month, every scorer side by side.

Churn: the tuned model, a logistic-regression baseline, the seed's rule table (warning stage
as a churn flag) and, on synthetic data, the oracle. Stage: the model and the rule table
against the true latent stage. Curves come back as tables, ready for DVC plots and MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
from sklearn.calibration import calibration_curve
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import precision_recall_curve, roc_curve
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from clm.domain.stages import STAGES
from clm.models.metrics import churn_metrics, gain_table, stage_metrics
from clm.models.trained import TrainedModel

MODEL, LOGREG, RULE, ORACLE = "model", "logistic_regression", "rule_table", "oracle"


@dataclass(frozen=True)
class ChurnEvaluation:
    metrics: dict[str, dict[str, float]]
    curves: dict[str, dict[str, pl.DataFrame]] = field(repr=False)  # curve -> scorer -> table


@dataclass(frozen=True)
class StageEvaluation:
    metrics: dict[str, dict[str, object]]
    predictions: pl.DataFrame = field(repr=False)  # actual / model / rule_table per test row


def fit_logistic_baseline(model: TrainedModel, train: pl.DataFrame):
    """A logistic regression on the same model matrix (median-imputed, standardised)."""
    baseline = make_pipeline(
        SimpleImputer(strategy="median", keep_empty_features=True),
        StandardScaler(),
        LogisticRegression(max_iter=2000),
    )
    return baseline.fit(model.encoder.transform(train), model.task.labels(train))


def evaluate_churn(
    model: TrainedModel,
    baseline,
    test: pl.DataFrame,
    oracle_probability: np.ndarray | None,
) -> ChurnEvaluation:
    """Metrics and curves of every churn scorer on the test month (the rule table only where
    ``test`` has the seed's ``stage_rule``)."""
    y = model.task.labels(test)
    scores = {
        MODEL: model.predict(test),
        LOGREG: baseline.predict_proba(model.encoder.transform(test))[:, 1],
    }
    if "stage_rule" in test.columns:  # snapshot datasets have no rule-table stage
        scores[RULE] = (test["stage_rule"] == "warning").cast(pl.Float64).to_numpy()
    if oracle_probability is not None:
        scores[ORACLE] = oracle_probability
    metrics = {name: churn_metrics(y, score) for name, score in scores.items()}
    curves = {
        "roc": {name: _roc(y, score) for name, score in scores.items()},
        "precision_recall": {name: _precision_recall(y, score) for name, score in scores.items()},
        "gain": {name: gain_table(y, score) for name, score in scores.items()},
        "calibration": {
            name: _calibration(y, score) for name, score in scores.items() if name != RULE
        },
    }
    return ChurnEvaluation(metrics, curves)


def evaluate_stage(model: TrainedModel, test: pl.DataFrame) -> StageEvaluation:
    """Macro-F1 and confusion of the stage model and the rule table vs the true stage."""
    labelled = test.filter(pl.col(model.task.label_column).is_not_null())
    actual = labelled[model.task.label_column].cast(pl.String).to_numpy()
    predicted = np.array(STAGES)[model.predict(labelled).argmax(axis=1)]
    rule = labelled["stage_rule"].cast(pl.String).to_numpy()
    metrics = {
        MODEL: stage_metrics(actual, predicted, STAGES),
        RULE: stage_metrics(actual, rule, STAGES),
    }
    predictions = pl.DataFrame({"actual": actual, MODEL: predicted, RULE: rule})
    return StageEvaluation(metrics, predictions)


def _roc(y: np.ndarray, score: np.ndarray) -> pl.DataFrame:
    fpr, tpr, _ = roc_curve(y, score)
    return _thin(pl.DataFrame({"fpr": fpr, "tpr": tpr}))


def _precision_recall(y: np.ndarray, score: np.ndarray) -> pl.DataFrame:
    precision, recall, _ = precision_recall_curve(y, score)
    return _thin(pl.DataFrame({"recall": recall, "precision": precision}))


def _calibration(y: np.ndarray, score: np.ndarray) -> pl.DataFrame:
    observed, predicted = calibration_curve(y, score, n_bins=10, strategy="quantile")
    return pl.DataFrame({"mean_predicted": predicted, "observed_rate": observed})


def _thin(curve: pl.DataFrame, points: int = 200) -> pl.DataFrame:
    """At most ``points`` rows, keeping both ends, so plot files stay small."""
    if curve.height <= points:
        return curve
    keep = np.unique(np.linspace(0, curve.height - 1, points).round().astype(int))
    return curve[keep]
