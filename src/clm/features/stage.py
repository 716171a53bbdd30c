"""The ``features`` step with its default paths, shared by the DVC stage and ``clm features``.

Before features are built, months missing inside a subscriber's history are settled by
``features.history_gaps`` (``clm.features.history``): the subscribers set aside go to
``quarantine.parquet`` and the imputed months to ``imputed_months.parquet``, both beside the
feature table, so every validated subscriber is accounted for.
"""

from __future__ import annotations

import logging
from pathlib import Path

import polars as pl

from clm import paths
from clm.data.contract import RAW_TABLES, TRUTH_MONTHLY
from clm.data.io import check_contract, write_together
from clm.features.build import FeatureConfig
from clm.features.chunked import write_feature_table
from clm.features.history import settle_training_gaps
from clm.labels import LabelConfig

logger = logging.getLogger(__name__)

QUARANTINE_NAME = "quarantine.parquet"  # beside the feature table
IMPUTED_NAME = "imputed_months.parquet"


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
    settled = settle_training_gaps(
        tables["subscribers"],
        tables["usage_monthly"],
        tables["churn_events"],
        features.history_gaps,
    )
    if settled.quarantined.height or settled.imputed.height:
        logger.warning(
            "history gaps (features.history_gaps=%s): %d subscribers quarantined, "
            "%d subscriber-months imputed; see %s",
            features.history_gaps,
            settled.quarantined.height,
            settled.imputed.height,
            out_path.parent,
        )
    truth = None
    if truth_path.exists():
        truth = scan_checked(truth_path, "stages_monthly", TRUTH_MONTHLY)
    else:
        logger.info("no truth file at %s: stage_true stays null", truth_path)
    # the table and the lists of who was left out or imputed, in one commit
    targets = (out_path, out_path.with_name(QUARANTINE_NAME), out_path.with_name(IMPUTED_NAME))
    with write_together(*targets) as (table, quarantined, imputed):
        settled.quarantined.write_parquet(quarantined)
        settled.imputed.write_parquet(imputed)
        rows = write_feature_table(
            settled.subscribers,
            settled.usage,
            settled.churn_events,
            truth,
            table,
            features,
            labels,
        )
    logger.info("wrote %d feature rows to %s", rows, out_path)
    return rows


def scan_checked(
    path: Path, table_name: str, contract: dict[str, pl.DataType] | None = None
) -> pl.LazyFrame:
    """Scan a parquet table lazily (chunks read only their rows) after checking its columns."""
    frame = pl.scan_parquet(path)
    check_contract(frame.collect_schema(), table_name, contract or RAW_TABLES[table_name])
    return frame
