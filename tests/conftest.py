"""Shared fixtures: small synthetic datasets generated once per session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
import polars as pl
import pytest

from clm.features.build import FeatureConfig
from clm.features.stage import run_features
from clm.labels import LabelConfig
from clm.split import SplitConfig, run_split
from clm.synthetic.generate import GenerateConfig, StaticTables, generate, write_dataset


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
def default_sized_data() -> GeneratedData:
    """The default pipeline's size (20k subscribers x 24 months), as the calibration needs."""
    return generate_in_memory(
        GenerateConfig(
            seed=20240101,
            n_subscribers=20_000,
            n_months=24,
            first_month="2023-01-01",
            cdma_share=0.35,
        )
    )


@pytest.fixture(scope="session")
def small_data() -> GeneratedData:
    return generate_in_memory(
        GenerateConfig(
            seed=7, n_subscribers=2_000, n_months=12, first_month="2024-01-01", cdma_share=0.35
        )
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


@pytest.fixture(scope="session")
def small_split(tmp_path_factory) -> SplitFixture:
    """3,000 subscribers x 15 months: enough churners for tiny models, fast to build."""
    root = tmp_path_factory.mktemp("small_split")
    raw_dir, truth_dir = root / "raw", root / "truth"
    config = GenerateConfig(
        seed=5, n_subscribers=3_000, n_months=15, first_month="2024-01-01", cdma_share=0.35
    )
    write_dataset(config, raw_dir, truth_dir)
    features_path = root / "features.parquet"
    run_features(
        FeatureConfig(), LabelConfig(), raw_dir, truth_dir / "stages_monthly.parquet", features_path
    )
    run_split(SplitConfig(train_months=3), features_path, root / "split", root / "split.json")
    return SplitFixture(root, raw_dir, truth_dir, root / "split")


@pytest.fixture
def tracking_store(tmp_path, monkeypatch) -> str:
    """A fresh MLflow SQLite store (tracking and registry) in a temp dir for one test."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    # an experiment another test made active names an id this fresh store lacks
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    monkeypatch.chdir(tmp_path)  # artifacts land in tmp_path/mlruns
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(None)
