"""Shared fixtures: small synthetic datasets generated once per session."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pytest

from clm.data.generate import GenerateConfig, StaticTables, generate


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
