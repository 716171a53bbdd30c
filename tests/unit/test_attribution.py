"""Reason agreement on hand-made churners: shares, intervals, the naive guess, confusion."""

from __future__ import annotations

import polars as pl
import pytest

from clm.domain.taxonomy import load_taxonomy
from clm.explain.attribution import NO_REASON, attribution_accuracy, wilson_interval


def _churners(rows: list[tuple[list[str], str, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={"top_categories": pl.List(pl.String), "reason": pl.String, "stage": pl.String},
        orient="row",
    )


def test_accuracy_top3_naive_guess_and_breakdown():
    churners = _churners(
        [
            (["product_quality"], "coverage_quality", "warning"),  # hit
            (["product_quality", "service_level"], "handset", "warning"),  # hit: same category
            (["competitor_behaviour"], "price", "warning"),  # hit
            (["product_quality", "competitor_behaviour"], "price", "stable"),  # top-3 hit only
            (["policy_measures"], "value_added_services", "stable"),  # miss
            ([], "billing", "growth"),  # miss: no positive driver at all
        ]
    )
    result = attribution_accuracy(churners)
    assert result.churners == 6
    assert result.accuracy == pytest.approx(3 / 6)
    assert result.top3.value == pytest.approx(4 / 6)
    # reference categories: product quality x3, competitor x2, service level x1
    assert result.naive_category == "product_quality"
    assert result.naive_accuracy == pytest.approx(3 / 6)
    by_stage = {row["stage"]: row for row in result.by_stage.iter_rows(named=True)}
    assert by_stage["warning"] == {"stage": "warning", "churners": 3, "accuracy": 1.0}
    assert by_stage["stable"]["accuracy"] == 0.0
    summary = result.summary()
    assert summary["accuracy_by_true_stage"]["growth"] == {"churners": 1, "accuracy": 0}
    low, high = summary["top_category_interval_95"]
    assert low < 0.5 < high


def test_confusion_has_every_category_and_counts_each_churner_once():
    churners = _churners(
        [
            (["product_quality"], "price", "warning"),
            (["competitor_behaviour"], "price", "warning"),
            ([], "price", "stable"),
            (["customer_behaviour"], "relocation", "warning"),
        ]
    )
    confusion = attribution_accuracy(churners).confusion
    assert confusion.columns == [
        "reason", "reason_category", *load_taxonomy().categories, NO_REASON,
    ]  # fmt: skip
    price = confusion.filter(reason="price").row(0, named=True)
    assert price["reason_category"] == "competitor_behaviour"
    assert (price["product_quality"], price["competitor_behaviour"], price[NO_REASON]) == (1, 1, 1)
    assert confusion.drop("reason", "reason_category").sum_horizontal().sum() == 4
    assert confusion["reason"].to_list() == ["price", "relocation"]  # survey order


def test_a_datasets_own_labels_map_to_categories_and_stages_are_optional():
    churners = pl.DataFrame(
        {
            "top_categories": [["competitor_behaviour"], ["service_level"], ["product_quality"]],
            "reason": ["Competitor", "Attitude", "Competitor"],
        }
    )
    labels = {"Competitor": "competitor_behaviour", "Attitude": "service_level"}
    result = attribution_accuracy(churners, labels)
    assert result.accuracy == pytest.approx(2 / 3)
    assert "accuracy_by_true_stage" not in result.summary()
    assert result.confusion["reason"].to_list() == ["Competitor", "Attitude"]


def test_a_reason_without_a_category_is_refused():
    churners = pl.DataFrame({"top_categories": [["service_level"]], "reason": ["Weather"]})
    with pytest.raises(ValueError, match="Weather"):
        attribution_accuracy(churners, {"Competitor": "competitor_behaviour"})


def test_wilson_interval_matches_the_textbook_and_stays_in_zero_one():
    low, high = wilson_interval(50, 100)
    assert (low, high) == pytest.approx((0.4038, 0.5962), abs=1e-4)
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        wilson_interval(3, 0)


def test_no_churners_is_an_error():
    with pytest.raises(ValueError, match="no churners"):
        attribution_accuracy(_churners([]))
