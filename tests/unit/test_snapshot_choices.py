"""What a snapshot run decides from the data alone: the domain constraints it keeps, the
measures it offers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import polars as pl
import yaml
from tests.params import repo_params

from clm.models.tasks import CHURN, cross_validate, grouped_folds
from clm.models.tune import TuningResult
from clm.snapshot.mapping import load_mapping
from clm.snapshot.pipeline import drop_costly_constraints, supported_constraints
from clm.snapshot.report import offered_measures

LOGLOSS = replace(CHURN, eval_metric="logloss", maximize=False)


def test_a_constraint_the_training_data_contradicts_is_dropped_and_named():
    rng = np.random.default_rng(0)
    calls = rng.integers(0, 6, 2000)
    complaints = rng.integers(0, 3, 2000)
    churn = (rng.random(2000) < 0.4 - 0.06 * calls + 0.1 * complaints).astype(np.int8)
    train = pl.DataFrame({"hotline_calls": calls, "complaints": complaints, "churn": churn})
    model = replace(
        repo_params().model, monotone_constraints={"churn": {"hotline_calls": 1, "complaints": 1}}
    )
    kept, dropped = supported_constraints(train, model, z_max=3.0)
    assert kept.monotone_constraints["churn"] == {"complaints": 1}
    assert list(dropped) == ["hotline_calls"] and "Spearman -" in dropped["hotline_calls"]


def test_measures_resting_on_arrears_are_withheld_without_arrears_data(tmp_path):
    (tmp_path / "x.csv").write_text("calls,left\n1,Yes\n0,No\n", encoding="utf-8")
    mapping = {
        "dataset": "x",
        "files": "x.csv",
        "label": {"column": "left", "positive": ["Yes"]},
        "split": {"test_share": 0.5},
        "features": {"hotline_calls": "calls"},
    }
    (tmp_path / "x.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    offered, withheld = offered_measures(["malicious_churn"], load_mapping(tmp_path / "x.yaml"))
    assert {"PS004", "DA004"} <= set(withheld)
    assert "DA004" not in offered["malicious_churn"]["retention"]
    assert offered["malicious_churn"]["retention"]  # churner records need no arrears


def test_a_constraint_that_costs_cross_validated_accuracy_is_dropped():
    """Churn that peaks at two care calls (hump-shaped): forcing "more calls never lower the
    risk" costs log loss, so the rule goes; the complaints rule, which holds, stays."""
    rng = np.random.default_rng(2)
    calls = rng.integers(0, 8, 3000)
    complaints = rng.integers(0, 3, 3000)
    risk = -2.0 + 2.5 * (calls == 2) - 0.6 * np.clip(calls - 2, 0, None) + 0.8 * complaints
    churn = (rng.random(3000) < 1 / (1 + np.exp(-risk))).astype(int)
    seen = (pd.DataFrame({"hotline_calls": calls, "complaints": complaints}), churn)
    rules = {"churn": {"hotline_calls": 1, "complaints": 1}}
    model = replace(
        repo_params().model, max_boost_rounds=200, early_stopping_rounds=20,
        monotone_constraints=rules,
    )  # fmt: skip
    params = {"max_depth": 3, "learning_rate": 0.2}
    loss, rounds = cross_validate(
        LOGLOSS, params, seen, grouped_folds(seen, 5, model.seed), model=model
    )
    tuning = TuningResult("s", params, loss, rounds, 1, 0, "run")

    kept, _, dropped = drop_costly_constraints(seen, tuning, 5, model, min_gain=0.01)

    assert kept.monotone_constraints["churn"] == {"complaints": 1}
    assert list(dropped) == ["hotline_calls"] and "log loss" in dropped["hotline_calls"]
