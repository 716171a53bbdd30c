"""Spark's approximate risk deciles: how far they are from the exact ranking follows from the
decile sizes alone."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from clm.scoring.rules import DECILES, risk_deciles
from clm.scoring.spark import decile_rows_off


def cut_deciles(probability: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Deciles as the Spark scorer assigns them: 1 + the cuts a probability lies below."""
    return 1 + (probability[:, None] < cuts[None, :]).sum(axis=1)


@pytest.mark.parametrize("seed", range(5))
def test_decile_rows_off_equals_the_summed_distance_to_the_exact_deciles(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(50, 3_000))
    probability = np.round(rng.beta(1, 6, n), 3)  # ties, as calibrated scores have
    frame = pl.DataFrame({"subscriber_id": np.arange(n), "churn_probability": probability})
    exact = risk_deciles(frame).to_numpy().astype(np.int64)
    shares = 1.0 - np.arange(1, DECILES) / DECILES
    cuts = np.quantile(probability, shares) + rng.normal(0, 0.003, DECILES - 1)
    approximate = cut_deciles(probability, np.sort(cuts)[::-1])
    counts = pl.DataFrame({"risk_decile": approximate}).group_by("risk_decile").len("subscribers")
    assert decile_rows_off(counts) == np.abs(approximate - exact).sum()


def test_exact_cuts_are_no_rows_off():
    n = 1_001
    counts = pl.DataFrame({"risk_decile": (np.arange(n) * DECILES // n) + 1})
    counts = counts.group_by("risk_decile").len("subscribers")
    assert decile_rows_off(counts) == 0
