"""Scored months of a synthetic operator built from its latent truth, plus ``arpu_mean_3m``:
the plan's input where the policies are judged on counterfactual truth (the policy tests and
``benchmarks.campaign_policies``).

Not the scorer: churn_probability is the true untreated probability of churning within the
world's horizon (an oracle churn model), the stage the latent stage, the top reason the latent
reason's cause (none outside warning and sunk, so stable customers get no measure), the value
tier the features' postpaid rule on base ARPU (group members: group); deciles, measures and
budget caps are the scorer's rules (``clm.scoring.rules``).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from clm.campaign.simulate import Counterfactuals
from clm.data.contract import SURVEY_REASONS
from clm.domain.budget import BudgetRules
from clm.domain.taxonomy import Taxonomy
from clm.features.build import TierConfig
from clm.scoring.rules import budget_caps, recommended_measures, risk_deciles
from clm.synthetic.lifecycle import STAGE_NAMES


def oracle_customers(
    world: Counterfactuals, taxonomy: Taxonomy, tiers: TierConfig, rules: BudgetRules
) -> pl.DataFrame:
    """The base of ``world`` as the plan reads it (scores plus ``arpu_mean_3m``), from truth."""
    state = world.state
    rows, population = state.active, state.population
    arpu = population.arpu_base[rows]
    network = population.network[rows]
    network_mean = np.bincount(network, arpu) / np.maximum(np.bincount(network), 1)
    ratio = arpu / network_mean[network]
    in_group = population.group_id[rows] >= 0
    tier = np.where(
        in_group,
        "group",
        np.where(
            ratio > tiers.postpaid_high_ratio,
            "high",
            np.where(ratio >= tiers.postpaid_mid_ratio, "mid", "low"),
        ),
    )
    causes = np.array([taxonomy.survey_reasons[r].cause for r in SURVEY_REASONS], dtype=object)
    reason = state.reason[rows]
    cause = np.where(reason >= 0, causes[np.maximum(reason, 0)], None)
    frame = pl.DataFrame(
        {
            "subscriber_id": population.subscriber_id[rows],
            "scoring_month": [state.month.astype("datetime64[D]").item()] * rows.size,
            "churn_probability": world.churn_probability()["churn_probability"],
            "stage": np.array(STAGE_NAMES)[state.stage[rows]],
            "value_tier": tier,
            "reason_1_cause": pl.Series(cause.tolist(), dtype=pl.String),
            "reason_2_cause": pl.Series([None] * rows.size, dtype=pl.String),
            "reason_3_cause": pl.Series([None] * rows.size, dtype=pl.String),
            "arpu_mean_3m": arpu,
            "group_id": population.group_id[rows],
        }
    )
    return frame.with_columns(
        reason_1_category=pl.col("reason_1_cause").replace_strict(
            {code: c.category for code, c in taxonomy.causes.items()}, default=None
        ),
        group_size=pl.len().over("group_id").cast(pl.UInt32),
        group_arpu_mean_3m=pl.col("arpu_mean_3m").mean().over("group_id"),
    ).with_columns(
        *budget_caps(rules),
        risk_decile=risk_deciles(frame),
        measure_codes=recommended_measures(frame, taxonomy),
    )
