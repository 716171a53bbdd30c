"""Pattern TreeSHAP: the same values as XGBoost's exact pred_contribs, for every kind of tree."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import xgboost as xgb
from tests import explained

from clm.domain.stages import STAGES
from clm.explain.reasons import Contributions, rank_reasons, to_causes
from clm.explain.treeshap import exact_contributions, output_groups


@pytest.fixture(scope="module")
def frame():
    """The explain fixture with a missing value in every tenth row, so default branches count."""
    customers = explained.customers(n=800, seed=1)
    missing = pl.int_range(pl.len()) % 10 == 0
    return customers.with_columns(
        pl.when(missing)
        .then(None)
        .otherwise(pl.col("dropped_call_rate"))
        .alias("dropped_call_rate")
    )


@pytest.fixture(scope="module")
def models(frame):
    return explained.churn_and_stage_models(frame)


def _xgboost_contribs(booster, matrix, output_group=0):
    raw = booster.predict(xgb.DMatrix(matrix), pred_contribs=True)
    return raw[:, output_group, :] if raw.ndim == 3 else raw


@pytest.mark.parametrize("target", [None, *STAGES], ids=["churn", *STAGES])
def test_values_equal_xgboost_pred_contribs(models, frame, target):
    model = models[0] if target is None else models[1]
    group = 0 if target is None else STAGES.index(target)
    matrix = model.encoder.transform(frame)
    assert np.isnan(matrix["dropped_call_rate"]).sum() == 80
    values, bias = exact_contributions(model.booster, matrix.to_numpy(), group)
    expected = _xgboost_contribs(model.booster, matrix, group)
    np.testing.assert_allclose(values, expected[:, :-1], atol=1e-5)
    np.testing.assert_allclose(bias, expected[:, -1], atol=1e-6)


@pytest.mark.parametrize("depth", [5, 7], ids=["sorted-patterns", "multi-word-patterns"])
def test_deep_trees_are_exact_too(depth):
    """Trees past 20 splits count their patterns by sorting; past 64, over several words."""
    rng = np.random.default_rng(depth)
    x = rng.normal(size=(3000, 6)).astype(np.float32)
    x[rng.uniform(size=x.shape) < 0.05] = np.nan
    y = (np.nan_to_num(x[:, 0]) + np.nan_to_num(x[:, 1]) * np.nan_to_num(x[:, 2]) > 0).astype(int)
    params = {"max_depth": depth, "min_child_weight": 0, "objective": "binary:logistic"}
    booster = xgb.train(params, xgb.DMatrix(x, y), num_boost_round=5)
    splits = max(tree.count("split_condition") for tree in booster.get_dump(dump_format="json"))
    assert splits > (20 if depth == 5 else 64)
    values, bias = exact_contributions(booster, x)
    expected = _xgboost_contribs(booster, x)
    np.testing.assert_allclose(values, expected[:, :-1], atol=1e-5)
    np.testing.assert_allclose(bias, expected[:, -1], atol=1e-6)


def test_parallel_trees_of_an_iteration_are_explained_together():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2000, 4)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(int)
    params = {"max_depth": 2, "num_parallel_tree": 3, "subsample": 0.5, "colsample_bynode": 0.5}
    booster = xgb.train(params, xgb.DMatrix(x, y), num_boost_round=4)
    values, _ = exact_contributions(booster, x)
    np.testing.assert_allclose(values, _xgboost_contribs(booster, x)[:, :-1], atol=1e-5)


def test_top_three_causes_equal_xgboosts_for_every_customer(models, frame):
    churn, _ = models
    matrix = churn.encoder.transform(frame)

    def top_three(values, bias):
        columns = Contributions(tuple(matrix.columns), values, bias)
        features = columns.grouped({c: churn.encoder.feature_of(c) for c in matrix.columns},
                                   explained.FEATURES)  # fmt: skip
        return rank_reasons(to_causes(features), 3)

    expected = _xgboost_contribs(churn.booster, matrix)
    ours = top_three(*exact_contributions(churn.booster, matrix.to_numpy()))
    theirs = top_three(expected[:, :-1], expected[:, -1])
    causes = [f"reason_{i}_cause" for i in (1, 2, 3)]
    assert ours.select(causes).equals(theirs.select(causes))


def test_no_rows_no_contributions(models, frame):
    churn, _ = models
    matrix = churn.encoder.transform(frame.head(0)).to_numpy()
    values, bias = exact_contributions(churn.booster, matrix)
    assert values.shape == (0, len(churn.encoder.columns)) and bias.shape == (0,)


def test_output_groups_counts_classes(models):
    churn, stage = models
    assert (output_groups(churn.booster), output_groups(stage.booster)) == (1, len(STAGES))
