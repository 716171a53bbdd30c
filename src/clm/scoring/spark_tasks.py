"""What the Spark scorer runs on the executors: a bucket of subscribers, or a batch of features.

Kept apart from ``clm.scoring.spark`` (the driver's plan) so that a Python worker imports the
scoring libraries and nothing else: no MLflow, whose import alone costs seconds per worker.
The first pass gets a bucket's ``usage_monthly`` and ``subscribers`` rows (one partition, the
two tables' rows told apart by ``SUBSCRIBER_ROW``), joins them into scoring input, applies the
single-process checks and builds the base features of its scorable subscribers (as
``clm score``'s first pass); the second pass scores those features batch by batch of rows, so
the raw rows are read, shuffled and checked once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow as pa
from pyspark import SparkFiles, TaskContext

from clm.data.contract import SUBSCRIBERS, USAGE_MONTHLY
from clm.data.operator import OperatorTables, to_contract
from clm.data.validate import FAILED_CHECKS
from clm.scoring.artifact import scorer_in
from clm.scoring.inputs import SCORING_INPUT, scoring_input, split_scorable
from clm.scoring.month import GROUP_SCHEMA, MonthStats
from clm.scoring.score import Scorer

BUCKET = "_clm_bucket"
SUBSCRIBER_ROW = "_clm_subscriber_row"  # true on a subscribers row of the first pass's input
PART = "_clm_part"  # which of the first pass's outputs a row belongs to
ROWS = "_clm_rows"  # a bucket's input rows, on its one "rows" row
QUARANTINE_SCHEMA: dict[str, pl.DataType] = {**SCORING_INPUT, FAILED_CHECKS: pl.List(pl.String())}
GROUP_COLUMNS = tuple(name for name in GROUP_SCHEMA if name != "group_id")


def base_schema(scorer: Scorer, month: date, history_start: date) -> dict[str, pl.DataType]:
    """The columns and types of ``Scorer.base``: what the first pass keeps per subscriber."""
    return dict(scorer.base(pl.DataFrame(schema=SCORING_INPUT), month, history_start).schema)


def checked_schema(base: dict[str, pl.DataType]) -> dict[str, pl.DataType]:
    """The first pass's rows: quarantined input rows, base feature rows, a row count a bucket
    (``PART`` says which); a column another part lacks is null."""
    return {**QUARANTINE_SCHEMA, **base, PART: pl.String(), ROWS: pl.Int64()}


def check_bucket(
    archive: str, month: date, history_start: date, base: dict[str, pl.DataType]
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The first pass, a ``mapInArrow`` function on a partition that holds one whole bucket:
    its usage and subscriber rows joined into scoring input and sorted (one order for every
    engine: a float sum per subscriber depends on it), then its quarantined rows, the base
    features of its scorable subscribers and its row count, in ``checked_schema(base)``."""
    schema = checked_schema(base)

    def apply(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        rows = _whole(batches)
        if rows is None:
            return
        scorer = shipped_scorer(archive, TaskContext.get().cpus())
        people = rows.lazy().filter(pl.col(SUBSCRIBER_ROW)).select(list(SUBSCRIBERS))
        usage = rows.lazy().filter(~pl.col(SUBSCRIBER_ROW)).select(list(USAGE_MONTHLY))
        frame = scoring_input(people, usage).collect().sort("subscriber_id", "month")
        accepted, quarantined = split_scorable(
            frame, month, scorer.features.history_gaps, scorer.trained_levels
        )
        parts = [
            quarantined.with_columns(pl.lit("quarantine").alias(PART), pl.lit(1).alias(ROWS)),
            scorer.base(accepted, month, history_start).with_columns(pl.lit("base").alias(PART)),
            pl.DataFrame({PART: ["rows"], ROWS: [frame.height]}),
        ]
        checked = pl.concat([_with_columns_of(part, schema) for part in parts])
        yield from _to_arrow(checked).to_batches()

    return apply


def score_batches(
    archive: str,
    month: date,
    history_start: date,
    network: pl.DataFrame,
    base: dict[str, pl.DataType],
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The second pass, a ``mapInArrow`` function: a partition's base feature rows, each with
    its group's size and ARPU (joined on by Spark), scored as ``clm score``'s second pass
    scores a batch. Scoring is row by row given the month's statistics, so any cut of the rows
    gives the same scores."""

    def apply(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        frame = _whole(batches)
        if frame is None:
            return
        scorer = shipped_scorer(archive, TaskContext.get().cpus())
        groups = frame.select("group_id", *GROUP_COLUMNS).drop_nulls("group_id").unique()
        stats = MonthStats(month, history_start, network, groups.cast(GROUP_SCHEMA))
        scored = scorer.score_base(frame.select(pl.col(n).cast(t) for n, t in base.items()), stats)
        yield from _to_arrow(scored).to_batches()

    return apply


def conform_batches(
    table: str, tables: OperatorTables
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """A ``mapInArrow`` function: an operator's ``table`` in the raw contract, batch by batch,
    by the import of ``dvc repro`` (``clm.data.operator.conform``: its renames, value
    recodes and month parsing), so Spark reads the tables as the pipeline does."""

    def apply(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            yield from _to_arrow(to_contract(pl.from_arrow(batch), table, tables)).to_batches()

    return apply


@functools.cache
def shipped_scorer(archive: str, threads: int) -> Scorer:
    """The shipped artifact's scorer, loaded once per Python worker (Spark reuses workers);
    its boosters use the task's cores, not every core of the machine (their default)."""
    scorer = scorer_in(Path(SparkFiles.get(archive)))
    for model in (scorer.churn, scorer.stage):
        model.booster.set_param("nthread", threads)
    return scorer


def _whole(batches: Iterator[pa.RecordBatch]) -> pl.DataFrame | None:
    """A partition's Arrow batches as one frame; None for an empty partition (a bucket no
    subscriber hashed to), which gives no rows."""
    tables = [pl.from_arrow(batch) for batch in batches]
    return pl.concat(tables) if tables else None


def _to_arrow(frame: pl.DataFrame) -> pa.Table:
    """``frame`` as Spark reads it: no unsigned integers, plain Arrow types."""
    frame = frame.with_columns(pl.col(pl.UInt32).cast(pl.Int64))
    return frame.to_arrow().cast(arrow_schema(frame.schema))


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
