"""Customer-level explanations and the business summaries the driver report shows.

``explain_customers`` puts, per customer, the churn probability, the stage model's stage,
the top reasons and the contribution of every cause and category side by side. The summaries
turn that into the reviewer's questions: which categories and causes drive churn among the
customers most at risk, per segment, compared with the exit survey, and which measures apply.
Driver shares are shares of the *positive* cause contributions (what pushes towards churn);
a negative contribution lowers the risk and is no reason to leave.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import polars as pl

from clm.domain.stages import STAGES
from clm.domain.taxonomy import load_taxonomy
from clm.explain.reason_model import ReasonModel, explain_reasons
from clm.explain.reasons import feature_contributions, to_categories, to_causes
from clm.models.trained import TrainedModel

CAUSE = "cause_"
CATEGORY = "category_"
KEYS = ("subscriber_id", "snapshot_month")
SEGMENT_COLUMNS = ("network", "brand", "value_tier", "region")


@dataclass(frozen=True)
class ExplainConfig:
    """The ``explain`` section."""

    high_risk_share: float  # the report's high-risk group: this top share by churn risk
    top_reasons: int  # reasons per customer
    top_causes: int  # causes whose measures the report lists
    example_customers: int  # one per top category where possible


def explain_customers(
    churn: TrainedModel,
    stage: TrainedModel,
    frame: pl.DataFrame,
    k: int,
    reason_model: ReasonModel | None = None,
) -> pl.DataFrame:
    """Per customer: keys, segment, churn probability, predicted stage, top-``k`` reasons,
    top categories and the contribution (log-odds) of every cause and category; reasons
    ranked with the reason model where given (``clm.explain.reason_model``)."""
    causes = to_causes(feature_contributions(churn, frame))
    categories = to_categories(causes)
    stage_index = stage.predict(frame).argmax(axis=1)
    return pl.concat(
        [
            frame.select(*KEYS, *(pl.col(c).cast(pl.String) for c in SEGMENT_COLUMNS)),
            pl.DataFrame(
                {
                    "churn_probability": churn.predict(frame).astype(np.float64),
                    "stage_predicted": np.asarray(STAGES)[stage_index],
                }
            ),
            explain_reasons(churn, frame, causes, k, reason_model),
            causes.to_frame().rename(lambda name: CAUSE + name),
            categories.to_frame().rename(lambda name: CATEGORY + name),
        ],
        how="horizontal",
    ).with_columns(top_category=pl.col("top_categories").list.first())


def high_risk(explained: pl.DataFrame, share: float) -> pl.DataFrame:
    """The customers in the top ``share`` by churn probability (the retention target list)."""
    count = max(1, round(explained.height * share))
    return explained.sort("churn_probability", descending=True).head(count)


def cause_shares(explained: pl.DataFrame) -> pl.DataFrame:
    """Each cause's and its category's share of all positive contribution, biggest first."""
    taxonomy = load_taxonomy()
    totals = explained.select(pl.col(CAUSE + c).clip(lower_bound=0).sum() for c in taxonomy.causes)
    values = totals.row(0)
    grand = sum(values) or 1.0
    return pl.DataFrame(
        {
            "cause": list(taxonomy.causes),
            "category": [cause.category for cause in taxonomy.causes.values()],
            "share": [value / grand for value in values],
        }
    ).sort("share", descending=True)


def category_shares(explained: pl.DataFrame, by: list[str] | None = None) -> pl.DataFrame:
    """Each category's share of the positive contribution, wide (one column per category),
    per group of ``by`` (with the group's size and mean churn risk) or overall."""
    taxonomy = load_taxonomy()
    by = by or []
    positive = {
        category: pl.sum_horizontal(
            pl.col(CAUSE + code).clip(lower_bound=0)
            for code, cause in taxonomy.causes.items()
            if cause.category == category
        )
        for category in taxonomy.categories
    }
    sums = explained.with_columns(**positive).group_by(by or pl.lit(1).alias("_all"))
    grouped = sums.agg(
        customers=pl.len(),
        mean_churn_probability=pl.col("churn_probability").mean(),
        **{category: pl.col(category).sum() for category in taxonomy.categories},
    )
    total = pl.sum_horizontal(list(taxonomy.categories))
    shares = grouped.with_columns(pl.col(c) / total for c in taxonomy.categories)
    return shares.drop("_all", strict=False).sort([*by] or "customers")


def survey_comparison(explained: pl.DataFrame) -> pl.DataFrame:
    """Per network and category: the drivers' share next to the exit survey's (domain.md §4.1),
    survey reasons mapped to categories through their causes."""
    taxonomy = load_taxonomy()
    drivers = category_shares(explained, ["network"]).unpivot(
        index="network",
        on=list(taxonomy.categories),
        variable_name="category",
        value_name="driver_share",
    )
    survey = (
        pl.DataFrame(
            [
                {
                    "network": network,
                    "category": taxonomy.category_of_reason(code).code,
                    "survey": share,
                }
                for code, reason in taxonomy.survey_reasons.items()
                for network, share in reason.share.items()
            ]
        )
        .group_by("network", "category")
        .agg(survey_share=pl.col("survey").sum())
    )
    return drivers.join(survey, on=["network", "category"], how="full", coalesce=True).fill_null(0)


def example_customers(explained: pl.DataFrame, count: int) -> pl.DataFrame:
    """The highest-risk customer of each top category (then the next highest), ids anonymised."""
    ranked = explained.filter(pl.col("top_category").is_not_null()).sort(
        "churn_probability", descending=True
    )
    firsts = ranked.unique("top_category", keep="first", maintain_order=True).head(count)
    rest = ranked.join(firsts, on=list(KEYS), how="anti").head(count - firsts.height)
    chosen = pl.concat([firsts, rest]).sort("churn_probability", descending=True)
    return chosen.with_columns(
        customer=pl.col("subscriber_id").map_elements(anonymise, return_dtype=pl.String)
    )


def anonymise(subscriber_id: int) -> str:
    """A stable pseudonym, so an example can be followed up without printing the real id."""
    return "C-" + hashlib.sha256(str(subscriber_id).encode()).hexdigest()[:8].upper()


def measure_grid(causes: list[str]) -> pl.DataFrame:
    """Measure codes per cause, stage and value tier (taxonomy.measures_for), best first."""
    taxonomy = load_taxonomy()
    return pl.DataFrame(
        [
            {
                "cause": cause,
                "stage": stage,
                **{
                    tier: list(taxonomy.measures_for(stage, cause, tier))
                    for tier in taxonomy.value_tiers
                },
            }
            for cause in causes
            for stage in taxonomy.stages
        ]
    )
