"""Gradient-boosting references measured in the same run: scikit-learn, default settings.

They see the same model matrix (the encoder's columns) and the same rows the clm model saw
(train and valid together: they need no early-stopping part), and are scored on the same
test rows, so the comparison is like for like. The third reference, the logistic
regression, is the project's own baseline (``clm.models.evaluate.fit_logistic_baseline``).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from sklearn.ensemble import GradientBoostingClassifier, HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import make_pipeline

from clm.models.trained import TrainedModel

GRADIENT_BOOSTING = "gradient_boosting"
HIST_GRADIENT_BOOSTING = "hist_gradient_boosting"


def boosting_reference_scores(
    model: TrainedModel, seen: pl.DataFrame, test: pl.DataFrame, seed: int
) -> dict[str, np.ndarray]:
    """Churn probabilities on ``test`` of each reference fitted on ``seen``."""
    references = {
        # GradientBoostingClassifier takes no missing values: median-impute as the logit does
        GRADIENT_BOOSTING: make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True),
            GradientBoostingClassifier(random_state=seed),
        ),
        HIST_GRADIENT_BOOSTING: HistGradientBoostingClassifier(random_state=seed),
    }
    x_seen, y_seen = model.encoder.transform(seen), model.task.labels(seen)
    x_test = model.encoder.transform(test)
    return {
        name: estimator.fit(x_seen, y_seen).predict_proba(x_test)[:, 1]
        for name, estimator in references.items()
    }
