"""Random scored months that follow the scorer's output, plus ``arpu_mean_3m``: the plan's
input, for the campaign tests and the 1M-subscriber plan benchmark.

Not the scorer: the columns, vocabularies, deciles, measures and budget caps are the real
rules' (``clm.scoring.rules``, the taxonomy); the probabilities and reasons are random.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from clm.domain.taxonomy import load_taxonomy
from clm.scoring.rules import budget_caps, recommended_measures, risk_deciles
from tests.params import repo_params

TIERS = ("high", "mid", "low", "group")
TIER_SHARES = (0.1, 0.25, 0.6, 0.05)
TIER_ARPU = {"high": 300.0, "mid": 110.0, "low": 40.0, "group": 120.0}
STAGES = ("growth", "stable", "warning", "sunk")


def random_customers(n: int, seed: int, month: date = date(2024, 6, 1)) -> pl.DataFrame:
    """``n`` scored subscribers of ``month`` with their mean ARPU, as ``with_arpu`` gives."""
    rng = np.random.default_rng(seed)
    taxonomy = load_taxonomy()
    causes = list(taxonomy.causes)
    tier = rng.choice(TIERS, n, p=TIER_SHARES)
    stage = rng.choice(STAGES, n, p=(0.15, 0.55, 0.25, 0.05))
    arpu = np.array([TIER_ARPU[t] for t in tier]) * rng.lognormal(0.0, 0.3, n)
    warning = stage == "warning"
    churn = np.where(warning, rng.beta(4, 4, n), rng.beta(1, 12, n))
    reason = [rng.choice(causes, n) for _ in range(3)]
    frame = pl.DataFrame(
        {
            "subscriber_id": np.arange(1, n + 1, dtype=np.int64) * 3,
            "scoring_month": [month] * n,
            "churn_probability": churn,
            "stage": stage,
            "value_tier": tier,
            **{f"reason_{i + 1}_cause": reason[i] for i in range(3)},
            "reason_1_category": [taxonomy.causes[c].category for c in reason[0]],
            "arpu_mean_3m": arpu,
            "group_size": np.where(tier == "group", rng.integers(10, 40, n), 1).astype(np.uint32),
            "group_arpu_mean_3m": arpu,
        }
    )
    return frame.with_columns(
        *budget_caps(repo_params().scoring.budget),
        risk_decile=risk_deciles(frame),
        measure_codes=recommended_measures(frame, taxonomy),
    )
