"""Measure a campaign once its outcome months are in: treated against comparable control.

The comparison is like for like: the treated customers against the control customers the
plan's own decision rule would have treated (``control_measure_code``), both drawn from the
same scored month before anyone was contacted. Per customer the outcome over the horizon is
churn (a churn event in months T+1..T+h) and the margin kept (margin share x the ARPU billed
in those months; an offer's discount already shows in the bill), less the contact cost for the
treated. Differences come with normal-approximation 95 % intervals.
"""

from __future__ import annotations

import itertools
import math
from datetime import date

import numpy as np
import polars as pl

from clm.campaign.config import CampaignConfig, CampaignError
from clm.months import add_months

Z95 = 1.959963984540054
QINI_POINTS = 50


def outcome_months(plan_month: date, usage_months: list[date], horizon_months: int) -> list[date]:
    """The months after the plan month to measure on (up to the horizon, no gap).

    Raises CampaignError when no month after the plan month is in, or when the outcome months
    start later than the month after it, i.e. they follow a month that had no plan.
    """
    after = sorted(m for m in set(usage_months) if m > plan_month)
    expected = add_months(plan_month, 1)
    if not after:
        latest = max(usage_months) if usage_months else None
        raise CampaignError(
            f"outcome usage_monthly: no month after the plan month {plan_month} (latest: "
            f"{latest}); measure runs once the outcome months are in"
        )
    if after[0] != expected:
        raise CampaignError(
            f"outcome usage_monthly: starts {after[0]}, after {add_months(after[0], -1)}, a "
            f"month that had no plan; the plan is for {plan_month}"
        )
    window = [add_months(plan_month, k) for k in range(1, horizon_months + 1)]
    return list(itertools.takewhile(set(after).__contains__, window))


def realised_outcomes(
    plan: pl.DataFrame,
    usage: pl.LazyFrame,
    churn_events: pl.LazyFrame,
    months: list[date],
    config: CampaignConfig,
) -> pl.DataFrame:
    """The plan with, per subscriber, ``churned``, ``margin_yuan``, ``contact_cost_yuan`` and
    ``net_value_yuan`` over ``months``."""
    first, last = months[0], months[-1]
    margin = (
        usage.filter(pl.col("month").is_between(first, last))
        .group_by("subscriber_id")
        .agg(margin_yuan=config.margin_share * pl.col("arpu").sum())
        .collect()
    )
    churned = (
        churn_events.filter(pl.col("churn_month").is_between(first, last))
        .select("subscriber_id", churned=pl.lit(True))
        .unique("subscriber_id")
        .collect()
    )
    contact = {code: prior.contact_cost_yuan for code, prior in config.measures.items()}
    return (
        plan.join(margin, on="subscriber_id", how="left", maintain_order="left")
        .join(churned, on="subscriber_id", how="left", maintain_order="left")
        .with_columns(
            churned=pl.col("churned").fill_null(False),
            margin_yuan=pl.col("margin_yuan").fill_null(0.0),
            contact_cost_yuan=pl.col("measure_code")
            .replace_strict(contact, default=0.0, return_dtype=pl.Float64)
            .fill_null(0.0),
        )
        .with_columns(net_value_yuan=pl.col("margin_yuan") - pl.col("contact_cost_yuan"))
    )


def pilot_rows(outcomes: pl.DataFrame) -> pl.DataFrame:
    """The treated and the comparable control customers, with ``treated`` and the measure
    (given, or the one the control customer would have been given)."""
    return outcomes.filter(
        (pl.col("arm") == "treatment") | pl.col("control_measure_code").is_not_null()
    ).with_columns(
        treated=pl.col("arm") == "treatment",
        measure=pl.coalesce("measure_code", "control_measure_code"),
    )


