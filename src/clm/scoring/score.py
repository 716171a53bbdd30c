"""Score one batch of subscribers: features, both models, reasons, measures and budget caps.

``Scorer`` is what the pyfunc artifact holds once loaded; ``clm score`` and the Spark scorer
call it batch by batch with the ``MonthStats`` of the whole month, the pyfunc on one frame.
Inputs are trusted here: they were checked at the boundary (``clm.scoring.inputs``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from clm.domain.budget import BudgetRules
from clm.domain.stages import STAGES
from clm.domain.taxonomy import Taxonomy
from clm.explain.reason_model import ReasonModel, scored_reasons
from clm.features.build import FeatureConfig
from clm.features.history import IMPUTED_MONTHS
from clm.models.encoding import known_levels
from clm.models.trained import TrainedModel
from clm.scoring.inputs import SCORING_INPUT
from clm.scoring.month import MonthStats, base_features, month_features, stats_rows
from clm.scoring.rules import budget_caps, recommended_measures, risk_deciles

TOP_REASONS = 3
STAGE_PROBABILITY = tuple(f"stage_probability_{stage}" for stage in STAGES)
OUTPUT_SCHEMA: dict[str, pl.DataType] = {
    "subscriber_id": pl.Int64(),
    "scoring_month": pl.Date(),
    "churn_probability": pl.Float64(),
    "risk_decile": pl.Int8(),
    "stage": pl.String(),
    **{name: pl.Float64() for name in STAGE_PROBABILITY},
    "value_tier": pl.String(),
    **{
        f"reason_{i}_{part}": dtype
        for i in range(1, TOP_REASONS + 1)
        for part, dtype in (
            ("cause", pl.String()),
            ("category", pl.String()),
            ("contribution", pl.Float64()),
        )
    },
    "measure_codes": pl.List(pl.String()),
    "group_size": pl.UInt32(),
    "maintenance_cap_yuan": pl.Float64(),
    "winback_cap_yuan": pl.Float64(),
    IMPUTED_MONTHS: pl.Int8(),  # months of the feature window imputed (features.history_gaps)
}


@dataclass(frozen=True)
class Scorer:
    """The churn and stage models with the rules that turn their output into actions."""

    churn: TrainedModel
    stage: TrainedModel
    features: FeatureConfig
    budget: BudgetRules
    taxonomy: Taxonomy
    reasons: ReasonModel | None = None  # learned from recorded reasons; TreeSHAP only if None

    @property
    def trained_levels(self) -> dict[str, frozenset[str]]:
        """Per categorical input column (network, region ...), the levels both models know: a
        subscriber with another cannot be scored until they are retrained on it."""
        known = known_levels(self.churn.encoder, self.stage.encoder)
        return {column: levels for column, levels in known.items() if column in SCORING_INPUT}

    def base(self, frame: pl.DataFrame, scoring_month: date, history_start: date) -> pl.DataFrame:
        """The per-subscriber features of a batch, before the month's statistics are known:
        ``stats_rows`` reads them, and ``score_base`` finishes them."""
        return base_features(frame, scoring_month, history_start, self.features)

    def stats_rows(
        self, frame: pl.DataFrame, scoring_month: date, history_start: date
    ) -> pl.DataFrame:
        """This batch's share of the rows ``MonthStats.from_rows`` needs."""
        return stats_rows(self.base(frame, scoring_month, history_start))

    def month_stats(self, frame: pl.DataFrame, scoring_month: date) -> MonthStats:
        """The month's statistics when ``frame`` is the whole scored base."""
        history_start = frame["month"].min()
        rows = self.stats_rows(frame, scoring_month, history_start)
        return MonthStats.from_rows(rows, history_start, self.features)

    def score(self, frame: pl.DataFrame, stats: MonthStats) -> pl.DataFrame:
        """One row per subscriber with a row in the scoring month, in subscriber order.

        ``risk_decile`` ranks within ``frame``; callers scoring in batches rank again over
        the whole month (``clm.scoring.rules.risk_deciles``).
        """
        return self.score_base(self.base(frame, stats.scoring_month, stats.history_start), stats)

    def score_base(self, base: pl.DataFrame, stats: MonthStats) -> pl.DataFrame:
        """``score`` from the batch's ``base`` features, for a caller that kept them."""
        features = month_features(base, stats, self.features).sort("subscriber_id")
        churn = self.churn.predict(features)
        stage_prob = self.stage.predict(features)
        reasons = scored_reasons(self.churn, features, TOP_REASONS, self.reasons)
        scored = (
            features.select(
                "subscriber_id",
                pl.col("snapshot_month").alias("scoring_month"),
                pl.col("value_tier").cast(pl.String),
                "arpu_mean_3m",
                "group_id",
                IMPUTED_MONTHS,
            )
            .with_columns(
                churn_probability=pl.Series(np.asarray(churn, dtype=np.float64)),
                stage=pl.Series(np.asarray(STAGES)[np.argmax(stage_prob, axis=1)]),
                **{
                    name: pl.Series(stage_prob[:, i].astype(np.float64))
                    for i, name in enumerate(STAGE_PROBABILITY)
                },
            )
            .hstack(reasons)
            .join(stats.groups, on="group_id", how="left", maintain_order="left")
        )
        scored = scored.with_columns(
            risk_decile=risk_deciles(scored),
            measure_codes=recommended_measures(scored, self.taxonomy),
        ).with_columns(*budget_caps(self.budget))
        return scored.select(list(OUTPUT_SCHEMA)).cast(OUTPUT_SCHEMA)
