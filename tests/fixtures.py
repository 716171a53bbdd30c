"""Shared fixtures: small synthetic datasets, and MLflow stores, built once per session.

Loaded by ``tests/conftest.py`` in each process that runs tests.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import mlflow
import polars as pl
import pytest

from clm.features.stage import run_features
from clm.split import run_split
from clm.synthetic.generate import GenerateConfig, StaticTables, generate, write_dataset
from tests.mlflow_store import copy_store, forget_artifact_locations, make_store
from tests.params import Params, repo_params
from tests.trained_store import build_trained_store


@dataclass(frozen=True)
class GeneratedData:
    config: GenerateConfig
    tables: StaticTables
    usage: pl.DataFrame
    stages: pl.DataFrame


def generate_in_memory(config: GenerateConfig) -> GeneratedData:
    """Run the generator, keeping the monthly batches in memory."""
    usage, stages = [], []
    tables = generate(config, lambda u, s: (usage.append(u), stages.append(s)))
    return GeneratedData(config, tables, pl.concat(usage), pl.concat(stages))


@pytest.fixture(scope="session")
def params() -> Params:
    """The repository's params.yaml, every section loaded (``tests/params.py``)."""
    return repo_params()


@pytest.fixture(scope="session")
def default_sized_data(params) -> GeneratedData:
    """The default pipeline's data (params.yaml's generate section), as the calibration needs."""
    return generate_in_memory(params.generate)


@pytest.fixture(scope="session")
def small_data(params) -> GeneratedData:
    return generate_in_memory(
        replace(params.generate, seed=7, n_subscribers=2_000, n_months=12, first_month="2024-01-01")
    )


@dataclass(frozen=True)
class SplitFixture:
    """A small synthetic dataset carried through generate, features and split on disk."""

    root: Path
    raw_dir: Path
    truth_dir: Path
    split_dir: Path

    def part(self, name: str) -> pl.DataFrame:
        return pl.read_parquet(self.split_dir / f"{name}.parquet")


def build_small_split(root: Path, params: Params) -> SplitFixture:
    """3,000 subscribers x 15 months through generate, features and split, in ``root``."""
    raw_dir, truth_dir = root / "raw", root / "truth"
    config = replace(
        params.generate, seed=5, n_subscribers=3_000, n_months=15, first_month="2024-01-01"
    )
    write_dataset(config, raw_dir, truth_dir)
    features_path = root / "features.parquet"
    truth = truth_dir / "stages_monthly.parquet"
    run_features(params.features, params.labels, raw_dir, truth, features_path)
    split = replace(params.split, train_months=3)
    run_split(split, features_path, root / "split", root / "split.json")
    return SplitFixture(root, raw_dir, truth_dir, root / "split")


@pytest.fixture(scope="session")
def small_split(tmp_path_factory, params) -> SplitFixture:
    """3,000 subscribers x 15 months: enough churners for tiny models, fast to build."""
    return build_small_split(tmp_path_factory.mktemp("small_split"), params)


@pytest.fixture(autouse=True)
def _fresh_artifact_locations() -> None:
    """Store copies share run ids; MLflow must not resolve one to another test's copy."""
    forget_artifact_locations()


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory) -> Path:
    """An empty MLflow store made once per session; tests use copies (``copy_store``)."""
    return make_store(tmp_path_factory.mktemp("empty_store"))


@pytest.fixture(scope="session")
def trained_store(small_split, empty_store, tmp_path_factory) -> Path:
    """The small split after the train step, both models registered (``tests/trained_store.py``);
    tests that write copy it (``copy_store``)."""
    return build_trained_store(small_split, empty_store, tmp_path_factory.mktemp("trained"))


@pytest.fixture
def tracking_store(empty_store, tmp_path, monkeypatch) -> str:
    """A fresh MLflow SQLite store (tracking and registry) in a temp dir for one test."""
    uri = copy_store(empty_store, tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    # an experiment another test made active names an id this fresh store lacks
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    monkeypatch.chdir(tmp_path)  # artifacts land in tmp_path/mlruns
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(None)
