"""Labels per (subscriber, snapshot month T): churn within the horizon, true and rule-table stage.

``churn`` is 1 when ``churn_month`` falls in (T, T+H], 0 otherwise, and null for snapshot
months whose horizon runs past the data's last month (they cannot be labelled yet).
Subscribers gone at T never reach this module: the feature builder gives them no row.
``stage_true`` comes from the synthetic truth file and is null without one (real data).
``stage_rule`` is the seed's rule table (domain.md §1), kept as the baseline the stage model
must beat. ``churn_month`` itself is never written to the feature table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from clm.domain.stages import STAGES, StageRuleConfig, rule_stage
from clm.months import add_months, month_index

LABEL_COLUMNS = ("churn", "stage_true", "stage_rule")


@dataclass(frozen=True)
class LabelConfig:
    """The ``labels`` section of params.yaml."""

    horizon_months: int  # churn label: churn_month in (T, T + horizon_months]
    stage_rule: StageRuleConfig


def last_labelled_month(last_month: date, horizon_months: int) -> date:
    """The latest snapshot month whose whole horizon lies inside the data."""
    return add_months(last_month, -horizon_months)


def add_labels(
    features: pl.DataFrame,
    churn_events: pl.LazyFrame,
    truth: pl.LazyFrame | None,
    last_month: date,
    config: LabelConfig,
) -> pl.DataFrame:
    """Append ``churn``, ``stage_true`` and ``stage_rule`` to feature rows."""
    with_churn = label_churn(features, churn_events, last_month, config.horizon_months)
    return attach_true_stage(with_churn, truth).with_columns(
        stage_rule=rule_stage(config.stage_rule)
    )


def label_churn(
    features: pl.DataFrame, churn_events: pl.LazyFrame, last_month: date, horizon_months: int
) -> pl.DataFrame:
    """Churn within (T, T+H] as 0/1, null where T+H is past ``last_month``."""
    churn = churn_events.select("subscriber_id", "churn_month").collect()
    ahead = month_index(pl.col("churn_month")) - month_index(pl.col("snapshot_month"))
    labelled = pl.col("snapshot_month") <= last_labelled_month(last_month, horizon_months)
    return (
        features.join(churn, on="subscriber_id", how="left", maintain_order="left")
        .with_columns(
            churn=pl.when(labelled)
            .then(((ahead >= 1) & (ahead <= horizon_months)).fill_null(False))
            .cast(pl.Int8)
        )
        .drop("churn_month")
    )


def attach_true_stage(features: pl.DataFrame, truth: pl.LazyFrame | None) -> pl.DataFrame:
    """The latent stage at T from the truth file; null when there is no truth."""
    if truth is None:
        return features.with_columns(stage_true=pl.lit(None, dtype=pl.Enum(STAGES)))
    stages = (
        truth.select(
            "subscriber_id",
            pl.col("month").alias("snapshot_month"),
            pl.col("stage").cast(pl.Enum(STAGES)).alias("stage_true"),
        )
        .join(
            features.lazy().select("subscriber_id", "snapshot_month"),
            on=["subscriber_id", "snapshot_month"],
        )
        .collect()
    )
    return features.join(
        stages, on=["subscriber_id", "snapshot_month"], how="left", maintain_order="left"
    )
