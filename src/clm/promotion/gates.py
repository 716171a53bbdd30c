"""Promotion gates as pure functions of the evidence, so every rule is testable without MLflow.

A challenger must not be worse than the champion beyond a tolerance on every configured metric,
must clear the metric's absolute limit (a floor for higher-is-better metrics, a cap for
lower-is-better ones; these alone decide the first promotion), must take the same inputs as the
champion, and the data and explanation reports it depends on must be in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from clm.config import ConfigError
from clm.registry import REGISTERED_MODELS

SCORER = "scorer"
SCORER_PARTS = ("churn", "stage")  # the models the scorer bundles

HIGHER_IS_BETTER = {
    "roc_auc": True,
    "pr_auc": True,
    "top_decile_lift": True,
    "macro_f1": True,
    "brier": False,
    "ece": False,
}


@dataclass(frozen=True)
class MetricGate:
    """How far a challenger may fall behind the champion on one metric, and its hard limit."""

    tolerance: float
    # floor (higher is better) or cap (lower is better); optional per metric: without one only
    # the tolerance against the champion gates (params.yaml's brier)
    limit: float | None = None


@dataclass(frozen=True)
class PromoteConfig:
    """The ``promote`` section."""

    lease_seconds: float  # a promotion lock older than this is stale (its holder crashed)
    lock_wait_seconds: float  # how long a promotion waits for another one's lock
    metrics: dict[str, dict[str, MetricGate]]  # model key -> metric -> gate

    def __post_init__(self) -> None:
        unknown = sorted(set(self.metrics) - set(REGISTERED_MODELS))
        if unknown:
            raise ConfigError(
                f"promote.metrics: unknown models {unknown}; known: {list(REGISTERED_MODELS)}"
            )
        for model, gates in self.metrics.items():
            unknown = sorted(set(gates) - set(HIGHER_IS_BETTER))
            if unknown:
                raise ConfigError(
                    f"promote.metrics.{model}: unknown metrics {unknown}; "
                    f"known: {sorted(HIGHER_IS_BETTER)}"
                )

    def gates_for(self, model: str) -> dict[str, MetricGate] | None:
        """The metric gates of ``model``; the scorer bundles the churn and stage models, so its
        parts are gated on their models' metrics (one source, no copy to drift)."""
        if model == SCORER:
            parts = [self.metrics.get(part) for part in SCORER_PARTS]
            return None if None in parts else {k: v for gates in parts for k, v in gates.items()}
        return self.metrics.get(model)


@dataclass(frozen=True)
class Evidence:
    """Everything the gates look at, gathered by the caller."""

    challenger_metrics: dict[str, float]
    champion_metrics: dict[str, float] | None  # None: no champion yet (first promotion)
    challenger_inputs: list[dict] | None  # the model signature's input columns
    champion_inputs: list[dict] | None
    validation_clean: bool | None  # None: no validation report
    driver_report_present: bool


@dataclass(frozen=True)
class GateResult:
    """One row of the gate table; ``key`` names the gate for programs."""

    key: str
    gate: str
    challenger: str
    champion: str
    threshold: str
    passed: bool


def evaluate_gates(gates: dict[str, MetricGate], evidence: Evidence) -> list[GateResult]:
    """Every gate's outcome, metric gates first, in the configured order."""
    results = []
    for metric, gate in gates.items():
        results.extend(_metric_gates(metric, gate, evidence))
    results.append(_signature_gate(evidence.challenger_inputs, evidence.champion_inputs))
    results.append(_validation_gate(evidence.validation_clean))
    results.append(
        GateResult(
            key="driver_report",
            gate="driver report present",
            challenger="present" if evidence.driver_report_present else "missing",
            champion="-",
            threshold="present and non-empty",
            passed=evidence.driver_report_present,
        )
    )
    return results


def all_passed(results: list[GateResult]) -> bool:
    return all(result.passed for result in results)


def _metric_gates(metric: str, gate: MetricGate, evidence: Evidence) -> list[GateResult]:
    higher = HIGHER_IS_BETTER[metric]
    value = evidence.challenger_metrics[metric]
    champion = None if evidence.champion_metrics is None else evidence.champion_metrics[metric]
    if champion is None:
        margin = GateResult(
            f"{metric}.margin", f"{metric} vs champion", f"{value:.4f}", "none",
            "none: first promotion", passed=True,
        )  # fmt: skip
    else:
        bound = champion - gate.tolerance if higher else champion + gate.tolerance
        margin = GateResult(
            f"{metric}.margin", f"{metric} vs champion", f"{value:.4f}", f"{champion:.4f}",
            f"{'>=' if higher else '<='} {bound:.4f}",
            passed=value >= bound if higher else value <= bound,
        )  # fmt: skip
    if gate.limit is None:
        return [margin]
    name = "floor" if higher else "cap"
    absolute = GateResult(
        f"{metric}.{name}", f"{metric} {name}", f"{value:.4f}", "-",
        f"{'>=' if higher else '<='} {gate.limit:.4f}",
        passed=value >= gate.limit if higher else value <= gate.limit,
    )  # fmt: skip
    return [margin, absolute]


def _signature_gate(challenger: list[dict] | None, champion: list[dict] | None) -> GateResult:
    """Same input columns with the same types, so callers of the champion keep working."""
    row = {"key": "signature", "gate": "input signature", "threshold": "same columns and types"}
    if challenger is None:
        return GateResult(**row, challenger="no signature", champion="-", passed=False)
    if champion is None:
        return GateResult(
            **row, challenger=f"{len(challenger)} columns", champion="none", passed=True
        )
    theirs, ours = _columns(champion), _columns(challenger)
    missing = sorted(set(theirs) - set(ours))
    extra = sorted(set(ours) - set(theirs))
    retyped = sorted(name for name in set(ours) & set(theirs) if ours[name] != theirs[name])
    if not (missing or extra or retyped):
        return GateResult(
            **row, challenger=f"{len(ours)} columns", champion=f"{len(theirs)} columns", passed=True
        )
    differences = [
        f"{label} {', '.join(names)}"
        for label, names in (("missing", missing), ("extra", extra), ("retyped", retyped))
        if names
    ]
    return GateResult(
        **row, challenger="; ".join(differences), champion=f"{len(theirs)} columns", passed=False
    )


def _columns(inputs: list[dict]) -> dict[str, str]:
    return {column.get("name", str(index)): column["type"] for index, column in enumerate(inputs)}


def _validation_gate(clean: bool | None) -> GateResult:
    shown = {None: "missing", True: "clean", False: "not clean"}[clean]
    return GateResult(
        key="validation_report",
        gate="raw-data validation report",
        challenger=shown,
        champion="-",
        threshold="clean",
        passed=clean is True,
    )


@dataclass(frozen=True)
class Decision:
    """The outcome of one ``promote`` call."""

    name: str
    challenger: str
    champion: str | None
    gates: list[GateResult]
    promoted: bool = False
    already_champion: bool = False  # nothing was scored: the version holds champion already

    @property
    def passed(self) -> bool:
        return all_passed(self.gates)
