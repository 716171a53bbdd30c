"""Cross-validated tuning on small data: identical rows never straddle folds."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from tests.params import repo_params

from clm.models.tasks import CHURN, cross_validate

LOGLOSS = replace(CHURN, eval_metric="logloss", maximize=False)
MODEL = replace(
    repo_params().model, max_boost_rounds=200, early_stopping_rounds=20, monotone_constraints={}
)
DEEP = {"max_depth": 8, "learning_rate": 0.3, "min_child_weight": 0.1, "reg_lambda": 0.01}


def test_copies_of_a_row_share_a_fold_so_memorising_them_does_not_pay():
    """Noise labels, every row copied five times (churners oversampled by copying): a deep
    model memorises the rows, which pays only if a copy can land in a held-out fold."""
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(300, 4)), columns=list("abcd"))
    y = rng.integers(0, 2, 300)
    copies = (pd.concat([x] * 5, ignore_index=True), np.tile(y, 5))
    loss, rounds = cross_validate(LOGLOSS, DEEP, copies, 5, model=MODEL)
    assert loss > 0.65  # no better than guessing (ln 2 = 0.693), as noise should be
    assert 1 <= rounds <= MODEL.max_boost_rounds


def test_signal_is_found_through_the_folds():
    rng = np.random.default_rng(1)
    x = pd.DataFrame(rng.normal(size=(1000, 3)), columns=list("abc"))
    y = (rng.random(1000) < 1 / (1 + np.exp(-3 * x["a"]))).astype(int).to_numpy()
    loss, _ = cross_validate(LOGLOSS, {"max_depth": 2}, (x, y), 5, model=MODEL)
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
    natural, _ = cross_validate(LOGLOSS, params, (x, y), 5, model=MODEL)
    weighted, _ = cross_validate(LOGLOSS, params, over, 5, model=MODEL, population_rate=y.mean())
    unweighted, _ = cross_validate(LOGLOSS, params, over, 5, model=MODEL)
    assert weighted == pytest.approx(natural, rel=0.1)
    assert unweighted > 1.3 * natural
