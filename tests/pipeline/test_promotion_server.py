"""Promotion, rollback and racing promotions against a real ``mlflow server`` over HTTP.

One server per session (SQLite backend, proxied local artifact store, 127.0.0.1 only) in a temp
dir; every test first puts the aliases and tags back to a known state.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import mlflow
import pytest
from mlflow import MlflowClient
from promotion_support import (
    CONFIG,
    NAME,
    PROVENANCE,
    champion_of,
    free_port,
    history_of,
    log_version,
    mlflow_server,
    set_aliases,
    snapshot,
    write_evidence,
)
from tests.mlflow_store import copy_store, tracking_uri
from typer.testing import CliRunner

from clm.cli import app
from clm.promotion.champion import ChampionMovedError
from clm.promotion.evaluators import EVALUATORS
from clm.promotion.history import PREFIX as HISTORY_PREFIX
from clm.promotion.lease import lock_name
from clm.promotion.promote import promote
from clm.promotion.rollback import rollback

pytestmark = pytest.mark.slow
RACE_WAIT_SECONDS = 120


@pytest.fixture(scope="session")  # session: other modules' tests may run between this one's
def promotion_server(empty_store, tmp_path_factory):
    """A running server holding v1 weak, v2 and v3 good churn versions (logged over HTTP)."""
    folder = tmp_path_factory.mktemp("server")
    copy_store(empty_store, folder)  # migrated: the server starts without running migrations
    with mlflow_server(folder) as uri, tracking_uri(uri):
        mlflow.set_experiment("clm-promotion-test")
        versions = [log_version("weak"), log_version("good", seed=1), log_version("good", seed=2)]
        assert versions == ["1", "2", "3"]
        yield uri


@pytest.fixture
def client(promotion_server):
    """A client whose registry starts with champion v1, challenger v2, no promotion tags and
    no champion history."""
    client = MlflowClient()
    for key in client.get_registered_model(NAME).tags:
        if key.startswith(HISTORY_PREFIX):
            client.delete_registered_model_tag(NAME, key)
    for version in client.search_model_versions(f"name='{NAME}'"):
        for key in set(version.tags) - set(PROVENANCE) - {"run_id"}:
            client.delete_model_version_tag(NAME, version.version, key)
    set_aliases(client, champion="1", challenger="2")
    return client


@pytest.fixture
def inputs(tmp_path):
    return write_evidence(tmp_path)


def test_promote_and_rollback_over_http(client, inputs):
    decision = promote("churn", CONFIG, inputs)
    assert decision.promoted
    assert champion_of(client) == "2"
    rollback("churn", CONFIG, reason="drill")
    assert champion_of(client) == "1"
    assert client.get_model_version(NAME, "2").tags["promotion_decision"] == "rolled_back"
    assert history_of(client) == [("promote", "1", "2"), ("rollback", "2", "1")]
    assert lock_name(NAME) not in snapshot(client)["models"]


def test_racing_promotions_end_with_one_consistent_champion(client, inputs):
    both_scored = threading.Barrier(2, timeout=RACE_WAIT_SECONDS)

    def score_then_meet(version, split_dir):
        """Score as usual; both racers leave scoring together, so they contend for the move."""
        metrics = EVALUATORS["churn"](version, split_dir)
        if str(version.version) == "1":  # the champion, scored last by each racer
            both_scored.wait()
        return metrics

    def race(version: str):
        try:
            return promote("churn", CONFIG, inputs, version=version, evaluator=score_then_meet)
        except ChampionMovedError as error:
            return error

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(race, ["2", "3"]))

    winners = [o for o in outcomes if not isinstance(o, ChampionMovedError)]
    losers = [o for o in outcomes if isinstance(o, ChampionMovedError)]
    assert len(winners) == 1 and winners[0].promoted
    assert len(losers) == 1 and "moved from version 1" in str(losers[0])
    champion = champion_of(client)
    assert champion == winners[0].challenger
    assert client.get_model_version(NAME, champion).tags["promotion_decision"] == "promoted"
    assert history_of(client) == [("promote", "1", champion)]
    loser = "3" if champion == "2" else "2"
    assert "promotion_decision" not in client.get_model_version(NAME, loser).tags
    assert lock_name(NAME) not in snapshot(client)["models"]


def test_dry_run_over_http_changes_nothing(client, inputs):
    before = snapshot(client)
    assert promote("churn", CONFIG, inputs, dry_run=True).passed
    assert snapshot(client) == before


def test_unreachable_server_is_one_clear_line():
    dead = f"http://127.0.0.1:{free_port()}"
    with tracking_uri(dead):
        result = CliRunner().invoke(app, ["promote", "--model", "churn", "--dry-run"])
    assert result.exit_code == 1
    assert f"MLflow tracking server {dead} is unreachable" in result.output
    assert "Traceback" not in result.output
