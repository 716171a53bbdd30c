"""Tiny registered churn versions and a throwaway tracking store, for the promotion tests.

Versions are logged with the project's own ``log_and_register`` on a synthetic feature table
(one informative feature, one noise feature, one category), so the registry layout is the
pipeline's: booster with signature, ``model.json`` and ``features.json`` on the run.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import polars as pl
import xgboost as xgb
from mlflow import MlflowClient

from clm.features.metadata import FeatureMeta
from clm.models.encoding import FeatureEncoder
from clm.models.tasks import CHURN
from clm.models.train import FitReport, booster_logger, log_and_register
from clm.models.trained import TrainedModel
from clm.promotion.gates import MetricGate, PromoteConfig
from clm.promotion.history import read_history
from clm.promotion.promote import PromotionInputs
from clm.registry import CHALLENGER, CHAMPION, REGISTERED_MODELS

NAME = REGISTERED_MODELS["churn"]
PROVENANCE = {"git_commit": "test", "data_version": "test", "study_name": "test", "device": "cpu"}
METADATA = {
    name: FeatureMeta(name, f"synthetic {name}", "-", "test", kind)
    for name, kind in (("signal", "float"), ("noise", "float"), ("network", "category"))
}
ENCODER = FeatureEncoder(numeric=("signal", "noise"), levels={"network": ("C", "G")})
# Loose enough for a 4,000-row synthetic model, tight enough to refuse a random one.
CONFIG = PromoteConfig(
    lease_seconds=30,
    lock_wait_seconds=20,
    metrics={
        "churn": {
            "roc_auc": MetricGate(tolerance=0.005, limit=0.60),
            "top_decile_lift": MetricGate(tolerance=0.10, limit=1.5),
            "brier": MetricGate(tolerance=0.002),
            "ece": MetricGate(tolerance=0.01, limit=0.15),
        }
    },
)
HEALTH_WAIT_SECONDS = 120


def synthetic_features(rows: int, seed: int) -> pl.DataFrame:
    """A feature table whose churn label depends on ``signal`` and ``network`` only."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=rows)
    network = rng.choice(["C", "G"], size=rows)
    logit = -2.0 + 1.8 * signal + 0.5 * (network == "C")
    return pl.DataFrame(
        {
            "signal": signal,
            "noise": rng.normal(size=rows),
            "network": network,
            "churn": rng.random(rows) < 1 / (1 + np.exp(-logit)),
        }
    )


def write_evidence(folder: Path) -> PromotionInputs:
    """The test month, a clean validation report and a driver report, in ``folder``."""
    (folder / "split").mkdir(parents=True, exist_ok=True)
    synthetic_features(3000, seed=99).write_parquet(folder / "split" / "test.parquet")
    (folder / "validation.json").write_text('{"clean": true}\n', encoding="utf-8")
    (folder / "drivers.html").write_text("<html>drivers</html>\n", encoding="utf-8")
    return PromotionInputs(folder / "split", folder / "validation.json", folder / "drivers.html")


def log_version(quality: str, seed: int = 0) -> str:
    """Train and register one churn version: 'good', 'weak' (two stumps) or 'random' (shuffled
    labels). Returns its version number; it becomes the challenger."""
    frame = synthetic_features(4000, seed=seed)
    labels = CHURN.labels(frame)
    if quality == "random":
        labels = np.random.default_rng(seed).permutation(labels)
    depth, rounds = (1, 2) if quality == "weak" else (2, 30)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": depth, "eta": 0.3, "seed": seed},
        xgb.DMatrix(ENCODER.transform(frame), labels),
        num_boost_round=rounds,
    )
    trained = TrainedModel(CHURN, booster, ENCODER)
    report = FitReport(best_rounds=rounds, valid_ece_raw=None, calibrated=False)
    _, version = log_and_register(
        trained, report, {"quality": quality}, booster_logger(trained, frame.head(50)), METADATA,
        PROVENANCE,
    )  # fmt: skip
    return version


def set_aliases(client: MlflowClient, champion: str | None, challenger: str | None) -> None:
    """Arrange the aliases a test starts from (None: alias absent)."""
    for alias, version in ((CHAMPION, champion), (CHALLENGER, challenger)):
        if version is None:
            client.delete_registered_model_alias(NAME, alias)
        else:
            client.set_registered_model_alias(NAME, alias, version)


def champion_of(client: MlflowClient, name: str = NAME) -> str:
    return str(client.get_model_version_by_alias(name, CHAMPION).version)


def snapshot(client: MlflowClient, name: str = NAME) -> dict:
    """Registered model names, aliases, the champion history and every version's tags and
    description: what must not change."""
    versions = client.search_model_versions(f"name='{name}'")
    return {
        "models": sorted(model.name for model in client.search_registered_models()),
        "aliases": client.get_registered_model(name).aliases,
        "history": client.get_registered_model(name).tags,
        "tags": {str(v.version): v.tags for v in versions},
        "descriptions": {str(v.version): v.description for v in versions},
    }


def history_of(client: MlflowClient, name: str = NAME) -> list[tuple[str, str | None, str]]:
    """The champion history as (action, from, to) triples, oldest first."""
    return [(e.action, e.from_version, e.to_version) for e in read_history(client, name)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def mlflow_server(folder: Path) -> Iterator[str]:
    """A real ``mlflow server`` on localhost (SQLite backend, proxied local artifact store),
    stopped when the block ends. Yields its URI once /health answers."""
    port = free_port()
    log_path = folder / "server.log"
    command = [
        sys.executable, "-m", "mlflow", "server",
        "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
        "--artifacts-destination", str(folder / "artifacts"),
        "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
    ]  # fmt: skip
    # promotion starts no server jobs; their executor's checks add seconds to every start
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    uri = f"http://127.0.0.1:{port}"
    try:
        with _watchdog(server):
            _wait_healthy(uri, server, log_path)
            yield uri
    finally:
        _stop(server)


@contextmanager
def _watchdog(server: subprocess.Popen) -> Iterator[None]:
    """A process that stops the server's group once this test process is gone: a run killed
    from outside (SIGKILL, a CI timeout) never reaches the caller's ``finally``."""
    watchdog = subprocess.Popen(
        [sys.executable, "-c", _WATCHDOG, str(os.getpid()), str(server.pid)],
        start_new_session=True,
    )
    try:
        yield
    finally:
        watchdog.kill()
        watchdog.wait()


_WATCHDOG = """
import os, signal, sys, time
parent, group = map(int, sys.argv[1:])
while os.getppid() == parent:
    time.sleep(1)
os.killpg(group, signal.SIGTERM)
"""


def _stop(server: subprocess.Popen) -> None:
    """Stop the server and the workers it started (its own process group)."""
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=20)


def _wait_healthy(uri: str, server: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + HEALTH_WAIT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"mlflow server exited early:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"mlflow server not healthy after {HEALTH_WAIT_SECONDS} s")
