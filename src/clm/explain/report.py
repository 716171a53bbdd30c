"""The driver report: one self-contained, bilingual HTML file for a business reviewer.

Everything the page needs is inside it (inline CSS, inline SVG charts, no scripts, no
fonts or files fetched), so it opens offline and can be mailed or attached to a model run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from clm.domain.taxonomy import load_taxonomy
from clm.explain.attribution import NO_REASON, Attribution, Checks
from clm.explain.drivers import (
    ExplainConfig,
    category_shares,
    cause_shares,
    example_customers,
    high_risk,
    measure_grid,
    survey_comparison,
)
from clm.explain.scored_month import ScoredMonth
from clm.reports import figures
from clm.reports.render import render_page

SEGMENT = ["value_tier", "stage_predicted", "network"]
MIN_SEGMENT_CUSTOMERS = 20  # smaller segments are too noisy to show shares for


REFERENCE_LABELS = {
    "recorded": "离网点记录的原因 recorded reason",
    "true": "真实原因 true reason",
}


@dataclass(frozen=True)
class ReportInputs:
    """What the report is about: the scored month and the agreement checks per reference
    (``recorded``: the exit point's record; ``true``: the synthetic truth)."""

    month: str
    explained: pl.DataFrame
    checks: dict[str, Checks] = field(default_factory=dict)
    stage_learned_rule_table: bool = False  # no true stages: the stage model learned the rules
    scored: ScoredMonth | None = None  # the month the retention team acts on


def render_report(inputs: ReportInputs, config: ExplainConfig) -> str:
    """The report's HTML."""
    return render_page("drivers.html.j2", **_context(inputs, config))


def _context(inputs: ReportInputs, config: ExplainConfig) -> dict:
    """Every figure and table the template shows, computed once."""
    taxonomy = load_taxonomy()
    explained = inputs.explained
    truth = inputs.checks.get("true")
    risky = high_risk(explained, config.high_risk_share)
    causes = cause_shares(risky)
    top_causes = causes.filter(pl.col("share") > 0).head(config.top_causes)["cause"].to_list()
    segments = (
        category_shares(explained, SEGMENT)
        .filter(pl.col("customers") >= MIN_SEGMENT_CUSTOMERS)
        .sort(
            pl.col("value_tier").cast(pl.Enum(list(taxonomy.value_tiers))),
            pl.col("stage_predicted").cast(pl.Enum(list(taxonomy.stages))),
            "network",
        )
    )
    brands = category_shares(explained, ["brand"])
    regions = category_shares(explained, ["region"])
    comparison = survey_comparison(risky)
    measures = measure_grid(top_causes)
    used = sorted(
        {code for tier in taxonomy.value_tiers for codes in measures[tier] for code in codes}
    )
    return {
        "taxonomy": taxonomy,
        "month": inputs.month,
        "customers": explained.height,
        "high_risk_customers": risky.height,
        "high_risk_share": config.high_risk_share,
        "risk_threshold": risky["churn_probability"].min(),
        "high_risk_rate": risky["churn_probability"].mean(),
        "base_rate": explained["churn_probability"].mean(),
        "category_shares": category_shares(risky).row(0, named=True),
        "cause_rows": causes.filter(pl.col("share") > 0).head(10).to_dicts(),
        "segments": segments.to_dicts(),
        "brands": brands.to_dicts(),
        "regions": regions.to_dicts(),
        "survey": comparison.sort("network").to_dicts(),
        "examples": example_customers(risky, config.example_customers).to_dicts(),
        "k": config.top_reasons,
        "measures": measures.to_dicts(),
        "used_measures": [taxonomy.measures[code] for code in used],
        "checks": [
            {
                "label": REFERENCE_LABELS[name],
                "check": check,
                "confusion": confusion_rows(check.at_exit),
            }
            for name, check in sorted(inputs.checks.items())
        ],
        "attribution": truth.at_test_month if truth else None,
        "at_exit": truth.at_exit if truth else None,
        "stage_learned_rule_table": inputs.stage_learned_rule_table,
        "scored": inputs.scored,
        "min_segment": MIN_SEGMENT_CUSTOMERS,
        "no_reason": NO_REASON,
        "charts": {
            "categories": figures.category_bars(category_shares(risky)),
            "causes": figures.cause_bars(causes, 10),
            "survey": figures.survey_bars(comparison),
        },
    }


def confusion_rows(attribution: Attribution) -> list[dict]:
    """The confusion table's rows, each with its churner count for shading."""
    counts = attribution.confusion.drop("reason", "reason_category")
    return attribution.confusion.with_columns(churners=pl.sum_horizontal(counts.columns)).to_dicts()
