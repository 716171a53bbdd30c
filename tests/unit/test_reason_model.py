"""The reason model: learned from recorded reasons, blended with TreeSHAP shares by
held-out agreement, and the causes it names."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest
from tests import explained
from tests.params import repo_params

from clm.explain.reason_model import (
    ReasonModel,
    explain_reasons,
    fit_reason_model,
    positive_shares,
)
from clm.explain.reasons import (
    Contributions,
    cause_scores,
    feature_contributions,
    rank_reasons,
    to_causes,
)

CONFIG = replace(repo_params().reasons, holdout_months=1, rounds=30, min_churners=100)


@pytest.fixture(scope="module")
def churners():
    """Churners driven by dropped calls; those with little VAS revenue said the dealer's
    card was flipped (channel behaviour), which no churn driver points at."""
    frame = explained.customers(n=3000, seed=2)
    churn, _ = explained.churn_and_stage_models(frame)
    rows = frame.filter(pl.col("churn") == 1).with_columns(
        recorded=pl.when(pl.col("vas_revenue") < 5)
        .then(pl.lit("channel_behaviour"))
        .otherwise(pl.lit("product_quality")),
        month=pl.col("subscriber_id") % 3,
    )
    return churn, rows, to_causes(feature_contributions(churn, rows))


def test_the_model_learns_what_churners_said_and_the_blend_is_chosen_held_out(churners, tmp_path):
    churn, rows, causes = churners
    model = fit_reason_model(churn, rows, causes, rows["recorded"], rows["month"], CONFIG)
    assert model.booster is not None and model.weight > 0
    assert model.agreement["0"] < 0.85 < max(model.agreement.values())
    top = explain_reasons(churn, rows, causes, 3, model)
    picked = top["top_categories"].list.first()
    assert (picked == rows["recorded"]).mean() > 0.9
    flipped = top.filter(rows["recorded"] == "channel_behaviour")
    assert (flipped["reason_1_cause"] == "dealer_speculation").mean() > 0.9

    model.save(tmp_path / "reasons")
    loaded = ReasonModel.load(tmp_path / "reasons")
    assert loaded.weight == model.weight and loaded.agreement == model.agreement
    again = explain_reasons(churn, rows, causes, 3, loaded)
    assert again.equals(top)


def test_too_few_recorded_reasons_leave_the_treeshap_ranking(churners, tmp_path):
    churn, rows, causes = churners
    few = replace(CONFIG, min_churners=rows.height + 1)
    model = fit_reason_model(churn, rows, causes, rows["recorded"], rows["month"], few)
    assert model.booster is None and model.weight == 0
    model.save(tmp_path / "reasons")
    assert ReasonModel.load(tmp_path / "reasons").booster is None
    blended = explain_reasons(churn, rows, causes, 3, model).drop("top_categories")
    assert blended.equals(rank_reasons(causes, 3))


def test_cause_scores_split_a_category_by_its_pushes_or_give_it_to_its_representative():
    names = ("network_coverage", "call_quality", "dealer_speculation", "service_offering")
    causes = Contributions(names, np.array([[0.3, 0.1, 0.0, -0.2]]), np.zeros(1))
    shares = positive_shares(causes)
    categories = dict(zip(shares.names, shares.values[0], strict=True))
    assert categories["product_quality"] == pytest.approx(1.0)
    # a reason model naming channel behaviour, which no cause pushes
    scores = Contributions(
        shares.names,
        np.array(
            [
                [
                    0.4 if c == "product_quality" else 0.6 if c == "channel_behaviour" else 0
                    for c in shares.names
                ]
            ]
        ),
        np.zeros(1),
    )
    split = dict(zip(names, cause_scores(causes, scores).values[0], strict=True))
    assert split["network_coverage"] == pytest.approx(0.3)
    assert split["call_quality"] == pytest.approx(0.1)
    assert split["dealer_speculation"] == pytest.approx(0.6)
    assert split["service_offering"] == 0
