"""Gated promotion and rollback against the embedded SQLite store, on tiny registered versions.

The store is built once per session (weak, good and random churn versions, ``promotion_store``);
each test works on its own copy of the database, so tests cannot see each other's aliases and
tags.
"""

from __future__ import annotations

import dataclasses
import time

import pytest
from mlflow import MlflowClient
from promotion_support import (
    CONFIG,
    NAME,
    champion_of,
    history_of,
    set_aliases,
    snapshot,
    write_evidence,
)
from tests.mlflow_store import copy_store, tracking_uri
from typer.testing import CliRunner

from clm.cli import app
from clm.promotion.evaluators import VersionLoadError
from clm.promotion.gates import MetricGate
from clm.promotion.history import read_history
from clm.promotion.lease import LeaseBusyError, lock_name
from clm.promotion.promote import PromotionError, promote
from clm.promotion.rollback import RollbackError, rollback
from clm.registry import UnknownModelError

pytestmark = pytest.mark.slow
# Lets any version through on metrics, so a test can move champion back and forth.
LOOSE = dataclasses.replace(CONFIG, metrics={"churn": {"roc_auc": MetricGate(tolerance=1.0)}})


@pytest.fixture
def client(promotion_store, tmp_path):
    """A client on this test's own copy of the session's promotion store."""
    with tracking_uri(copy_store(promotion_store, tmp_path)):
        yield MlflowClient()


@pytest.fixture
def inputs(tmp_path):
    return write_evidence(tmp_path / "evidence")


def test_first_version_becomes_champion_on_absolute_gates(client, inputs):
    set_aliases(client, champion=None, challenger="1")
    decision = promote("churn", CONFIG, inputs)
    assert decision.promoted and decision.champion is None
    assert champion_of(client) == "1"
    assert history_of(client) == [("promote", None, "1")]
    event = read_history(client, NAME)[0]
    assert event.by and event.at.endswith("+00:00")
    version = client.get_model_version(NAME, "1")
    assert version.tags["promotion_decision"] == "promoted"
    # The gate table is the version's description, not one tag per gate.
    assert not [key for key in version.tags if key.startswith("gate.")]
    assert "| roc_auc floor | 0." in version.description and "| pass |" in version.description


def test_worse_challenger_is_refused_and_registry_unchanged(client, inputs):
    set_aliases(client, champion="2", challenger="3")
    before = snapshot(client)
    decision = promote("churn", CONFIG, inputs)
    assert not decision.promoted
    failed = {gate.key for gate in decision.gates if not gate.passed}
    assert {"roc_auc.margin", "roc_auc.floor", "top_decile_lift.margin"} <= failed
    assert snapshot(client) == before


def test_better_challenger_is_promoted_then_rolled_back(client, inputs):
    set_aliases(client, champion="1", challenger="2")
    decision = promote("churn", CONFIG, inputs)
    assert decision.promoted and decision.passed
    assert champion_of(client) == "2"
    assert client.get_model_version(NAME, "2").tags["promotion_decision"] == "promoted"

    done = rollback("churn", CONFIG, reason="complaints from the retention team")
    assert (done.from_version, done.to_version, done.moved) == ("2", "1", True)
    assert champion_of(client) == "1"
    assert client.get_model_version(NAME, "2").tags["promotion_decision"] == "rolled_back"
    assert history_of(client) == [("promote", "1", "2"), ("rollback", "2", "1")]
    assert read_history(client, NAME)[1].reason == "complaints from the retention team"

    # A rolled-back version does not sneak back in on the next scheduled promotion.
    again = promote("churn", CONFIG, inputs)
    assert not again.promoted
    assert [g.key for g in again.gates if not g.passed] == ["not_rolled_back"]
    # v1 became champion by hand and v2 was rolled back: nothing left to roll back to.
    with pytest.raises(RollbackError, match="no earlier champion that was not rolled back"):
        rollback("churn", CONFIG, reason="again")


def test_rollback_walks_the_history_and_never_cycles(client, inputs):
    """Issue 13.5: promote v3, promote v1 again, roll back three times."""
    set_aliases(client, champion="1", challenger="3")
    assert promote("churn", LOOSE, inputs).promoted
    assert promote("churn", LOOSE, inputs, version="1").promoted

    assert rollback("churn", LOOSE, reason="first").to_version == "3"
    for reason in ("second", "third"):
        with pytest.raises(RollbackError, match="history: v1 -> v3 -> v1 -> v3 \\(rollback\\)"):
            rollback("churn", LOOSE, reason=reason)
    assert champion_of(client) == "3"
    # Append-only: v1's first promotion is still there, next to its second one.
    assert history_of(client) == [
        ("promote", "1", "3"), ("promote", "3", "1"), ("rollback", "1", "3"),
    ]  # fmt: skip
    # The rolled-back v1 is refused by the gates, even asked for by number.
    refused = promote("churn", LOOSE, inputs, version="1")
    assert [g.key for g in refused.gates if not g.passed] == ["not_rolled_back"]


