"""Feature expressions: one row per (subscriber, snapshot month T) from months <= T only.

How history is read:

* Each subscriber gets a dense calendar panel of months, from ``max(join month, first month
  of data)`` to the month before churn (or the last snapshot). Lags shift along this panel, so
  "T-1" is always the previous calendar month, never the previous record.
* A month inside that span without a usage record is a month of **zero usage**: flows (ARPU,
  minutes, calls, complaints, dropped-call rate, ...) are 0 and stocks (contract consumed
  amount, arrears) carry their last recorded value forward. The features stage and the scorer
  never hand such a month in: ``clm.features.history`` quarantines or imputes it before (per
  ``history_gaps``), since zero usage would read as a sudden drop. Months before the subscriber
  joined (or before the data starts) do not exist: means and sums skip them, and a delta whose
  base has no month at all is null.
* Subscribers already gone at T (``churn_month <= T``) and not yet joined get no row at T.

Features that compare a subscriber with the network (tenure and ARPU relative to the network
mean, value tier) need the whole population at T; ``network_stats`` computes them from the base
features so that chunked builds (``clm.features.chunked``) and in-memory builds agree.

No-contract encoding: ``has_contract`` is False and ``contract_remaining_months`` and
``contract_remaining_amount_share`` are null (XGBoost routes missing values itself; the rule
table treats them as "no contract pressure"). A contract counts only while
``contract_start_month <= T <= contract_end_month``; an expired contract is no contract.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from clm.config import ConfigError
from clm.data.contract import BRANDS, NETWORKS, PAYMENT_TYPES
from clm.months import from_index, index_to_month, month_index, to_index

logger = logging.getLogger(__name__)

LOOKBACK_MONTHS = 6  # the longest window a feature reads before T (the "6m" features)
KEYS = ("subscriber_id", "snapshot_month")
VALUE_TIERS = ("high", "mid", "low", "group")
# Categorical features with the playbook's closed vocabularies: typed as enums, and a level
# outside them is bad data (the raw schema quarantines it).
CATEGORIES: dict[str, tuple[str, ...]] = {
    "network": NETWORKS,
    "brand": BRANDS,
    "payment_type": PAYMENT_TYPES,
    "value_tier": VALUE_TIERS,
}
# Categorical features named by the operator (its regions): plain text, any levels; the churn
# model learns the levels it trains on (``clm.models.encoding``).
OPEN_CATEGORIES = ("region",)

# Usage columns summed over a month: a month without a record is a month of zero usage.
FLOW_COLUMNS = (
    "arpu",
    "mou",
    "calls_out",
    "calls_in",
    "distinct_called_numbers",
    "call_forward_count",
    "call_forward_offnet_count",
    "sms_count",
    "data_mb",
    "vas_revenue",
    "complaints",
    "hotline_calls",
    "dropped_call_rate",
    "roaming_minutes",
)
# Usage columns that are balances at month end: carried forward over a month without a record.
STOCK_COLUMNS = ("contract_consumed_amount", "arrears")
SUBSCRIBER_COLUMNS = (
    "subscriber_id",
    "join_month",
    "network",
    "brand",
    "payment_type",
    "is_group",
    "region",
    "contract_start_month",
    "contract_end_month",
    "contract_total_amount",
)

# How many months back each panel column is read (lag 0 is month T itself).
LAGS: dict[str, int] = {
    "arpu": LOOKBACK_MONTHS,
    "mou": LOOKBACK_MONTHS,
    "distinct_called_numbers": 3,
    "calls_out": 3,
    "in_out_ratio": 3,
    "call_forward_offnet_count": 2,
    "complaints": 3,
    "hotline_calls": 2,
    "dropped_call_rate": 3,
    "arrears": 2,
    "data_mb": 3,
    "vas_revenue": 3,
    "sms_count": 3,
    "roaming_share": 3,
}


@dataclass(frozen=True)
class TierConfig:
    """Value-tier thresholds of domain.md §2."""

    postpaid_high_ratio: float  # mean ARPU of last 3 months > this x network mean: high
    postpaid_mid_ratio: float  # ... >= this x network mean: mid, else low
    prepaid_high_top_share: float  # top share of cumulative spend in the network: high
    prepaid_mid_next_share: float  # the next share: mid, the rest low


HISTORY_GAP_POLICIES = ("quarantine", "impute")


@dataclass(frozen=True)
class FeatureConfig:
    """The ``features`` section of params.yaml."""

    first_snapshot_offset: int  # months of history before the first snapshot month
    history_gaps: str  # a month missing in a subscriber's history: see history.py
    chunk_panel_rows: int  # subscriber-months held in memory per chunk
    delta_share_cap: float  # upper bound of every *_share delta (a rise from 0 hits it)
    complaint_surge_min: int  # complaints in T needed for a surge ...
    complaint_surge_factor: float  # ... and at least this x the mean of T-3..T-1
    bill_shock_share: float  # ARPU rise vs 3-month mean that, with a complaint, is a shock
    tiers: TierConfig

    def __post_init__(self) -> None:
        if self.history_gaps not in HISTORY_GAP_POLICIES:
            raise ConfigError(
                f"features.history_gaps must be one of {HISTORY_GAP_POLICIES}, "
                f"got {self.history_gaps!r}"
            )


def default_snapshot_months(first_month: date, last_month: date, offset: int) -> list[date]:
    """Snapshot months from ``first_month + offset`` through ``last_month``."""
    first, last = to_index(first_month) + offset, to_index(last_month)
    return [date(i // 12, i % 12 + 1, 1) for i in range(first, last + 1)]


def build_features(
    subscribers: pl.LazyFrame,
    usage: pl.LazyFrame,
    churn_events: pl.LazyFrame,
    snapshot_months: Sequence[date],
    history_start: date,
    config: FeatureConfig,
) -> pl.DataFrame:
    """All features for a population small enough to hold in memory (tests, scoring).

    Args:
        subscribers: Raw ``subscribers`` rows.
        usage: Raw ``usage_monthly`` rows; months after the last snapshot are ignored.
        churn_events: Raw ``churn_events``; only ``churn_month`` is read, to end the panel.
        snapshot_months: The months T to build rows for.
        history_start: First month of the data; earlier months count as non-existent.
        config: The ``features`` params section.
    """
    window_start = panel_start(snapshot_months, history_start)
    base = build_base_features(
        subscribers,
        usage.filter(pl.col("month") >= window_start),
        spend_before(usage, window_start),
        churn_events,
        snapshot_months,
        history_start,
        config,
    )
    return add_network_features(base, network_stats(base.lazy(), config), config)


def panel_start(snapshot_months: Sequence[date], history_start: date) -> date:
    """The earliest month any feature at these snapshot months reads."""
    return from_index(
        max(to_index(min(snapshot_months)) - LOOKBACK_MONTHS, to_index(history_start))
    )


def spend_before(usage: pl.LazyFrame, month: date) -> pl.LazyFrame:
    """ARPU summed per subscriber over the months before ``month`` (``prior_spend``)."""
    return (
        usage.filter(pl.col("month") < month)
        .group_by("subscriber_id")
        .agg(prior_spend=pl.col("arpu").sum())
    )


def build_base_features(
    subscribers: pl.LazyFrame,
    usage: pl.LazyFrame,
    prior_spend: pl.LazyFrame,
    churn_events: pl.LazyFrame,
    snapshot_months: Sequence[date],
    history_start: date,
    config: FeatureConfig,
) -> pl.DataFrame:
    """Per-subscriber features, everything except comparisons with the network.

    Args:
        subscribers: Raw ``subscribers`` rows (any subset: a chunk is fine).
        usage: Raw ``usage_monthly`` rows of those subscribers from ``panel_start`` on.
        prior_spend: ``spend_before(usage, panel_start)`` for those subscribers.
        churn_events: Raw ``churn_events``; only ``churn_month`` is read, to end the panel.
        snapshot_months: The months T to build rows for.
        history_start: First month of the data; earlier months count as non-existent.
        config: The ``features`` params section.
    """
    wanted = sorted({to_index(month) for month in snapshot_months})
    start = to_index(panel_start(snapshot_months, history_start))
    panel = _panel(subscribers, usage, churn_events, start, wanted[-1])
    lag_columns = [
        _lag(column, k).alias(_lag_name(column, k))
        for column, deepest in LAGS.items()
        for k in range(1, deepest + 1)
    ]
    frame = (
        panel.join(prior_spend, on="subscriber_id", how="left", maintain_order="left")
        .with_columns(
            cumulative_spend=_within_subscriber_cum_sum("arpu")
            + pl.col("prior_spend").fill_null(0.0)
        )
        .with_columns(lag_columns)
        .filter(pl.col("month_idx").is_in(wanted))
        .with_columns(**_feature_expressions(config))
        .select(*KEYS, *_BASE_OUTPUT)
        .collect()
    )
    logger.debug("base features: %d rows for %d snapshot months", frame.height, len(wanted))
    return frame


def network_stats(base: pl.LazyFrame, config: FeatureConfig) -> pl.DataFrame:
    """Network means and prepaid spend thresholds per (snapshot month, network).

    The population is every subscriber active at T. Postpaid tiers compare with the mean
    3-month ARPU of the whole network; prepaid and quasi-prepaid tiers rank cumulative spend
    among the network's non-group prepaid and quasi-prepaid subscribers.
    """
    tiers = config.tiers
    prepaid = (pl.col("payment_type") != "postpaid") & ~pl.col("is_group")
    spend = pl.col("cumulative_spend").filter(prepaid)
    return (
        base.group_by("snapshot_month", "network")
        .agg(
            network_mean_tenure=pl.col("tenure_months").mean(),
            network_mean_arpu=pl.col("arpu_mean_3m").mean(),
            prepaid_high_spend=spend.quantile(1.0 - tiers.prepaid_high_top_share, "linear"),
            prepaid_mid_spend=spend.quantile(
                1.0 - tiers.prepaid_high_top_share - tiers.prepaid_mid_next_share, "linear"
            ),
        )
        .sort("snapshot_month", "network")
        .collect()
    )


def add_network_features(
    base: pl.DataFrame, stats: pl.DataFrame, config: FeatureConfig
) -> pl.DataFrame:
    """Add tenure and ARPU relative to the network, the value tier, and typed categoricals."""
    tiers = config.tiers
    arpu_ratio = pl.col("arpu_network_ratio")
    spend = pl.col("cumulative_spend")
    postpaid_tier = (
        pl.when(arpu_ratio > tiers.postpaid_high_ratio)
        .then(pl.lit("high"))
        .when(arpu_ratio >= tiers.postpaid_mid_ratio)
        .then(pl.lit("mid"))
        .otherwise(pl.lit("low"))
    )
    prepaid_tier = (
        pl.when(spend > pl.col("prepaid_high_spend"))
        .then(pl.lit("high"))
        .when(spend > pl.col("prepaid_mid_spend"))
        .then(pl.lit("mid"))
        .otherwise(pl.lit("low"))
    )
    frame = (
        base.join(stats, on=["snapshot_month", "network"], how="left", maintain_order="left")
        .with_columns(
            tenure_network_ratio=_ratio(
                pl.col("tenure_months").cast(pl.Float64), pl.col("network_mean_tenure")
            ),
            arpu_network_ratio=_ratio(pl.col("arpu_mean_3m"), pl.col("network_mean_arpu")),
        )
        .with_columns(
            value_tier=pl.when(pl.col("is_group"))
            .then(pl.lit("group"))
            .when(pl.col("payment_type") == "postpaid")
            .then(postpaid_tier)
            .otherwise(prepaid_tier)
        )
        .drop(stats.columns[2:])
        .with_columns(pl.col(name).cast(pl.Enum(values)) for name, values in CATEGORIES.items())
    )
    return frame.select(*_FIRST, *(c for c in frame.columns if c not in _FIRST))


_FIRST = (*KEYS, *CATEGORIES, *OPEN_CATEGORIES)


def _panel(
    subscribers: pl.LazyFrame,
    usage: pl.LazyFrame,
    churn_events: pl.LazyFrame,
    first_idx: int,
    last_idx: int,
) -> pl.LazyFrame:
    """Dense (subscriber, calendar month) rows while subscribed, usage joined, gaps filled."""
    people = (
        subscribers.select(SUBSCRIBER_COLUMNS)
        .join(
            churn_events.select("subscriber_id", "churn_month"),
            on="subscriber_id",
            how="left",
            maintain_order="left",
        )
        .with_columns(
            join_idx=month_index(pl.col("join_month")),
            row_start=pl.max_horizontal(month_index(pl.col("join_month")), pl.lit(first_idx)),
            row_end=pl.min_horizontal(month_index(pl.col("churn_month")) - 1, pl.lit(last_idx)),
        )
        .filter(pl.col("row_end") >= pl.col("row_start"))
        .with_columns(month_idx=pl.int_ranges("row_start", pl.col("row_end") + 1, dtype=pl.Int32))
        .explode("month_idx")
    )
    # One integer key (subscriber, month offset) joins several times faster than two keys;
    # it assumes subscriber ids below 2**53 and a panel shorter than 1024 months.
    key = pl.col("subscriber_id") * 1024 + pl.col("month_idx") - first_idx
    window = (
        usage.with_columns(month_idx=month_index(pl.col("month")))
        .filter(pl.col("month_idx").is_between(first_idx, last_idx))
        .select(key.alias("key"), *FLOW_COLUMNS, *STOCK_COLUMNS)
    )
    return (
        people.with_columns(key=key)
        .join(window, on="key", how="left", maintain_order="left")
        .with_columns(
            pl.col(list(FLOW_COLUMNS)).fill_null(0),
            *(_carry_forward(column) for column in STOCK_COLUMNS),
            pos=pl.col("month_idx") - pl.col("row_start"),
        )
        .with_columns(
            # Guard: a month with incoming but no outgoing calls reads as if one call went out.
            in_out_ratio=pl.col("calls_in") / pl.max_horizontal(pl.col("calls_out"), 1),
            roaming_share=_share_of(pl.col("roaming_minutes"), pl.col("mou")).clip(0.0, 1.0),
        )
    )


def _carry_forward(column: str) -> pl.Expr:
    """Fill a month without a record with the subscriber's last recorded value, else 0.

    A plain forward fill over the sorted panel, kept only where the value it carries came
    from the same subscriber (much faster than ``forward_fill().over(...)``).
    """
    source = pl.when(pl.col(column).is_not_null()).then(pl.col("subscriber_id")).forward_fill()
    carried = pl.col(column).forward_fill()
    return pl.when(source == pl.col("subscriber_id")).then(carried).otherwise(0.0).alias(column)


def _within_subscriber_cum_sum(column: str) -> pl.Expr:
    """Running sum within each subscriber. Summed per subscriber, not as a global running sum
    minus the part before them: that difference's last bits depend on every subscriber before
    in the frame, so a batch of other subscribers (``clm score``, Spark) changed the value."""
    return pl.col(column).cum_sum().over("subscriber_id")


def _lag(column: str, k: int) -> pl.Expr:
    """The value ``k`` calendar months before, null before the subscriber's panel starts.

    The panel is dense and ordered by (subscriber, month), so a plain shift is a calendar
    shift; ``pos`` masks shifts that would reach into the previous subscriber.
    """
    return pl.when(pl.col("pos") >= k).then(pl.col(column).shift(k))


def _lag_name(column: str, k: int) -> str:
    return f"{column}__lag{k}"


def _lags(column: str, first: int, last: int) -> list[pl.Expr]:
    """Lag columns ``first..last`` (0 is month T itself)."""
    return [
        pl.col(column) if k == 0 else pl.col(_lag_name(column, k)) for k in range(first, last + 1)
    ]


def _mean_before(column: str, months: int) -> pl.Expr:
    """Mean over T-months..T-1, skipping months that do not exist; null if none exists."""
    return pl.mean_horizontal(_lags(column, 1, months))


def _ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    """``numerator / denominator``, null when the denominator is 0 or null."""
    return pl.when(denominator > 0).then(numerator / denominator)


def _share_of(part: pl.Expr, whole: pl.Expr) -> pl.Expr:
    """``part / whole``, 0 when the whole is 0 (nothing to take a share of)."""
    return pl.when(whole > 0).then(part / whole).otherwise(0.0)


def _delta_share(now: pl.Expr, base: pl.Expr, cap: float) -> pl.Expr:
    """``now / base - 1`` for non-negative measures, guarded against a zero base.

    Null when the base has no month at all; 0 when both are 0; ``cap`` when rising from 0;
    otherwise capped at ``cap`` (the floor is -1 by construction).
    """
    return (
        pl.when(base.is_null())
        .then(None)
        .when(base > 0)
        .then(pl.min_horizontal(now / base - 1.0, pl.lit(cap)))
        .when(now > 0)
        .then(pl.lit(cap))
        .otherwise(pl.lit(0.0))
        .cast(pl.Float64)
    )


def _slope_and_cv(column: str) -> tuple[pl.Expr, pl.Expr]:
    """Least-squares slope per month and coefficient of variation over T-5..T.

    Months that do not exist are skipped; both are null with fewer than two months.
    """
    values = _lags(column, 0, LOOKBACK_MONTHS - 1)
    times = [-float(k) for k in range(LOOKBACK_MONTHS)]
    present = [value.is_not_null().cast(pl.Float64) for value in values]
    n = pl.sum_horizontal(present)
    s_t = pl.sum_horizontal(t * p for t, p in zip(times, present, strict=True))
    s_tt = pl.sum_horizontal(t * t * p for t, p in zip(times, present, strict=True))
    s_x = pl.sum_horizontal(values)
    s_xx = pl.sum_horizontal(value * value for value in values)
    s_tx = pl.sum_horizontal(t * value for t, value in zip(times, values, strict=True))
    enough = n >= 2
    slope = pl.when(enough).then((n * s_tx - s_t * s_x) / (n * s_tt - s_t * s_t))
    mean = s_x / n
    variance = ((s_xx - n * mean * mean) / (n - 1)).clip(lower_bound=0.0)
    cv = pl.when(enough).then(pl.when(mean > 0).then(variance.sqrt() / mean).otherwise(pl.lit(0.0)))
    return slope, cv


def _feature_expressions(config: FeatureConfig) -> dict[str, pl.Expr]:
    """Every base feature as a named expression over the lagged panel rows."""
    cap = config.delta_share_cap

    def delta(column: str, months: int) -> pl.Expr:
        return _delta_share(pl.col(column), _mean_before(column, months), cap)

    arpu_slope, arpu_cv = _slope_and_cv("arpu")
    mou_slope, mou_cv = _slope_and_cv("mou")
    t_idx = pl.col("month_idx")
    start_idx = month_index(pl.col("contract_start_month"))
    end_idx = month_index(pl.col("contract_end_month"))
    has_contract = ((start_idx <= t_idx) & (t_idx <= end_idx)).fill_null(False)
    arpu_delta_3m = delta("arpu", 3)
    complaints_before = _mean_before("complaints", 3).fill_null(0.0)
    return {
        "snapshot_month": index_to_month(t_idx),
        "tenure_months": (t_idx - pl.col("join_idx")).cast(pl.Int64),
        "has_contract": has_contract,
        "contract_remaining_months": pl.when(has_contract).then(end_idx - t_idx).cast(pl.Int64),
        "contract_remaining_amount_share": pl.when(has_contract).then(
            (
                1.0 - _ratio(pl.col("contract_consumed_amount"), pl.col("contract_total_amount"))
            ).clip(0.0, 1.0)
        ),
        "arpu_mean_3m": pl.mean_horizontal(_lags("arpu", 0, 2)),
        "arpu_delta_1m_share": delta("arpu", 1),
        "arpu_delta_3m_share": arpu_delta_3m,
        "arpu_delta_6m_share": delta("arpu", LOOKBACK_MONTHS),
        "arpu_slope_6m": arpu_slope,
        "arpu_cv_6m": arpu_cv,
        "arpu_rise_3m_share": arpu_delta_3m.clip(lower_bound=0.0),
        "bill_shock": (
            (arpu_delta_3m >= config.bill_shock_share)
            & (pl.col("complaints") + pl.col("hotline_calls") > 0)
        ).fill_null(False),
        "mou_delta_1m_share": delta("mou", 1),
        "mou_delta_3m_share": delta("mou", 3),
        "mou_delta_6m_share": delta("mou", LOOKBACK_MONTHS),
        "mou_slope_6m": mou_slope,
        "mou_cv_6m": mou_cv,
        "distinct_called_delta_3m_share": delta("distinct_called_numbers", 3),
        "calls_out_delta_3m_share": delta("calls_out", 3),
        "in_out_ratio_delta_3m": pl.col("in_out_ratio") - _mean_before("in_out_ratio", 3),
        "offnet_forward_3m_sum": pl.sum_horizontal(_lags("call_forward_offnet_count", 0, 2)),
        "offnet_forward_share": _share_of(
            pl.col("call_forward_offnet_count").cast(pl.Float64), pl.col("call_forward_count")
        ),
        "complaints_3m_sum": pl.sum_horizontal(_lags("complaints", 0, 2)),
        "hotline_calls_3m_sum": pl.sum_horizontal(_lags("hotline_calls", 0, 2)),
        "complaint_surge": (pl.col("complaints") >= config.complaint_surge_min)
        & (pl.col("complaints") >= config.complaint_surge_factor * complaints_before),
        "dropped_call_rate_delta_3m": pl.col("dropped_call_rate")
        - _mean_before("dropped_call_rate", 3),
        "arrears_delta_1m": pl.col("arrears") - pl.col(_lag_name("arrears", 1)),
        "arrears_months_3m": pl.sum_horizontal(lag > 0 for lag in _lags("arrears", 0, 2)).cast(
            pl.Int64
        ),
        "data_mb_delta_3m_share": delta("data_mb", 3),
        "vas_revenue_delta_3m_share": delta("vas_revenue", 3),
        "sms_delta_3m_share": delta("sms_count", 3),
        "roaming_share_delta_3m": pl.col("roaming_share") - _mean_before("roaming_share", 3),
    }


# Columns the base builder hands on, in the order of the feature table.
_BASE_OUTPUT = (
    "network",
    "brand",
    "payment_type",
    "region",
    "is_group",
    "tenure_months",
    "has_contract",
    "contract_remaining_months",
    "contract_remaining_amount_share",
    "arpu",
    "arpu_mean_3m",
    "arpu_delta_1m_share",
    "arpu_delta_3m_share",
    "arpu_delta_6m_share",
    "arpu_slope_6m",
    "arpu_cv_6m",
    "cumulative_spend",
    "arpu_rise_3m_share",
    "bill_shock",
    "mou",
    "mou_delta_1m_share",
    "mou_delta_3m_share",
    "mou_delta_6m_share",
    "mou_slope_6m",
    "mou_cv_6m",
    "distinct_called_numbers",
    "distinct_called_delta_3m_share",
    "calls_out_delta_3m_share",
    "in_out_ratio",
    "in_out_ratio_delta_3m",
    "call_forward_offnet_count",
    "offnet_forward_3m_sum",
    "offnet_forward_share",
    "complaints",
    "complaints_3m_sum",
    "hotline_calls",
    "hotline_calls_3m_sum",
    "complaint_surge",
    "dropped_call_rate",
    "dropped_call_rate_delta_3m",
    "arrears",
    "arrears_delta_1m",
    "arrears_months_3m",
    "data_mb",
    "data_mb_delta_3m_share",
    "vas_revenue",
    "vas_revenue_delta_3m_share",
    "sms_count",
    "sms_delta_3m_share",
    "roaming_share",
    "roaming_share_delta_3m",
)
