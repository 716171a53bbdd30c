"""Score a Spark DataFrame of scoring input with the same artifact, when a base outgrows one box.

The plan mirrors ``clm.scoring.batches``: rows are grouped by a hash bucket of subscriber_id
(so a group holds all months of its subscribers) and handed to the artifact's scorer as Arrow
tables (``applyInArrow``: exact dtypes, no pandas round trip). A first pass collects the few
columns the month's statistics need, the driver computes ``MonthStats`` once and ships it to
the second pass as JSON; risk deciles are ranked over the whole result. Each group is checked
as in ``clm score`` (``clm.scoring.inputs.split_scorable``): the passes score only the
accepted subscribers, and the quarantined rows come back beside the scores.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import NamedTuple

import mlflow
import polars as pl
import pyarrow as pa
from pyspark import SparkFiles
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from clm.data.io import TableError
from clm.data.validate import FAILED_CHECKS
from clm.scoring.inputs import SCORING_INPUT, check_history, split_scorable
from clm.scoring.month import STATS_COLUMNS, MonthStats
from clm.scoring.rules import DECILES
from clm.scoring.score import OUTPUT_SCHEMA, Scorer

logger = logging.getLogger(__name__)

BUCKET = "_clm_bucket"
# Spark has no unsigned integers; everything else maps one to one.
_SPARK_TYPES = {
    pl.Int64(): "long",
    pl.Int8(): "byte",
    pl.UInt32(): "long",
    pl.Float64(): "double",
    pl.String(): "string",
    pl.Boolean(): "boolean",
    pl.Date(): "date",
    pl.List(pl.String()): "array<string>",
}
# dtypes of the statistics rows: input columns, plus the features they come from.
SCORING_INPUT_STATS: dict[str, pl.DataType] = {
    **SCORING_INPUT,
    "snapshot_month": pl.Date(),
    "tenure_months": pl.Int64(),
    "arpu_mean_3m": pl.Float64(),
    "cumulative_spend": pl.Float64(),
}
QUARANTINE_SCHEMA: dict[str, pl.DataType] = {**SCORING_INPUT, FAILED_CHECKS: pl.List(pl.String())}


class SparkScores(NamedTuple):
    """Each subscriber with a row in the scoring month is in exactly one of the two frames."""

    scores: DataFrame  # one row per scored subscriber (``clm.scoring.score.OUTPUT_SCHEMA``)
    quarantine: DataFrame  # rows of subscribers that cannot be scored, with ``failed_checks``


def local_session(cores: int = 2) -> SparkSession:
    """A local Spark session for tests and benchmarks: no UI, loopback only, this Python."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers need this venv's packages
    return (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("clm-score")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", str(cores))
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


def spark_frame(spark: SparkSession, frame: pl.DataFrame) -> DataFrame:
    """A polars frame as a Spark DataFrame with the same column types (dates stay dates)."""
    return spark.createDataFrame(frame.to_arrow().cast(_arrow_schema(frame.schema)))


def score_spark(
    frame: DataFrame, model: str, scoring_month: date | None = None, buckets: int = 16
) -> SparkScores:
    """Scores of every scorable subscriber with a row in the scoring month, and the quarantine.

    Args:
        frame: Scoring input rows (``clm.scoring.inputs.SCORING_INPUT`` columns).
        model: The scorer artifact: a ``models:/`` URI or a local folder.
        scoring_month: The month T; default the latest month of the input.
        buckets: Subscriber groups handed to the scorer; more keep each one smaller.
    """
    spark = frame.sparkSession
    if dict(frame.dtypes).get("month") != "date":
        raise TableError("scoring_input", "dtype", "expected date", column="month")
    local = Path(mlflow.artifacts.download_artifacts(model) if ":/" in model else model)
    spark.sparkContext.addFile(str(local.resolve()), recursive=True)
    months = {row[0] for row in frame.select("month").distinct().collect()}
    month = scoring_month or max(months)
    check_history(months, month)
    history_start = min(months)
    keyed = frame.select(*SCORING_INPUT).withColumn(
        BUCKET, F.pmod(F.xxhash64("subscriber_id"), F.lit(buckets))
    )
    name = local.resolve().name

    def split(scorer: Scorer, group: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        return split_scorable(group, month, scorer.features.history_gaps)

    quarantine = keyed.groupBy(BUCKET).applyInArrow(
        _on_group(name, lambda s, f: split(s, f)[1]), _spark_schema(QUARANTINE_SCHEMA)
    )
    stats_schema = _spark_schema({c: SCORING_INPUT_STATS[c] for c in STATS_COLUMNS})
    rows = keyed.groupBy(BUCKET).applyInArrow(
        _on_group(name, lambda s, f: s.stats_rows(split(s, f)[0], month, history_start)),
        stats_schema,
    )
    scorer = _load_scorer(str(local.resolve()))
    stats = MonthStats.from_rows(pl.from_arrow(rows.toArrow()), history_start, scorer.features)
    stats_json = stats.to_json()
    scored = (
        keyed.groupBy(BUCKET)
        .applyInArrow(
            _on_group(name, lambda s, f: s.score(split(s, f)[0], MonthStats.from_json(stats_json))),
            _spark_schema(OUTPUT_SCHEMA),
        )
        .cache()
    )
    n = scored.count()
    rank = F.row_number().over(Window.orderBy(F.desc("churn_probability"), F.asc("subscriber_id")))
    decile = (F.floor((rank - 1) * DECILES / F.lit(max(n, 1))) + 1).cast("byte")
    return SparkScores(scored.withColumn("risk_decile", decile).select(*OUTPUT_SCHEMA), quarantine)


def _spark_schema(schema: dict[str, pl.DataType]) -> str:
    return ", ".join(f"{name} {_SPARK_TYPES[dtype]}" for name, dtype in schema.items())


@functools.cache
def _load_scorer(path: str) -> Scorer:
    """Load once per Python process: Spark reuses its workers across groups."""
    return mlflow.pyfunc.load_model(path).unwrap_python_model().scorer


def _on_group(
    name: str, run: Callable[[Scorer, pl.DataFrame], pl.DataFrame]
) -> Callable[[pa.Table], pa.Table]:
    """An ``applyInArrow`` function running ``run`` on the scorer shipped as ``name``."""

    def apply(table: pa.Table) -> pa.Table:
        frame = pl.from_arrow(table.drop_columns([BUCKET]))
        result = run(_load_scorer(SparkFiles.get(name)), frame)
        result = result.with_columns(pl.col(pl.UInt32).cast(pl.Int64))
        return result.to_arrow().cast(_arrow_schema(result.schema))

    return apply


def _arrow_schema(schema: pl.Schema) -> pa.Schema:
    """Plain Arrow types Spark reads (polars writes string views)."""
    plain = {pl.String(): pa.string(), pl.List(pl.String()): pa.list_(pa.string())}
    return pa.schema(
        (name, plain.get(dtype) or pl.DataFrame(schema={name: dtype}).to_arrow().schema[0].type)
        for name, dtype in schema.items()
    )
