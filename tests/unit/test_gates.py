"""Promotion gates as pure functions: margins, floors and caps, signature, reports."""

from __future__ import annotations

import dataclasses

import pytest

from clm.config import ConfigError, from_dict
from clm.promotion.gates import (
    Evidence,
    MetricGate,
    PromoteConfig,
    all_passed,
    evaluate_gates,
)

CHURN_GATES = {
    "roc_auc": MetricGate(tolerance=0.005, limit=0.70),
    "brier": MetricGate(tolerance=0.002),
    "ece": MetricGate(tolerance=0.005, limit=0.03),
}
INPUTS = [{"name": "arpu", "type": "float"}, {"name": "network=C", "type": "float"}]
CHAMPION = {"roc_auc": 0.880, "brier": 0.065, "ece": 0.010}


def evidence(**changes) -> Evidence:
    base = Evidence(
        challenger_metrics={"roc_auc": 0.885, "brier": 0.064, "ece": 0.008},
        champion_metrics=CHAMPION,
        challenger_inputs=INPUTS,
        champion_inputs=INPUTS,
        validation_clean=True,
        driver_report_present=True,
    )
    return dataclasses.replace(base, **changes)


def failed(results) -> set[str]:
    return {result.key for result in results if not result.passed}


def test_a_better_challenger_passes_every_gate():
    results = evaluate_gates(CHURN_GATES, evidence())
    assert all_passed(results)
    assert [r.key for r in results] == [
        "roc_auc.margin", "roc_auc.floor", "brier.margin", "ece.margin", "ece.cap",
        "signature", "validation_report", "driver_report",
    ]  # fmt: skip


def test_within_tolerance_passes_and_beyond_it_fails():
    within = evidence(challenger_metrics={"roc_auc": 0.8751, "brier": 0.0669, "ece": 0.0149})
    assert all_passed(evaluate_gates(CHURN_GATES, within))
    beyond = evidence(challenger_metrics={"roc_auc": 0.8740, "brier": 0.0680, "ece": 0.0160})
    assert failed(evaluate_gates(CHURN_GATES, beyond)) == {
        "roc_auc.margin",
        "brier.margin",
        "ece.margin",
    }


def test_margin_row_shows_the_bound():
    margin = evaluate_gates(CHURN_GATES, evidence())[0]
    assert (margin.challenger, margin.champion, margin.threshold) == (
        "0.8850",
        "0.8800",
        ">= 0.8750",
    )


def test_first_promotion_is_decided_by_absolute_limits_only():
    weak = evidence(
        champion_metrics=None,
        champion_inputs=None,
        challenger_metrics={"roc_auc": 0.69, "brier": 0.5, "ece": 0.031},
    )
    assert failed(evaluate_gates(CHURN_GATES, weak)) == {"roc_auc.floor", "ece.cap"}
    fine = evidence(
        champion_metrics=None,
        champion_inputs=None,
        challenger_metrics={"roc_auc": 0.71, "brier": 0.5, "ece": 0.02},
    )
    assert all_passed(evaluate_gates(CHURN_GATES, fine))


def test_ece_cap_holds_even_when_champion_is_worse():
    bad_champion = {"roc_auc": 0.88, "brier": 0.065, "ece": 0.05}
    results = evaluate_gates(
        CHURN_GATES,
        evidence(champion_metrics=bad_champion, challenger_metrics={**bad_champion, "ece": 0.04}),
    )
    assert failed(results) == {"ece.cap"}


@pytest.mark.parametrize(
    ("inputs", "shown"),
    [
        ([INPUTS[0]], "missing network=C"),
        ([*INPUTS, {"name": "mou", "type": "float"}], "extra mou"),
        ([INPUTS[0], {"name": "network=C", "type": "double"}], "retyped network=C"),
        (None, "no signature"),
    ],
)
def test_signature_must_match_the_champion(inputs, shown):
    results = evaluate_gates(CHURN_GATES, evidence(challenger_inputs=inputs))
    assert failed(results) == {"signature"}
    assert next(r for r in results if r.key == "signature").challenger == shown


@pytest.mark.parametrize("clean", [False, None])
def test_validation_report_must_be_clean(clean):
    assert failed(evaluate_gates(CHURN_GATES, evidence(validation_clean=clean))) == {
        "validation_report"
    }


def test_driver_report_must_be_present():
    assert failed(evaluate_gates(CHURN_GATES, evidence(driver_report_present=False))) == {
        "driver_report"
    }


def test_config_names_unknown_metrics():
    with pytest.raises(ConfigError, match="accuracy"):
        from_dict(
            PromoteConfig,
            {
                "lease_seconds": 60,
                "lock_wait_seconds": 5,
                "metrics": {"churn": {"accuracy": {"tolerance": 0.1}}},
            },
        )


def test_config_names_unknown_models():
    with pytest.raises(ConfigError, match=r"unknown models \['chrun'\]"):
        from_dict(
            PromoteConfig,
            {
                "lease_seconds": 60,
                "lock_wait_seconds": 5,
                "metrics": {"chrun": {"roc_auc": {"tolerance": 0.1}}},
            },
        )
