"""Features of the scoring month, and the statistics that need the whole scored base.

Per-subscriber features depend on that subscriber's rows alone, so any batch holding all
months of its subscribers builds them. Three things need the whole base of the month instead:
the network means and prepaid spend thresholds of the features (tenure and ARPU relative to
the network, value tier), and each group account's size and mean ARPU (budget caps).
``MonthStats`` carries them, computed once from every batch's ``stats_rows`` and then passed
to every batch, which is how ``clm score`` and the Spark scorer give the same answer as one
call on the whole month. It travels as JSON (a pyfunc parameter is a string).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import polars as pl

from clm.data.contract import CHURN_EVENTS, SUBSCRIBERS, USAGE_MONTHLY
from clm.features.build import (
    FeatureConfig,
    add_network_features,
    build_base_features,
    network_stats,
    panel_start,
    spend_before,
)
from clm.features.history import IMPUTED_MONTHS, fill_gaps, missing_months, scoring_spans

STATS_COLUMNS = (
    "subscriber_id",
    "snapshot_month",
    "network",
    "payment_type",
    "is_group",
    "group_id",
    "tenure_months",
    "arpu_mean_3m",
    "cumulative_spend",
)
GROUP_SCHEMA = {
    "group_id": pl.Int64(),
    "group_size": pl.UInt32(),
    "group_arpu_mean_3m": pl.Float64(),
}


@dataclass(frozen=True)
class MonthStats:
    """What every batch of one scoring month must share.

    Attributes:
        scoring_month: The month T scored.
        history_start: First month of the input; cumulative spend counts from here.
        network: ``clm.features.build.network_stats`` of the whole base at T.
        groups: Per group_id, the members scored at T and their mean 3-month ARPU.
    """

    scoring_month: date
    history_start: date
    network: pl.DataFrame
    groups: pl.DataFrame

    @classmethod
    def from_rows(
        cls, rows: pl.DataFrame, history_start: date, config: FeatureConfig
    ) -> MonthStats:
        """Statistics from the ``stats_rows`` of every subscriber scored at T.

        Rows are sorted first, so the float sums do not depend on how batches were cut.
        """
        rows = rows.sort("subscriber_id")
        groups = (
            rows.filter(pl.col("group_id").is_not_null())
            .group_by("group_id")
            .agg(group_size=pl.len(), group_arpu_mean_3m=pl.col("arpu_mean_3m").mean())
            .sort("group_id")
        )
        return cls(
            scoring_month=rows["snapshot_month"][0],
            history_start=history_start,
            network=network_stats(rows.lazy(), config),
            groups=groups.cast(GROUP_SCHEMA),
        )

    def to_json(self) -> str:
        return json.dumps(
            {
                "scoring_month": self.scoring_month.isoformat(),
                "history_start": self.history_start.isoformat(),
                "network": self.network.with_columns(
                    pl.col("snapshot_month").cast(pl.String)
                ).to_dict(as_series=False),
                "groups": self.groups.to_dict(as_series=False),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> MonthStats:
        values = json.loads(text)
        network = pl.DataFrame(values["network"]).with_columns(
            pl.col("snapshot_month").str.to_date(),
            pl.col(["network_mean_tenure", "network_mean_arpu"]).cast(pl.Float64),
            pl.col(["prepaid_high_spend", "prepaid_mid_spend"]).cast(pl.Float64),
        )
        return cls(
            scoring_month=date.fromisoformat(values["scoring_month"]),
            history_start=date.fromisoformat(values["history_start"]),
            network=network,
            groups=pl.DataFrame(values["groups"], schema=GROUP_SCHEMA),
        )


def base_features(
    frame: pl.DataFrame, scoring_month: date, history_start: date, config: FeatureConfig
) -> pl.DataFrame:
    """Per-subscriber features at ``scoring_month`` for the subscribers with a row in it.

    ``frame`` holds all months of its subscribers (scoring input columns). Rows after the
    scoring month are ignored; subscriber columns are read from the scoring month's row.
    A month of the feature window without a row is imputed (``clm.features.history``; the
    input checks quarantined such subscribers unless ``history_gaps`` is ``impute``) and
    counted in ``imputed_months``.
    """
    frame = frame.filter(pl.col("month") <= scoring_month)
    scored = frame.filter(pl.col("month") == scoring_month)
    subscribers = scored.select(list(SUBSCRIBERS))
    missing = missing_months(frame.lazy(), scoring_spans(frame.lazy(), scoring_month))
    filled, imputed = fill_gaps(frame.lazy(), missing)
    usage = filled.filter(pl.col("subscriber_id").is_in(scored["subscriber_id"].implode())).select(
        list(USAGE_MONTHLY)
    )
    window_start = panel_start([scoring_month], history_start)
    base = build_base_features(
        subscribers.lazy(),
        usage.filter(pl.col("month") >= window_start),
        spend_before(usage, window_start),
        pl.LazyFrame(schema=CHURN_EVENTS),
        [scoring_month],
        history_start,
        config,
    )
    imputed_months = imputed.group_by("subscriber_id").agg(pl.len().alias(IMPUTED_MONTHS))
    return (
        base.join(
            subscribers.select("subscriber_id", "group_id"),
            on="subscriber_id",
            how="left",
            maintain_order="left",
        )
        .join(imputed_months, on="subscriber_id", how="left", maintain_order="left")
        .with_columns(pl.col(IMPUTED_MONTHS).fill_null(0))
    )


def stats_rows(base: pl.DataFrame) -> pl.DataFrame:
    """The few columns of ``base_features`` that ``MonthStats.from_rows`` reads."""
    return base.select(STATS_COLUMNS)


def month_features(base: pl.DataFrame, stats: MonthStats, config: FeatureConfig) -> pl.DataFrame:
    """The model's feature table: base features plus those relative to the whole network."""
    return add_network_features(base, stats.network, config)
