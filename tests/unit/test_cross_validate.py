"""Cross-validated tuning on small data: identical rows never straddle folds."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from tests.params import repo_params

from clm.models.tasks import CHURN, cross_validate, grouped_folds

LOGLOSS = replace(CHURN, eval_metric="logloss", maximize=False)
MODEL = replace(
    repo_params().model, max_boost_rounds=200, early_stopping_rounds=20, monotone_constraints={}
)
DEEP = {"max_depth": 8, "learning_rate": 0.3, "min_child_weight": 0.1, "reg_lambda": 0.01}


def five_folds(seen: tuple[pd.DataFrame, np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    return grouped_folds(seen, 5, MODEL.seed)


def test_each_row_is_held_out_once_and_its_copies_with_it():
    rng = np.random.default_rng(3)
    x = pd.DataFrame(rng.integers(0, 3, size=(400, 2)), columns=list("ab"))  # many identical
    y = rng.integers(0, 2, 400)
    folds = five_folds((x, y))
    held_out = np.concatenate([test for _, test in folds])
    assert np.array_equal(np.sort(held_out), np.arange(400))
    fold_of_row = np.empty(400, dtype=int)
    for k, (train, test) in enumerate(folds):
        assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(400))
        fold_of_row[test] = k
    rows = x.assign(y=y, fold=fold_of_row)
    assert (rows.groupby(["a", "b", "y"])["fold"].nunique() == 1).all()


def test_copies_of_a_row_share_a_fold_so_memorising_them_does_not_pay():
    """Noise labels, every row copied five times (churners oversampled by copying): a deep
    model memorises the rows, which pays only if a copy can land in a held-out fold."""
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(300, 4)), columns=list("abcd"))
    y = rng.integers(0, 2, 300)
    copies = (pd.concat([x] * 5, ignore_index=True), np.tile(y, 5))
    loss, rounds = cross_validate(LOGLOSS, DEEP, copies, five_folds(copies), model=MODEL)
    assert loss > 0.65  # no better than guessing (ln 2 = 0.693), as noise should be
    assert 1 <= rounds <= MODEL.max_boost_rounds


def test_signal_is_found_through_the_folds():
    rng = np.random.default_rng(1)
    x = pd.DataFrame(rng.normal(size=(1000, 3)), columns=list("abc"))
    y = (rng.random(1000) < 1 / (1 + np.exp(-3 * x["a"]))).astype(int).to_numpy()
    loss, _ = cross_validate(LOGLOSS, {"max_depth": 2}, (x, y), five_folds((x, y)), model=MODEL)
    assert loss < 0.5


def test_copied_churners_weighted_to_the_population_rate_score_as_the_natural_sample():
    """Churners copied until half the rows, the natural rate stated: the held-out loss is
    the natural sample's (copies share a fold, and weights bring each fold to the rate),
    where unweighted it is that of a 50 % sample."""
    rng = np.random.default_rng(2)
    x = pd.DataFrame(rng.normal(size=(2000, 3)), columns=list("abc"))
    y = (rng.random(2000) < 1 / (1 + np.exp(-(2 * x["a"] - 2.5)))).astype(int).to_numpy()
    churners = np.flatnonzero(y == 1)
    copies = (y == 0).sum() // churners.size
    rows = np.concatenate([np.flatnonzero(y == 0), np.repeat(churners, copies)])
    over = (x.iloc[rows].reset_index(drop=True), y[rows])
    params = {"max_depth": 2}
    natural, _ = cross_validate(LOGLOSS, params, (x, y), five_folds((x, y)), model=MODEL)
    weighted, _ = cross_validate(
        LOGLOSS, params, over, five_folds(over), model=MODEL, population_rate=y.mean()
    )
    unweighted, _ = cross_validate(LOGLOSS, params, over, five_folds(over), model=MODEL)
    assert weighted == pytest.approx(natural, rel=0.1)
    assert unweighted > 1.3 * natural
