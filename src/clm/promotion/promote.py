"""Promote a challenger to ``champion`` when every gate passes.

Both versions are re-scored from the registry on the same test month before anything is
locked (the slow part); then ``move_champion`` moves the alias under the lease, unless the
champion moved meanwhile, and records the decision. A refusal, a dry run or any error before
the move leaves the registry exactly as it was; promoting the current champion again changes
nothing and is not an error, so a rerun CI job succeeds.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion

from clm.promotion.champion import move_champion, number, version_by_alias
from clm.promotion.evaluators import EVALUATORS, Evaluator, input_columns, score_version
from clm.promotion.gates import (
    Decision,
    Evidence,
    GateResult,
    PromoteConfig,
    evaluate_gates,
)
from clm.promotion.history import PROMOTE, Event, read_history, rolled_back
from clm.promotion.table import gate_markdown
from clm.registry import CHALLENGER, CHAMPION, registered_name

log = logging.getLogger(__name__)


class PromotionError(RuntimeError):
    """Promotion could not be decided or carried out; the registry was left unchanged."""


@dataclass(frozen=True)
class PromotionInputs:
    """Where the evidence beyond the registry lives."""

    split_dir: Path  # holds test.parquet, the out-of-time month both versions are scored on
    validation_report: Path
    driver_report: Path


def promote(
    model: str,
    config: PromoteConfig,
    inputs: PromotionInputs,
    *,
    version: str | None = None,
    dry_run: bool = False,
    evaluator: Evaluator | None = None,
) -> Decision:
    """Gate ``version`` (default: the ``challenger`` alias) against the champion; move
    ``champion`` to it if every gate passes and this is not a dry run."""
    name = registered_name(model)
    evaluator = evaluator or EVALUATORS.get(model)
    gates = config.gates_for(model)
    if evaluator is None or gates is None:
        raise PromotionError(
            f"promotion of '{model}' ({name}) is not set up: it needs an evaluator in "
            f"clm.promotion.evaluators and a promote.metrics.{model} section in params"
        )
    client = MlflowClient()
    challenger = _challenger(client, name, version)
    champion = version_by_alias(client, name, CHAMPION)
    if number(champion) == number(challenger):
        return Decision(name, number(challenger), number(champion), [], already_champion=True)

    challenger_metrics = score_version(evaluator, challenger, inputs.split_dir)
    champion_metrics = None
    if champion is not None:
        champion_metrics = score_version(evaluator, champion, inputs.split_dir)
    evidence = Evidence(
        challenger_metrics=challenger_metrics,
        champion_metrics=champion_metrics,
        challenger_inputs=input_columns(challenger),
        champion_inputs=None if champion is None else input_columns(champion),
        validation_clean=_validation_clean(inputs.validation_report),
        driver_report_present=inputs.driver_report.is_file()
        and inputs.driver_report.stat().st_size > 0,
    )
    history = read_history(client, name)
    gates = [
        _not_rolled_back(number(challenger), rolled_back(history)),
        *evaluate_gates(gates, evidence),
    ]
    decision = Decision(name, number(challenger), number(champion), gates)
    if dry_run or not decision.passed:
        return decision
    move_champion(
        client, config, decision.champion, challenger, PROMOTE, description=gate_markdown(decision)
    )
    return dataclasses.replace(decision, promoted=True)


def _challenger(client: MlflowClient, name: str, version: str | None) -> ModelVersion:
    if version is not None:
        return client.get_model_version(name, version)
    challenger = version_by_alias(client, name, CHALLENGER)
    if challenger is None:
        raise PromotionError(f"{name} has no '{CHALLENGER}' alias: train a model first")
    return challenger


def _validation_clean(report: Path) -> bool | None:
    if not report.is_file():
        return None
    return json.loads(report.read_text(encoding="utf-8")).get("clean") is True


def _not_rolled_back(challenger: str, rollbacks: dict[str, Event]) -> GateResult:
    """A version rolled back out of production stays out: register it again to retry it."""
    event = rollbacks.get(challenger)
    return GateResult(
        key="not_rolled_back",
        gate="never rolled back",
        challenger="no" if event is None else f"rolled back {event.at} by {event.by}",
        champion="-",
        threshold="not rolled back",
        passed=event is None,
    )
