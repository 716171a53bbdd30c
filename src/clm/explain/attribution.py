"""Do the top categories agree with why churners left, and by more than a naive guess?

Two references: the synthetic truth (``data/truth``, only the generator knows it) and the
reason an operator recorded at the exit point (``churn_events.reason``, or a mapping's
``reason`` column), which any dataset may have. Every share comes with its 95 % Wilson
interval, so a difference between clm and the naive guess (always the most common
category) can be told from noise on a few hundred churners. On the truth the figure is
broken down by the churner's true lifecycle stage at the snapshot month, because a reason
leaves its signature in usage only once the customer has entered warning.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from clm.domain.taxonomy import load_taxonomy

NO_REASON = "none"
Z_95 = 1.959964


@dataclass(frozen=True)
class Share:
    """``hits`` of ``total`` churners, with the 95 % Wilson score interval."""

    hits: int
    total: int

    @property
    def value(self) -> float:
        return self.hits / self.total

    @property
    def interval(self) -> tuple[float, float]:
        return wilson_interval(self.hits, self.total)

    def summary(self) -> dict:
        low, high = self.interval
        return {"share": self.value, "interval_95": [low, high]}


def wilson_interval(hits: int, total: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a share: unlike the normal one it stays inside [0, 1]
    and is honest near 0 and 1, where reason figures on small segments live."""
    if total <= 0 or not 0 <= hits <= total:
        raise ValueError(f"a share needs 0 <= hits <= total and total > 0, got {hits}/{total}")
    share = hits / total
    centre = share + z * z / (2 * total)
    spread = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total))
    scale = 1 + z * z / total
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


@dataclass(frozen=True)
class Attribution:
    """Agreement of the top categories with a reference reason, on churners that have one.

    Attributes:
        churners: How many churners were scored.
        top_category: Churners whose top category is their reason's category.
        top3: Churners whose reason's category is among their top three categories.
        naive_category: The most common reference category.
        naive: Churners a guess of ``naive_category`` for everybody gets right.
        by_stage: Churners and top-category accuracy per true stage at the snapshot month
            (empty without stages).
        confusion: Churners per reference reason (rows) and top category picked (columns,
            in taxonomy order, then ``none`` for churners with no positive driver).
    """

    churners: int
    top_category: Share
    top3: Share
    naive_category: str
    naive: Share
    by_stage: pl.DataFrame
    confusion: pl.DataFrame

    @property
    def accuracy(self) -> float:
        return self.top_category.value

    @property
    def naive_accuracy(self) -> float:
        return self.naive.value

    def summary(self) -> dict:
        """The scalar figures, for the DVC metric file."""
        return {
            "churners": self.churners,
            "top_category_accuracy": self.accuracy,
            "top_category_interval_95": list(self.top_category.interval),
            "top3_category_accuracy": self.top3.value,
            "top3_category_interval_95": list(self.top3.interval),
            "naive_category": self.naive_category,
            "naive_accuracy": self.naive_accuracy,
            "naive_interval_95": list(self.naive.interval),
            **(
                {
                    "accuracy_by_true_stage": {
                        row["stage"]: {"churners": row["churners"], "accuracy": row["accuracy"]}
                        for row in self.by_stage.iter_rows(named=True)
                    }
                }
                if not self.by_stage.is_empty()
                else {}
            ),
        }


@dataclass(frozen=True)
class Checks:
    """Agreement with one reference reason, at the test month and at the last month of
    service."""

    at_test_month: Attribution
    at_exit: Attribution

    def summary(self) -> dict:
        return {"at_test_month": self.at_test_month.summary(), "at_exit": self.at_exit.summary()}


def survey_categories() -> dict[str, str]:
    """Each exit-survey reason's category, in survey order (through its cause)."""
    taxonomy = load_taxonomy()
    return {code: taxonomy.category_of_reason(code).code for code in taxonomy.survey_reasons}


def attribution_accuracy(
    churners: pl.DataFrame, category_of: Mapping[str, str] | None = None
) -> Attribution:
    """Score top categories against each churner's reference reason.

    Args:
        churners: One row per churner with ``reason`` (the reference: a key of
            ``category_of``), ``top_categories`` (list of categories, strongest first, empty
            when no driver pushed towards churn) and optionally ``stage`` (the true stage at
            the snapshot month).
        category_of: Each reason's category, in the confusion table's row order; the exit
            survey's by default.
    """
    if churners.is_empty():
        raise ValueError("no churners with a known reason to score")
    category_of = dict(category_of or survey_categories())
    unknown = sorted(set(churners["reason"].unique()) - set(category_of))
    if unknown:
        raise ValueError(f"reasons {unknown} have no category; known: {list(category_of)}")
    scored = churners.with_columns(
        reason_category=pl.col("reason").replace_strict(category_of, return_dtype=pl.String),
        picked=pl.col("top_categories").list.first().fill_null(NO_REASON),
    ).with_columns(
        hit=pl.col("picked") == pl.col("reason_category"),
        hit3=pl.col("top_categories").list.head(3).list.contains(pl.col("reason_category")),
    )
    counts = scored["reason_category"].value_counts(sort=True)
    naive_category, naive_hits = counts.row(0)
    total = scored.height
    by_stage = (
        scored.group_by(pl.col("stage").cast(pl.String))
        .agg(churners=pl.len(), accuracy=pl.col("hit").mean())
        .sort("stage")
        if "stage" in scored.columns and scored["stage"].is_not_null().any()
        else pl.DataFrame()
    )
    return Attribution(
        churners=total,
        top_category=Share(int(scored["hit"].sum()), total),
        top3=Share(int(scored["hit3"].sum()), total),
        naive_category=naive_category,
        naive=Share(naive_hits, total),
        by_stage=by_stage,
        confusion=_confusion(scored, list(category_of)),
    )


def _confusion(scored: pl.DataFrame, reasons: list[str]) -> pl.DataFrame:
    """Churners per reason and picked category, every category a column."""
    picked = [*load_taxonomy().categories, NO_REASON]
    counts = scored.group_by("reason", "reason_category", "picked").len()
    wide = counts.pivot(on="picked", index=["reason", "reason_category"], values="len")
    missing = [pl.lit(0, pl.UInt32).alias(name) for name in picked if name not in wide.columns]
    order = {code: i for i, code in enumerate(reasons)}
    return (
        wide.with_columns(missing)
        .select("reason", "reason_category", *picked)
        .fill_null(0)
        .sort(pl.col("reason").replace_strict(order, return_dtype=pl.Int32))
    )
