"""What the Spark scorer runs on the executors: one bucket of subscribers at a time.

Kept apart from ``clm.scoring.spark`` (the driver's plan) so that a Python worker imports the
scoring libraries and nothing else: no MLflow, whose import alone costs seconds per worker.
Each function gets a bucket's ``usage_monthly`` and ``subscribers`` rows as Arrow tables,
joins them into scoring input and applies the single-process rules to it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
from pyspark import SparkFiles, TaskContext

from clm.data.validate import FAILED_CHECKS
from clm.scoring.artifact import scorer_in
from clm.scoring.inputs import SCORING_INPUT, scoring_input, split_scorable
from clm.scoring.month import GROUP_SCHEMA, STATS_COLUMNS, MonthStats
from clm.scoring.score import OUTPUT_SCHEMA, Scorer

BUCKET = "_clm_bucket"
PART = "_clm_part"  # which of the first pass's outputs a row belongs to
ROWS = "_clm_rows"  # a bucket's input rows, on its one "rows" row
STATS_SCHEMA: dict[str, pl.DataType] = {
    **{name: SCORING_INPUT[name] for name in STATS_COLUMNS if name in SCORING_INPUT},
    "snapshot_month": pl.Date(),
    "tenure_months": pl.Int64(),
    "arpu_mean_3m": pl.Float64(),
    "cumulative_spend": pl.Float64(),
}
QUARANTINE_SCHEMA: dict[str, pl.DataType] = {**SCORING_INPUT, FAILED_CHECKS: pl.List(pl.String())}
CHECKED_SCHEMA: dict[str, pl.DataType] = {
    **QUARANTINE_SCHEMA,
    **STATS_SCHEMA,
    PART: pl.String(),
    ROWS: pl.Int64(),
}
GROUP_COLUMNS = tuple(name for name in GROUP_SCHEMA if name != "group_id")

BucketRun = Callable[[Scorer, pl.DataFrame, pl.DataFrame], pl.DataFrame]


def check_bucket(
    scorer: Scorer, frame: pl.DataFrame, _: pl.DataFrame, month: date, history_start: date
) -> pl.DataFrame:
    """The first pass on one bucket: its quarantined rows, a statistics row per scorable
    subscriber and its row count, in ``CHECKED_SCHEMA``."""
    accepted, quarantined = split_scorable(frame, month, scorer.features.history_gaps)
    parts = [
        quarantined.with_columns(pl.lit("quarantine").alias(PART), pl.lit(1).alias(ROWS)),
        scorer.stats_rows(accepted, month, history_start).with_columns(pl.lit("stats").alias(PART)),
        pl.DataFrame({PART: ["rows"], ROWS: [frame.height]}),
    ]
    return pl.concat([_with_columns_of(part, CHECKED_SCHEMA) for part in parts])


def score_bucket(
    scorer: Scorer,
    frame: pl.DataFrame,
    people: pl.DataFrame,
    month: date,
    history_start: date,
    network: pl.DataFrame,
) -> pl.DataFrame:
    """The second pass on one bucket: the scores of its scorable subscribers. ``people`` carry
    their group's size and ARPU, joined on by Spark."""
    accepted, _ = split_scorable(frame, month, scorer.features.history_gaps)
    if not accepted.filter(pl.col("month") == month).height:
        return pl.DataFrame(schema=OUTPUT_SCHEMA)
    members = people.select("group_id", *GROUP_COLUMNS).drop_nulls("group_id").unique()
    stats = MonthStats(month, history_start, network, members.cast(GROUP_SCHEMA))
    return scorer.score(accepted, stats)


def on_bucket(archive: str, run: BucketRun) -> Callable[[pa.Table, pa.Table], pa.Table]:
    """A co-grouped ``applyInArrow`` function: the bucket's usage and subscriber rows joined
    into scoring input, sorted, and ``run`` on them with the scorer shipped as ``archive``."""

    def apply(usage: pa.Table, subscribers: pa.Table) -> pa.Table:
        scorer = shipped_scorer(archive, TaskContext.get().cpus())
        people = pl.from_arrow(subscribers.drop_columns([BUCKET]))
        frame = scoring_input(
            pl.from_arrow(usage.drop_columns([BUCKET])).lazy(), people.lazy()
        ).collect()
        result = run(scorer, frame.sort("subscriber_id", "month"), people)
        result = result.with_columns(pl.col(pl.UInt32).cast(pl.Int64))
        return result.to_arrow().cast(arrow_schema(result.schema))

    return apply


@functools.cache
def shipped_scorer(archive: str, threads: int) -> Scorer:
    """The shipped artifact's scorer, loaded once per Python worker (Spark reuses workers);
    its boosters use the task's cores, not every core of the machine (their default)."""
    scorer = scorer_in(Path(SparkFiles.get(archive)))
    for model in (scorer.churn, scorer.stage):
        model.booster.set_param("nthread", threads)
    return scorer


def arrow_schema(schema: pl.Schema) -> pa.Schema:
    """Plain Arrow types Spark reads (polars writes string views)."""
    plain = {pl.String(): pa.string(), pl.List(pl.String()): pa.list_(pa.string())}
    return pa.schema(
        (name, plain.get(dtype) or pl.DataFrame(schema={name: dtype}).to_arrow().schema[0].type)
        for name, dtype in schema.items()
    )


def _with_columns_of(frame: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """``frame`` in ``schema``'s columns and types, null where it lacks a column."""
    return frame.select(
        pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype).alias(name)
        for name, dtype in schema.items()
    )