def test_an_interrupted_promotion_records_no_decision(client, inputs, monkeypatch):
    """Killed while moving the alias (Ctrl-C, SIGTERM): no tag claims a promotion."""
    set_aliases(client, champion="1", challenger="2")
    before = snapshot(client)

    def killed(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(MlflowClient, "set_registered_model_alias", killed)
    with pytest.raises(KeyboardInterrupt):
        promote("churn", CONFIG, inputs)
    assert snapshot(client) == before
    assert "promotion_decision" not in client.get_model_version(NAME, "2").tags


def test_promoting_the_champion_again_changes_nothing(client, inputs):
    set_aliases(client, champion="2", challenger="2")
    before = snapshot(client)
    decision = promote("churn", CONFIG, inputs)
    assert decision.already_champion and not decision.promoted
    assert snapshot(client) == before


def test_dry_run_changes_nothing(client, inputs):
    set_aliases(client, champion="1", challenger="2")
    before = snapshot(client)
    decision = promote("churn", CONFIG, inputs, dry_run=True)
    assert decision.passed and not decision.promoted
    assert snapshot(client) == before


def test_unloadable_challenger_leaves_registry_unchanged(client, inputs, tmp_path):
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    broken = client.create_model_version(NAME, str(empty), run_id=None)
    set_aliases(client, champion="1", challenger=broken.version)
    before = snapshot(client)
    with pytest.raises(VersionLoadError, match=f"version {broken.version} cannot be loaded"):
        promote("churn", CONFIG, inputs)
    assert snapshot(client) == before


def test_missing_challenger_is_a_clear_error(client, inputs):
    set_aliases(client, champion="1", challenger=None)
    before = snapshot(client)
    with pytest.raises(PromotionError, match="no 'challenger' alias"):
        promote("churn", CONFIG, inputs)
    assert snapshot(client) == before


def test_a_held_lock_stops_a_promotion_and_an_expired_one_is_broken(client, inputs):
    set_aliases(client, champion="1", challenger="2")
    impatient = dataclasses.replace(CONFIG, lock_wait_seconds=0.5)
    held = {"owner": "alice/cafe", "expires_at": f"{time.time() + 600:.3f}"}
    client.create_registered_model(lock_name(NAME), tags=held)
    before = snapshot(client)
    with pytest.raises(LeaseBusyError, match="alice/cafe"):
        promote("churn", impatient, inputs)
    assert snapshot(client) == before

    client.set_registered_model_tag(lock_name(NAME), "expires_at", f"{time.time() - 1:.3f}")
    assert promote("churn", impatient, inputs).promoted
    assert champion_of(client) == "2"
    assert lock_name(NAME) not in snapshot(client)["models"]


def test_cli_prints_the_gate_table_and_exits_1_on_refusal(client, inputs, tmp_path):
    set_aliases(client, champion="2", challenger="3")
    params = tmp_path / "params.yaml"
    params.write_text(
        "promote:\n  lease_seconds: 30\n  lock_wait_seconds: 5\n  metrics:\n"
        "    churn:\n      roc_auc: {tolerance: 0.005, limit: 0.6}\n",
        encoding="utf-8",
    )
    where = [
        "--params", str(params), "--split-dir", str(inputs.split_dir),
        "--validation-report", str(inputs.validation_report),
        "--driver-report", str(tmp_path / "no-drivers.html"),
    ]  # fmt: skip
    result = CliRunner().invoke(app, ["promote", "--model", "churn", *where])
    assert result.exit_code == 1
    assert "roc_auc floor" in result.output and "FAIL" in result.output
    assert "refused: clm-churn v3" in result.output
    assert champion_of(client) == "2"

    result = CliRunner().invoke(app, ["rollback", "--model", "churn", "--params", str(params)])
    assert result.exit_code == 1
    assert "no earlier champion that was not rolled back" in result.output


def test_cli_rerun_on_the_champion_exits_0(client, inputs, tmp_path):
    set_aliases(client, champion="2", challenger="2")
    result = CliRunner().invoke(app, ["promote", "--model", "churn", *cli_paths(inputs)])
    assert result.exit_code == 0, result.output
    assert "clm-churn v2 is already champion; nothing to do" in result.output


def test_cli_rollback_dry_run_changes_nothing(client, inputs):
    set_aliases(client, champion="1", challenger="2")
    assert promote("churn", CONFIG, inputs).promoted
    before = snapshot(client)
    result = CliRunner().invoke(app, ["rollback", "--model", "churn", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "dry run: clm-churn: champion v2 -> v1" in result.output
    assert snapshot(client) == before


@pytest.mark.parametrize(
    ("params_text", "message"),
    [
        (None, "params file not found"),
        (
            "promote:\n  lease_seconds: 30\n  lock_wait_seconds: 5\n  metrics:\n"
            "    churn:\n      roc_uac: {tolerance: 0.005}\n",
            "promote.metrics.churn: unknown metrics ['roc_uac']",
        ),
        (
            "promote:\n  lease_seconds: 30\n  lock_wait_seconds: 5\n  metrics:\n"
            "    chrun:\n      roc_auc: {tolerance: 0.005}\n",
            "promote.metrics: unknown models ['chrun']",
        ),
    ],
)
@pytest.mark.parametrize("command", ["promote", "rollback"])
def test_cli_bad_params_are_one_line(client, tmp_path, command, params_text, message):
    params = tmp_path / "params.yaml"
    if params_text is not None:
        params.write_text(params_text, encoding="utf-8")
    result = CliRunner().invoke(app, [command, "--model", "churn", "--params", str(params)])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)  # handled, not a crash with a traceback
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_unknown_model_is_a_clear_error(client, inputs):
    with pytest.raises(UnknownModelError, match="unknown model 'chrun'; known: churn, stage"):
        promote("chrun", CONFIG, inputs)
    with pytest.raises(UnknownModelError, match="unknown model 'chrun'"):
        rollback("chrun", CONFIG, reason="typo")


def cli_paths(inputs) -> list[str]:
    return [
        "--split-dir", str(inputs.split_dir),
        "--validation-report", str(inputs.validation_report),
        "--driver-report", str(inputs.driver_report),
    ]  # fmt: skip
