"""The ``features`` step with its default paths, shared by the DVC stage and ``clm features``."""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl

from clm import paths
from clm.data.contract import RAW_TABLES, TRUTH_MONTHLY
from clm.data.io import check_contract
from clm.features.build import FeatureConfig
from clm.features.chunked import write_feature_table
from clm.labels import LabelConfig

logger = logging.getLogger(__name__)


def run_features(
    features: FeatureConfig,
    labels: LabelConfig,
    validated_dir: Path = paths.VALIDATED_DIR,
    truth_path: Path = paths.TRUTH_STAGES,
    out_path: Path = paths.FEATURES,
) -> int:
    """Build features and labels from the validated tables; return the number of rows.

    The truth file is optional: without it (real data) ``stage_true`` is null.
    """
    tables = {name: scan_checked(validated_dir / f"{name}.parquet", name) for name in RAW_TABLES}
    truth = None
    if truth_path.exists():
        truth = scan_checked(truth_path, "stages_monthly", TRUTH_MONTHLY)
    else:
        logger.info("no truth file at %s: stage_true stays null", truth_path)
    return write_feature_table(
        tables["subscribers"],
        tables["usage_monthly"],
        tables["churn_events"],
        truth,
        out_path,
        features,
        labels,
    )


def scan_checked(
    path: Path, table_name: str, contract: dict[str, pl.DataType] | None = None
) -> pl.LazyFrame:
    """Scan a parquet table lazily (chunks read only their rows) after checking its columns."""
    frame = pl.scan_parquet(path)
    check_contract(frame.collect_schema(), table_name, contract or RAW_TABLES[table_name])
    return frame