def compare(rows: pl.DataFrame) -> dict:
    """Treated against control on ``rows``: churn, net value, their differences and 95 % CIs.

    ``churn_cut`` is control churn minus treated churn (positive: the campaign kept people).
    """
    treated, control = rows.filter("treated"), rows.filter(~pl.col("treated"))
    churn = _difference(control["churned"].cast(pl.Float64), treated["churned"].cast(pl.Float64))
    value = _difference(treated["net_value_yuan"], control["net_value_yuan"])
    return {
        "treated": treated.height,
        "control": control.height,
        "churn_rate_treated": _mean(treated["churned"].cast(pl.Float64)),
        "churn_rate_control": _mean(control["churned"].cast(pl.Float64)),
        "churn_cut": churn[0],
        "churn_cut_ci95": churn[1],
        "net_value_treated_yuan": _mean(treated["net_value_yuan"]),
        "net_value_control_yuan": _mean(control["net_value_yuan"]),
        "net_value_uplift_yuan": value[0],
        "net_value_uplift_ci95": value[1],
    }


def by_group(rows: pl.DataFrame, column: str) -> list[dict]:
    """``compare`` per value of ``column`` (a segment or the measure)."""
    return [
        {column: key, **compare(rows.filter(pl.col(column) == key))}
        for key in sorted(rows[column].drop_nulls().unique())
    ]


def campaign_roi(rows: pl.DataFrame) -> dict:
    """Incremental net value over the treated (their net value less what comparable control
    customers kept per head) and its ratio to the budget the campaign used (``cost_yuan``)."""
    figures = compare(rows)
    treated = rows.filter("treated")
    spend = float(treated["cost_yuan"].sum())
    uplift, interval = figures["net_value_uplift_yuan"], figures["net_value_uplift_ci95"]
    incremental = None if uplift is None else uplift * treated.height
    return {
        "spend_yuan": spend,
        "incremental_value_yuan": incremental,
        "incremental_value_ci95": None
        if interval is None
        else [bound * treated.height for bound in interval],
        "roi": None if incremental is None or spend <= 0 else incremental / spend,
    }


def qini_curve(rows: pl.DataFrame) -> pl.DataFrame:
    """Customers kept by targeting the top share by predicted churn cut, against control.

    ``kept`` at share s: treated retained in the top s minus control retained in the top s
    scaled to the treated count there. A model that ranks uplift well rises early above the
    straight line of random targeting (``random``).
    """
    ranked = rows.sort("expected_churn_reduction", "subscriber_id", descending=[True, False])
    treated = ranked["treated"].to_numpy()
    retained = ~ranked["churned"].to_numpy()
    n_t, n_c = np.cumsum(treated), np.cumsum(~treated)
    kept_t, kept_c = np.cumsum(retained & treated), np.cumsum(retained & ~treated)
    kept = kept_t - np.divide(kept_c * n_t, n_c, out=np.zeros(len(n_c)), where=n_c > 0)
    steps = np.unique(np.linspace(0, len(ranked), QINI_POINTS + 1).astype(int))[1:] - 1
    share = (steps + 1) / max(len(ranked), 1)
    return (
        pl.DataFrame({"share_targeted": share, "kept": kept[steps], "random": share * kept[-1]})
        .vstack(pl.DataFrame({"share_targeted": [0.0], "kept": [0.0], "random": [0.0]}))
        .sort("share_targeted")
    )


def qini_coefficient(curve: pl.DataFrame) -> float:
    """Area between the Qini curve and random targeting (customers kept x share targeted)."""
    gain = (curve["kept"] - curve["random"]).to_numpy()
    return float(np.trapezoid(gain, curve["share_targeted"].to_numpy()))


def _difference(a: pl.Series, b: pl.Series) -> tuple[float | None, list[float] | None]:
    """mean(a) - mean(b) and its Welch normal-approximation 95 % interval."""
    if a.len() < 2 or b.len() < 2:
        return (None, None) if a.is_empty() or b.is_empty() else (a.mean() - b.mean(), None)
    diff = float(a.mean() - b.mean())
    se = math.sqrt(a.var() / a.len() + b.var() / b.len())
    return diff, [diff - Z95 * se, diff + Z95 * se]


def _mean(values: pl.Series) -> float | None:
    return None if values.is_empty() else float(values.mean())
