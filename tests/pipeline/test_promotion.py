"""Gated promotion and rollback against the embedded SQLite store, on tiny registered versions.

The store is built once per module (weak, good and random churn versions); each test works on
its own copy of the database, so tests cannot see each other's aliases and tags.
"""

from __future__ import annotations

import dataclasses
import shutil
import time

import mlflow
import pytest
from mlflow import MlflowClient
from promotion_support import (
    CONFIG,
    NAME,
    champion_of,
    log_version,
    set_aliases,
    snapshot,
    tracking_uri,
    write_evidence,
)
from typer.testing import CliRunner

from clm.cli import app
from clm.promotion.evaluators import VersionLoadError
from clm.promotion.lease import LeaseBusyError, lock_name
from clm.promotion.promote import PromotionError, promote
from clm.promotion.rollback import RollbackError, rollback

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A SQLite store with v1 weak, v2 good, v3 random churn versions; returns its folder."""
    folder = tmp_path_factory.mktemp("registry")
    with tracking_uri(f"sqlite:///{folder / 'mlflow.db'}"):
        experiment = mlflow.create_experiment(
            "clm-promotion-test", artifact_location=(folder / "artifacts").as_uri()
        )
        mlflow.set_experiment(experiment_id=experiment)
        versions = [log_version(quality) for quality in ("weak", "good", "random")]
    assert versions == ["1", "2", "3"]
    return folder


@pytest.fixture
def client(store, tmp_path):
    """A client on this test's own copy of the module's store."""
    shutil.copy(store / "mlflow.db", tmp_path / "mlflow.db")
    with tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}"):
        yield MlflowClient()


@pytest.fixture
def inputs(tmp_path):
    return write_evidence(tmp_path / "evidence")


def test_first_version_becomes_champion_on_absolute_gates(client, inputs):
    set_aliases(client, champion=None, challenger="1")
    decision = promote("churn", CONFIG, inputs)
    assert decision.promoted and decision.champion is None
    assert champion_of(client) == "1"
    tags = client.get_model_version(NAME, "1").tags
    assert tags["promotion_decision"] == "promoted"
    assert tags["previous_champion"] == "none"
    assert tags["gate.roc_auc.floor"].startswith("pass: challenger 0.")
    assert tags["promoted_by"] and tags["promoted_at"].endswith("+00:00")


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
    tags = client.get_model_version(NAME, "2").tags
    assert (tags["promotion_decision"], tags["previous_champion"]) == ("promoted", "1")
    assert tags["gate.roc_auc.margin"].startswith("pass")

    done = rollback("churn", CONFIG, reason="complaints from the retention team")
    assert (done.from_version, done.to_version) == ("2", "1")
    assert champion_of(client) == "1"
    tags = client.get_model_version(NAME, "2").tags
    assert tags["promotion_decision"] == "rolled_back"
    assert tags["rollback_reason"] == "complaints from the retention team"
    assert tags["rolled_back_to"] == "1" and tags["rolled_back_by"]

    # A rolled-back version does not sneak back in on the next scheduled promotion.
    again = promote("churn", CONFIG, inputs)
    assert not again.promoted
    assert [g.key for g in again.gates if not g.passed] == ["not_rolled_back"]
    # v1 became champion by hand, so nothing records what came before it.
    with pytest.raises(RollbackError, match="no previous champion"):
        rollback("churn", CONFIG, reason="again")


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
    assert "records no previous champion" in result.output
