"""Per-customer reasons and the driver report for a snapshot dataset.

The contributions are the explain step's (exact TreeSHAP summed feature -> cause -> category,
``clm.explain.reasons``) with the mapping's own feature-to-cause table, and the summaries and
charts are the driver report's (``clm.explain.drivers``, ``clm.reports.figures``). The page
is its own, shorter template: snapshot data has no monthly history, so there is no lifecycle
stage, value tier or network to segment by, and no truth to check reasons against. The page
says so instead of showing those sections empty or made up.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from clm.domain.taxonomy import load_taxonomy
from clm.explain.attribution import NO_REASON, Attribution, attribution_accuracy
from clm.explain.drivers import (
    CATEGORY,
    CAUSE,
    ExplainConfig,
    anonymise,
    category_shares,
    cause_shares,
    high_risk,
)
from clm.explain.reasons import (
    feature_contributions,
    rank_reasons,
    ranked_categories,
    to_categories,
    to_causes,
)
from clm.explain.report import confusion_rows
from clm.models.trained import TrainedModel
from clm.reports import figures
from clm.reports.render import render_page
from clm.snapshot.frame import ID, LABEL, RECORDED_REASON
from clm.snapshot.mapping import (
    Arithmetic,
    Column,
    Constant,
    Expression,
    FeatureSpec,
    Mapping,
    Recode,
)

FEATURE = "feature_"


@dataclass(frozen=True)
class SnapshotReport:
    """What the page shows beyond the per-customer table."""

    dataset: str
    description: str
    metrics: dict[str, dict[str, float]]  # scorer -> test metrics
    excluded: dict[str, str]
    agreement: Attribution | None = None  # with the recorded reasons, where the data has them
    prior: dict | None = None  # churn rates seen and stated, what was done (pipeline.prior_summary)
    dropped: tuple = ()  # DroppedRows per filter rule of the mapping
    overrides: dict = field(default_factory=dict)  # feature -> clm_cause, cause, reason
    pooled: tuple = ()  # PooledLevels per feature with a min_count


def explain_snapshot(
    model: TrainedModel, frame: pl.DataFrame, mapping: Mapping, k: int
) -> pl.DataFrame:
    """Per customer: id, churn probability, top-``k`` reasons, top category and the
    contribution (log-odds) of every feature, cause and category."""
    features = feature_contributions(model, frame)
    causes = to_causes(features, mapping.metadata)
    return pl.concat(
        [
            frame.select(ID),
            pl.DataFrame({"churn_probability": model.predict(frame).astype(np.float64)}),
            rank_reasons(causes, k),
            ranked_categories(causes).to_frame(),
            features.to_frame().rename(lambda name: FEATURE + name),
            causes.to_frame().rename(lambda name: CAUSE + name),
            to_categories(causes).to_frame().rename(lambda name: CATEGORY + name),
        ],
        how="horizontal",
    ).with_columns(top_category=pl.col("top_categories").list.first())


def recorded_agreement(
    explained: pl.DataFrame, test: pl.DataFrame, mapping: Mapping
) -> Attribution | None:
    """Agreement of the test churners' top categories with the reasons they gave, or None
    where the mapping has no reason column or no test churner has a meaningful label."""
    if mapping.reason is None:
        return None
    churners = (
        test.select(LABEL, reason=RECORDED_REASON)
        .with_columns(explained["top_categories"])
        .filter((pl.col(LABEL) == 1) & pl.col("reason").is_not_null())
    )
    if churners.is_empty():
        return None
    return attribution_accuracy(churners.drop(LABEL), mapping.reason.categories)


def reasons_table(explained: pl.DataFrame, k: int) -> pl.DataFrame:
    """The per-customer output: id, risk, top-``k`` reasons and category contributions."""
    reasons = [
        f"reason_{i}_{part}"
        for i in range(1, k + 1)
        for part in ("cause", "category", "contribution")
    ]
    return explained.select(
        ID, "churn_probability", *reasons, "top_category", pl.col(f"^{CATEGORY}.*$")
    )


def feature_shares(explained: pl.DataFrame, mapping: Mapping) -> pl.DataFrame:
    """Each feature's share of the positive push, with its source and cause, biggest first."""
    taxonomy = load_taxonomy()
    totals = explained.select(
        pl.col(FEATURE + spec.meta.name).clip(lower_bound=0).sum() for spec in mapping.features
    ).row(0)
    grand = sum(totals) or 1.0
    return pl.DataFrame(
        [
            {
                "feature": spec.meta.name,
                "description": spec.meta.description,
                "source": describe_feature(spec),
                "clm_feature": spec.mapped,
                "cause": spec.meta.cause,
                "category": taxonomy.causes[spec.meta.cause].category,
                "share": total / grand,
            }
            for spec, total in zip(mapping.features, totals, strict=True)
        ]
    ).sort("share", descending=True)


