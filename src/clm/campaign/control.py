"""The randomised control group, held out before optimising so the pilot can be measured.

Stratified by value tier x risk decile: every stratum gives the same share, so treated and
control customers are alike on the two things the plan ranks by. The draw depends only on the
seed and the subscriber ids, never on the row order of the scores.
"""

from __future__ import annotations

import numpy as np
import polars as pl

STRATA = ("value_tier", "risk_decile")


def assign_control(scores: pl.DataFrame, share: float, seed: int) -> pl.Series:
    """Boolean per row of ``scores``: True for the held-out control group.

    Each value tier x risk decile stratum of n customers gives round(share x n) of them.
    """
    order = scores.select("subscriber_id", *STRATA).with_row_index("row").sort("subscriber_id")
    keys = np.random.default_rng(seed).random(order.height)
    drawn = order.with_columns(key=pl.Series(keys)).with_columns(
        is_control=pl.col("key").rank("ordinal").over(STRATA)
        <= (pl.len().over(STRATA) * share).round()
    )
    return drawn.sort("row")["is_control"]
