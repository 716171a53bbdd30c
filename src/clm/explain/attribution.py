"""Reason-attribution accuracy: does a churner's top category match the true reason's?

Only synthetic data knows why each churner left (``data/truth``), so this is where the
mapping from model drivers to the taxonomy can be checked at all. The figure stands next to
a naive guess (always the most common true category) and is broken down by the churner's
true lifecycle stage at the snapshot month, because a reason leaves its signature in usage
only once the customer has entered warning.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from clm.domain.taxonomy import load_taxonomy

NO_REASON = "none"


@dataclass(frozen=True)
class Attribution:
    """Accuracy of the top category on churners with a known reason.

    Attributes:
        churners: How many churners were scored.
        accuracy: Share whose top category is their true reason's category.
        naive_category: The most common true category.
        naive_accuracy: Share a guess of ``naive_category`` for everybody would get right.
        by_stage: Churners and accuracy per true stage at the snapshot month.
        confusion: Churners per true reason (rows) and top category picked (columns, in
            taxonomy order, then ``none`` for churners with no positive driver).
    """

    churners: int
    accuracy: float
    naive_category: str
    naive_accuracy: float
    by_stage: pl.DataFrame
    confusion: pl.DataFrame

    def summary(self) -> dict:
        """The scalar figures, for the DVC metric file."""
        return {
            "churners": self.churners,
            "top_category_accuracy": self.accuracy,
            "naive_category": self.naive_category,
            "naive_accuracy": self.naive_accuracy,
            "accuracy_by_true_stage": {
                row["stage"]: {"churners": row["churners"], "accuracy": row["accuracy"]}
                for row in self.by_stage.iter_rows(named=True)
            },
        }


def attribution_accuracy(churners: pl.DataFrame) -> Attribution:
    """Score top categories against true reasons.

    Args:
        churners: One row per churner with ``top_category`` (null when no driver pushed
            towards churn), ``true_reason`` (a survey-reason code) and ``stage`` (the true
            lifecycle stage at the snapshot month).
    """
    if churners.is_empty():
        raise ValueError("no churners with a known reason to score")
    taxonomy = load_taxonomy()
    true_category = {
        code: taxonomy.category_of_reason(code).code for code in taxonomy.survey_reasons
    }
    scored = churners.with_columns(
        true_category=pl.col("true_reason").replace_strict(true_category, return_dtype=pl.String),
        picked=pl.col("top_category").fill_null(NO_REASON),
    ).with_columns(hit=pl.col("picked") == pl.col("true_category"))
    counts = scored["true_category"].value_counts(sort=True)
    naive_category, naive_hits = counts.row(0)
    by_stage = (
        scored.group_by(pl.col("stage").cast(pl.String))
        .agg(churners=pl.len(), accuracy=pl.col("hit").mean())
        .sort("stage")
    )
    return Attribution(
        churners=scored.height,
        accuracy=float(scored["hit"].mean()),
        naive_category=naive_category,
        naive_accuracy=naive_hits / scored.height,
        by_stage=by_stage,
        confusion=_confusion(scored, [*taxonomy.categories, NO_REASON]),
    )


def _confusion(scored: pl.DataFrame, picked: list[str]) -> pl.DataFrame:
    """Churners per true reason and picked category, every category a column."""
    counts = scored.group_by("true_reason", "true_category", "picked").len()
    wide = counts.pivot(on="picked", index=["true_reason", "true_category"], values="len")
    missing = [pl.lit(0, pl.UInt32).alias(name) for name in picked if name not in wide.columns]
    order = {code: i for i, code in enumerate(load_taxonomy().survey_reasons)}
    return (
        wide.with_columns(missing)
        .select("true_reason", "true_category", *picked)
        .fill_null(0)
        .sort(pl.col("true_reason").replace_strict(order, return_dtype=pl.Int32))
    )