def render_snapshot_report(
    explained: pl.DataFrame, mapping: Mapping, report: SnapshotReport, config: ExplainConfig
) -> str:
    """The report's HTML: one self-contained, bilingual file."""
    taxonomy = load_taxonomy()
    risky = high_risk(explained, config.high_risk_share)
    causes = cause_shares(risky)
    categories = category_shares(risky)
    top_causes = causes.filter(pl.col("share") > 0).head(config.top_causes)["cause"].to_list()
    examples = risky.head(config.example_customers).with_columns(
        customer=pl.col(ID).map_elements(anonymise, return_dtype=pl.String)
    )
    offered, withheld = offered_measures(top_causes, mapping)
    return render_page(
        "snapshot.html.j2",
        offered=offered,
        withheld=withheld,
        taxonomy=taxonomy,
        no_reason=NO_REASON,
        report=report,
        customers=explained.height,
        high_risk_customers=risky.height,
        high_risk_share=config.high_risk_share,
        risk_threshold=risky["churn_probability"].min(),
        high_risk_rate=risky["churn_probability"].mean(),
        base_rate=explained["churn_probability"].mean(),
        category_shares=categories.row(0, named=True),
        cause_rows=causes.filter(pl.col("share") > 0).head(10).to_dicts(),
        feature_rows=feature_shares(risky, mapping).to_dicts(),
        examples=examples.to_dicts(),
        k=config.top_reasons,
        top_causes=top_causes,
        confusion=confusion_rows(report.agreement) if report.agreement else [],
        charts={
            "categories": figures.category_bars(categories),
            "causes": figures.cause_bars(causes, 10),
        },
    )


def offered_measures(
    causes: list[str], mapping: Mapping
) -> tuple[dict[str, dict[str, tuple[str, ...]]], list[str]]:
    """Per cause and work phase, the measures this dataset's clm features support, and the
    codes left out for want of the data they rest on."""
    taxonomy = load_taxonomy()
    features = [spec.meta.name for spec in mapping.features if spec.mapped]
    offered = {
        cause: {phase: taxonomy.offered(cause, phase, features) for phase in taxonomy.phases}
        for cause in causes
    }
    withheld = {
        code
        for cause in causes
        for phase, codes in taxonomy.causes[cause].measures.items()
        for code in codes
        if code not in offered[cause][phase]
    }
    return offered, sorted(withheld)


def describe_feature(spec: FeatureSpec) -> str:
    """A feature's source with its clip and rounding, as a reader would write them."""
    text = describe(spec.source)
    if spec.clip:
        low, high = (f"{bound:g}" if bound is not None else "" for bound in spec.clip)
        text = f"clip({text}, {low or '-inf'}, {high or 'inf'})"
    if spec.round_digits is not None:
        text = f"round({text}, {spec.round_digits})"
    return text


def describe(expression: Expression) -> str:
    """An expression as a reader would write it, for the report's feature table."""
    if isinstance(expression, Column):
        return expression.name
    if isinstance(expression, Constant):
        return f"{expression.value:g}"
    if isinstance(expression, Recode):
        return f"{expression.column} recoded"
    assert isinstance(expression, Arithmetic)
    symbol = {"sum": " + ", "difference": " - ", "product": " x ", "ratio": " / "}[expression.op]
    return "(" + symbol.join(describe(operand) for operand in expression.operands) + ")"
