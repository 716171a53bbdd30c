"""The pilot's out-of-fold policy check on hand-made pilots: decisions and their value."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from tests.campaign_support import small_config

from clm.campaign.candidates import price_pairs
from clm.campaign.policy_check import decision_change, transformed_value
from clm.domain.taxonomy import load_taxonomy

TAXONOMY = load_taxonomy()


class FixedCut:
    """An effect model that gives every candidate the same absolute churn cut."""

    def __init__(self, cut: float) -> None:
        self.cut = cut

    def churn_reduction(self, candidates: pl.DataFrame) -> pl.Series:
        return pl.Series("churn_reduction", [self.cut] * candidates.height, dtype=pl.Float64)


def judged(treated: list[bool], churned: list[bool]) -> pl.DataFrame:
    """Pilot customers offered DM001 (or held out from it), priced by ``small_config``."""
    n = len(treated)
    rows = pl.DataFrame(
        {
            "treated": treated,
            "measure_code": ["DM001"] * n,
            "churned": churned,
            "churn_probability": [0.5] * n,
            "arpu_mean_3m": [100.0] * n,
            "value_tier": ["mid"] * n,
            "stage": ["warning"] * n,
            "reason_1_category": ["competitor_behaviour"] * n,
        }
    )
    return price_pairs(rows, small_config(), TAXONOMY)


def test_dropping_a_contact_that_loses_money_is_a_gain() -> None:
    """DM001 costs 10 yuan plus a 60-yuan discount to whoever stays; a kept customer is worth
    150. The prior's cut of 0.5 makes the contact worth 0.5 x 150 - 60 - 10 = 5 yuan, so the
    prior contacts; with no cut the learned effects drop it. Everyone stays, treated or not
    (the measure does nothing): dropping spares each customer 70 yuan, and the transformed
    outcomes add up to exactly that."""
    rows = judged([True, True, True, True, False], [False] * 5)
    change = decision_change(rows, FixedCut(0.0), FixedCut(0.5))
    np.testing.assert_array_equal(change, [-1.0] * 5)
    gains = change * transformed_value(rows, treated_share=0.8)
    # centred on the untreated expectation 75: treated 150 - 60 - 10 - 75 = 5, control 75
    np.testing.assert_allclose(gains, [-5 / 0.8] * 4 + [75 / 0.2])
    assert gains.sum() == pytest.approx(5 * 70)


def test_the_same_decisions_change_nothing() -> None:
    rows = judged([True, False], [True, False])
    np.testing.assert_array_equal(decision_change(rows, FixedCut(0.5), FixedCut(0.45)), [0, 0])
