"""Per-customer reasons: exact additivity, taxonomy grouping, ranking and nulls."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import shap
import xgboost as xgb
from tests import explained

from clm.domain.stages import STAGES
from clm.domain.taxonomy import load_taxonomy
from clm.explain.reasons import (
    Contributions,
    cause_contributions,
    feature_contributions,
    rank_reasons,
    to_categories,
    to_causes,
    top_categories,
)


@pytest.fixture(scope="module")
def frame():
    return explained.customers()


@pytest.fixture(scope="module")
def models(frame):
    return explained.churn_and_stage_models(frame)


def _margin(model, frame):
    return model.booster.predict(xgb.DMatrix(model.encoder.transform(frame)), output_margin=True)


def test_cause_contributions_add_up_to_the_margin(models, frame):
    churn, _ = models
    causes = cause_contributions(churn, frame)
    bias = feature_contributions(churn, frame).bias
    assert causes.columns == list(load_taxonomy().causes)
    assert causes.height == frame.height
    total = causes.to_numpy().sum(axis=1) + bias
    np.testing.assert_allclose(total, _margin(churn, frame), atol=1e-4)


def test_every_level_adds_up_for_each_stage_class(models, frame):
    _, stage = models
    margins = _margin(stage, frame)
    for index, target in enumerate(("growth", "stable", "warning", "sunk")):
        features = feature_contributions(stage, frame, target)
        for level in (features, to_causes(features), to_categories(to_causes(features))):
            total = level.values.sum(axis=1) + level.bias
            np.testing.assert_allclose(total, margins[:, index], atol=1e-4)


def test_one_hot_columns_are_summed_back_to_their_feature(models, frame):
    churn, _ = models
    features = feature_contributions(churn, frame)
    assert features.names == explained.FEATURES
    assert len(churn.encoder.columns) > len(features.names)


def test_target_class_is_required_exactly_for_multiclass(models, frame):
    churn, stage = models
    with pytest.raises(ValueError, match="target_class"):
        feature_contributions(stage, frame)
    with pytest.raises(ValueError, match="target_class"):
        feature_contributions(churn, frame, "warning")


def test_the_feature_that_drives_churn_is_the_first_reason(models, frame):
    churn, _ = models
    reasons = rank_reasons(to_causes(feature_contributions(churn, frame)), k=3)
    driven = reasons.filter(frame["dropped_call_rate"] > 0.15)
    assert driven.height > 20
    assert (driven["reason_1_cause"] == explained.DRIVER_CAUSE).all()
    assert (driven["reason_1_category"] == "product_quality").all()
    assert (driven["reason_1_contribution"] > 1).all()


def test_reasons_are_ranked_and_null_when_nothing_pushes():
    names = ("price_war", "network_coverage", "billing_errors", "malicious_churn")
    values = np.array(
        [
            [0.2, 0.9, -0.4, 0.5],  # three positive causes, out of order
            [-0.1, 0.3, -0.2, 0.0],  # one positive cause; zero is no reason
            [-1.0, -1.0, -1.0, -1.0],  # nothing pushes towards churn
        ]
    )
    causes = Contributions(names, values, np.zeros(3))
    reasons = rank_reasons(causes, k=3)
    assert reasons.columns == [
        f"reason_{i}_{part}" for i in (1, 2, 3) for part in ("cause", "category", "contribution")
    ]
    assert reasons.row(0) == (
        "network_coverage", "product_quality", pytest.approx(0.9),
        "malicious_churn", "customer_behaviour", pytest.approx(0.5),
        "price_war", "competitor_behaviour", pytest.approx(0.2),
    )  # fmt: skip
    assert reasons.row(1)[:3] == ("network_coverage", "product_quality", pytest.approx(0.3))
    assert reasons.row(1)[3:] == (None,) * 6
    assert reasons.row(2) == (None,) * 9
    assert reasons["reason_1_contribution"].dtype == pl.Float64
    with pytest.raises(ValueError, match="k must be"):
        rank_reasons(causes, k=5)


def test_top_category_counts_only_positive_causes():
    names = ("network_coverage", "handset_quality", "price_war")
    # product quality nets 0.6 - 0.5 = 0.1, but its positive push 0.6 beats price war's 0.4
    causes = Contributions(names, np.array([[0.6, -0.5, 0.4], [-0.1, -0.1, -0.1]]), np.zeros(2))
    assert top_categories(causes).to_list() == ["product_quality", None]


@pytest.mark.parametrize("target", [None, "warning"], ids=["churn", "stage-warning"])
def test_contributions_equal_shap_tree_explainer(models, frame, target):
    """An independent TreeSHAP agrees: shap's path-dependent explainer, without background
    data (with it, shap 0.51 is wrong for xgboost 3 multiclass models; see reasons.py)."""
    model = models[0] if target is None else models[1]
    explainer = shap.TreeExplainer(model.booster, feature_perturbation="tree_path_dependent")
    values = explainer.shap_values(model.encoder.transform(frame))
    if target is not None:  # (n, columns, classes)
        values = values[:, :, STAGES.index(target)]
    ours = feature_contributions(model, frame, target)
    columns = model.encoder.columns
    for j, name in enumerate(ours.names):
        own = [i for i, column in enumerate(columns) if model.encoder.feature_of(column) == name]
        np.testing.assert_allclose(ours.values[:, j], values[:, own].sum(axis=1), atol=1e-4)
