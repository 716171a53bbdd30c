"""Promote a challenger to ``champion`` when every gate passes, recording why on the version.

Both versions are re-scored from the registry on the same test month before anything is
locked (the slow part). Then, under the registry lease, the champion is re-read: if it moved
while we were scoring, the comparison is stale and the promotion stops (compare-and-set). Only
then are the tags written and the alias moved. A refusal, a dry run or any error before the
move leaves the registry exactly as it was.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion

from clm.promotion.evaluators import EVALUATORS, Evaluator, input_columns, score_version
from clm.promotion.gates import Evidence, GateResult, PromoteConfig, all_passed, evaluate_gates
from clm.promotion.history import (
    DECISION,
    NO_PREVIOUS,
    PREVIOUS_CHAMPION,
    PROMOTED,
    ROLLED_BACK,
    actor,
    number,
    record_and_move,
    utc_now,
    version_by_alias,
)
from clm.promotion.lease import registry_lease
from clm.registry import CHALLENGER, CHAMPION, REGISTERED_MODELS

log = logging.getLogger(__name__)


class PromotionError(RuntimeError):
    """Promotion could not be decided or carried out; the registry was left unchanged."""


@dataclass(frozen=True)
class PromotionInputs:
    """Where the evidence beyond the registry lives."""

    split_dir: Path  # holds test.parquet, the out-of-time month both versions are scored on
    validation_report: Path
    driver_report: Path


@dataclass(frozen=True)
class Decision:
    """The outcome of one ``promote`` call."""

    name: str
    challenger: str
    champion: str | None
    gates: list[GateResult]
    promoted: bool

    @property
    def passed(self) -> bool:
        return all_passed(self.gates)


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
    name = REGISTERED_MODELS[model]
    evaluator = evaluator or EVALUATORS.get(model)
    if evaluator is None or model not in config.metrics:
        raise PromotionError(
            f"promotion of '{model}' ({name}) is not set up: it needs an evaluator in "
            f"clm.promotion.evaluators and a promote.metrics.{model} section in params"
        )
    client = MlflowClient()
    challenger = _challenger(client, name, version)
    champion = version_by_alias(client, name, CHAMPION)
    if champion is not None and number(champion) == number(challenger):
        raise PromotionError(f"{name} version {challenger.version} is already {CHAMPION}")

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
    gates = [_not_rolled_back(challenger), *evaluate_gates(config.metrics[model], evidence)]
    decision = Decision(name, number(challenger), number(champion), gates, promoted=False)
    if dry_run or not decision.passed:
        return decision

    who = actor()
    with registry_lease(client, name, who, config.lease_seconds, config.lock_wait_seconds):
        current = version_by_alias(client, name, CHAMPION)
        if number(current) != decision.champion:
            raise PromotionError(
                f"{name}@{CHAMPION} moved from version {decision.champion} to "
                f"{number(current)} while this promotion was scoring; nothing was "
                "changed. Run it again to compare against the new champion."
            )
        tags = {
            DECISION: PROMOTED,
            PREVIOUS_CHAMPION: decision.champion or NO_PREVIOUS,
            "promoted_by": who,
            "promoted_at": utc_now(),
            **{f"gate.{gate.key}": gate.as_tag() for gate in gates},
        }
        record_and_move(client, challenger, tags, CHAMPION, challenger)
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


def _not_rolled_back(challenger: ModelVersion) -> GateResult:
    """A version rolled back out of production stays out until someone clears its tag."""
    rolled_back = challenger.tags.get(DECISION) == ROLLED_BACK
    return GateResult(
        key="not_rolled_back",
        gate="never rolled back",
        challenger=f"rolled back {challenger.tags.get('rolled_back_at', '')}".strip()
        if rolled_back
        else "no",
        champion="-",
        threshold=f"not {ROLLED_BACK}",
        passed=not rolled_back,
    )
