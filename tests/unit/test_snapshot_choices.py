"""What a snapshot run decides from the data alone: the domain constraints it keeps, the
measures it offers."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import yaml
from tests.params import repo_params

from clm.snapshot.mapping import load_mapping
from clm.snapshot.pipeline import supported_constraints
from clm.snapshot.report import offered_measures


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
