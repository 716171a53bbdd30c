"""The scored month as the retention team acts on it: who is at risk, why, at what budget.

The scorer's output (``data/scores``) for the latest month, compared with the month before:
the high-risk list's reason mix, each value tier x stage segment with its risk and the budget
caps already in the scores, and the measures recommended, by code and by name.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from clm.domain.taxonomy import load_taxonomy
from clm.explain.drivers import high_risk

SEGMENT = ("value_tier", "stage")


@dataclass(frozen=True)
class ScoredMonth:
    """Everything the report's first part shows about the scored month."""

    month: str
    previous_month: str | None
    customers: int
    high_risk_customers: int
    mean_churn_probability: float
    previous_mean_churn_probability: float | None
    reasons: pl.DataFrame  # category, share of the high-risk list, change in share points
    segments: pl.DataFrame  # value tier x stage: customers, risk, budget totals, changes
    measures: pl.DataFrame  # code, zh, en, high-risk customers recommended it


def summarise_scored_month(
    scores: pl.DataFrame, previous: pl.DataFrame | None, high_risk_share: float
) -> ScoredMonth:
    """The scored month and, where ``previous`` is given, its change from the month before."""
    risky = high_risk(scores, high_risk_share)
    risky_before = high_risk(previous, high_risk_share) if previous is not None else None
    return ScoredMonth(
        month=str(scores["scoring_month"].max()),
        previous_month=str(previous["scoring_month"].max()) if previous is not None else None,
        customers=scores.height,
        high_risk_customers=risky.height,
        mean_churn_probability=float(scores["churn_probability"].mean()),
        previous_mean_churn_probability=(
            float(previous["churn_probability"].mean()) if previous is not None else None
        ),
        reasons=_with_change(_reason_mix(risky), _reason_mix(risky_before), ["category"], "share"),
        segments=_with_change(
            _segments(scores, risky),
            _segments(previous, risky_before) if previous is not None else None,
            list(SEGMENT),
            "mean_churn_probability",
            "high_risk_customers",
        ),
        measures=_measures(risky),
    )


def _reason_mix(risky: pl.DataFrame | None) -> pl.DataFrame | None:
    """Each category's share of the high-risk list by first reason (every category listed)."""
    if risky is None:
        return None
    categories = pl.DataFrame({"category": list(load_taxonomy().categories)})
    counts = risky.group_by(category="reason_1_category").agg(customers=pl.len())
    return categories.join(counts, on="category", how="left").with_columns(
        pl.col("customers").fill_null(0),
        share=pl.col("customers").fill_null(0) / max(risky.height, 1),
    )


def _segments(scores: pl.DataFrame, risky: pl.DataFrame) -> pl.DataFrame:
    """Per value tier x stage: customers, mean risk, the high-risk customers and the budget
    caps of those (monthly maintenance and total win-back, yuan)."""
    taxonomy = load_taxonomy()
    everyone = scores.group_by(SEGMENT).agg(
        customers=pl.len(), mean_churn_probability=pl.col("churn_probability").mean()
    )
    targets = risky.group_by(SEGMENT).agg(
        high_risk_customers=pl.len(),
        maintenance_cap_yuan=pl.col("maintenance_cap_yuan").sum(),
        winback_cap_yuan=pl.col("winback_cap_yuan").sum(),
    )
    return (
        everyone.join(targets, on=list(SEGMENT), how="left")
        .fill_null(0)
        .sort(
            pl.col("value_tier").cast(pl.Enum(list(taxonomy.value_tiers))),
            pl.col("stage").cast(pl.Enum(list(taxonomy.stages))),
        )
    )


def _with_change(
    now: pl.DataFrame, before: pl.DataFrame | None, keys: list[str], *columns: str
) -> pl.DataFrame:
    """``now`` with ``<column>_change`` from ``before`` (null without a previous month)."""
    if before is None:
        return now.with_columns(pl.lit(None, pl.Float64).alias(f"{c}_change") for c in columns)
    previous = before.select(*keys, *(pl.col(c).alias(f"{c}_before") for c in columns))
    return now.join(previous, on=keys, how="left", maintain_order="left").select(
        *now.columns,
        *(
            # as floats: counts are unsigned, and a fall would wrap around
            (
                pl.col(c).cast(pl.Float64) - pl.col(f"{c}_before").cast(pl.Float64).fill_null(0)
            ).alias(f"{c}_change")
            for c in columns
        ),
    )


def _measures(risky: pl.DataFrame) -> pl.DataFrame:
    """Each recommended measure with its names and how many high-risk customers got it."""
    taxonomy = load_taxonomy()
    counts = (
        risky.select(code=pl.col("measure_codes").list.first())
        .drop_nulls()
        .group_by("code")
        .agg(customers=pl.len())
        .sort("customers", "code", descending=[True, False])
    )
    return counts.with_columns(
        zh=pl.col("code").replace_strict({c: m.zh for c, m in taxonomy.measures.items()}),
        en=pl.col("code").replace_strict({c: m.en for c, m in taxonomy.measures.items()}),
    )
