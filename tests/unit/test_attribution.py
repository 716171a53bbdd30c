"""Reason-attribution accuracy on hand-made churners."""

from __future__ import annotations

import polars as pl
import pytest

from clm.domain.taxonomy import load_taxonomy
from clm.explain.attribution import NO_REASON, attribution_accuracy


def _churners(rows: list[tuple[str | None, str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema={"top_category": pl.String, "true_reason": pl.String, "stage": pl.String},
        orient="row",
    )  # fmt: skip


def test_accuracy_naive_guess_and_breakdown():
    churners = _churners(
        [
            ("product_quality", "coverage_quality", "warning"),  # hit
            ("product_quality", "handset", "warning"),  # hit: same category, other reason
            ("competitor_behaviour", "price", "warning"),  # hit
            ("product_quality", "price", "stable"),  # miss
            ("policy_measures", "value_added_services", "stable"),  # miss
            (None, "billing", "growth"),  # miss: no positive driver at all
        ]
    )
    result = attribution_accuracy(churners)
    assert result.churners == 6
    assert result.accuracy == pytest.approx(3 / 6)
    # true categories: product quality x3, competitor x2, service level x1
    assert result.naive_category == "product_quality"
    assert result.naive_accuracy == pytest.approx(3 / 6)
    by_stage = {row["stage"]: row for row in result.by_stage.iter_rows(named=True)}
    assert by_stage["warning"] == {"stage": "warning", "churners": 3, "accuracy": 1.0}
    assert by_stage["stable"]["accuracy"] == 0.0
    assert result.summary()["accuracy_by_true_stage"]["growth"] == {"churners": 1, "accuracy": 0}


def test_confusion_has_every_category_and_counts_each_churner_once():
    churners = _churners(
        [
            ("product_quality", "price", "warning"),
            ("competitor_behaviour", "price", "warning"),
            (None, "price", "stable"),
            ("customer_behaviour", "relocation", "warning"),
        ]
    )
    confusion = attribution_accuracy(churners).confusion
    assert confusion.columns == [
        "true_reason", "true_category", *load_taxonomy().categories, NO_REASON,
    ]  # fmt: skip
    price = confusion.filter(true_reason="price").row(0, named=True)
    assert price["true_category"] == "competitor_behaviour"
    assert (price["product_quality"], price["competitor_behaviour"], price[NO_REASON]) == (1, 1, 1)
    assert confusion.drop("true_reason", "true_category").sum_horizontal().sum() == 4
    assert confusion["true_reason"].to_list() == ["price", "relocation"]  # survey order


def test_no_churners_is_an_error():
    with pytest.raises(ValueError, match="no churners"):
        attribution_accuracy(_churners([]))
