"""Score a month on Spark from the raw tables: the executors do the work, the driver adds up.

The plan gives ``clm score``'s answer (``clm.scoring.batches``) without a step that needs one
machine:

1. Spark reads ``usage_monthly`` and ``subscribers`` and partitions their rows together by a
   hash bucket of subscriber_id (one shuffle, no sort), about ``scoring.batch_rows`` rows a
   bucket, one bucket a partition, so a partition holds every month of its subscribers and
   their subscriber rows. Inside the Arrow function each bucket is joined into scoring input
   and checked by the single-process rules (``split_scorable``): out come the quarantined
   rows with their failed checks, the base features of every scorable subscriber
   (``Scorer.base``, as ``clm score``'s first pass spills them) and the bucket's row count,
   kept (persisted) for the steps that read them.
2. The month's statistics are Spark aggregates of the base features: the network means and
   prepaid spend thresholds are a few numbers, the only rows the driver collects besides
   counts; the group sizes and ARPU stay a DataFrame, joined to the group members' base
   features.
3. The base features are scored by the artifact's ``Scorer`` (``score_base``) batch by batch
   of rows, as ``clm score``'s second pass: the raw rows are not read, shuffled, checked or
   turned into features again.
4. Risk deciles cut the scores at approximate quantiles (``approxQuantile``, a mergeable
   sketch): no global sort, no window over one partition. The cuts keep the ranking's order,
   so how far they are from the exact deciles follows from the decile sizes alone and is
   reported (``decile_rows_off``).
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import mlflow
import polars as pl
from pyspark import StorageLevel
from pyspark.errors import PythonException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.utils import AnalysisException

from clm.data.contract import RAW_TABLES, SUBSCRIBERS, USAGE_MONTHLY
from clm.data.io import TableError
from clm.data.operator import OperatorTables
from clm.data.validate import FAILED_CHECKS
from clm.features.build import FeatureConfig, network_stats
from clm.months import require_first_of_month
from clm.scoring.artifact import scorer_in
from clm.scoring.batches import (
    QuarantineShareError,
    ScoreSummary,
    ScoringConfig,
    quarantine_location,
)
from clm.scoring.inputs import SCORED_TABLES, check_history
from clm.scoring.month import GROUP_SCHEMA, STATS_COLUMNS, MonthStats
from clm.scoring.rules import DECILES
from clm.scoring.score import OUTPUT_SCHEMA, Scorer
from clm.scoring.spark_tasks import (
    BUCKET,
    PART,
    QUARANTINE_SCHEMA,
    ROWS,
    SUBSCRIBER_ROW,
    base_schema,
    check_bucket,
    checked_schema,
    conform_batches,
    score_batches,
)

logger = logging.getLogger(__name__)

SPEND = "_clm_prepaid_spend"  # cumulative spend of non-group prepaid subscribers, else null
_BRACKET_ACCURACY = 10_000  # of the sketch that brackets an exact quantile: speed, not result
# Spark has no unsigned integers; everything else maps one to one.
_SPARK_TYPES = {
    pl.Int64(): "bigint",
    pl.Int8(): "tinyint",
    pl.UInt32(): "bigint",
    pl.Float64(): "double",
    pl.String(): "string",
    pl.Boolean(): "boolean",
    pl.Date(): "date",
    pl.List(pl.String()): "array<string>",
}


@dataclass(frozen=True)
class SparkSummary:
    """What a Spark scoring run did: ``clm score``'s summary plus how exact the deciles are.

    Attributes:
        run: Rows in, scored, quarantined per check, the risk mix.
        decile_rows_off: Sum over scored rows of |risk decile - exact decile|: an upper bound
            on the rows in another decile than the exact ranking puts them in.
        buckets: Subscriber groups the base was cut into.
    """

    run: ScoreSummary
    decile_rows_off: int
    buckets: int


def local_session(master: str = "local[2]", short_lived: bool = False) -> SparkSession:
    """A Spark session on this machine for tests, benchmarks and ``clm score --engine spark``.

    No UI, loopback only; executors run this Python (``PYSPARK_PYTHON``), whose clm package
    they import. ``master`` may be ``local-cluster[executors,cores,MiB]``: separate executor
    JVMs, so shipping files and serialising functions happen as on a cluster. A
    ``short_lived`` session (seconds of work on little data, as in tests) runs its JVMs
    without the optimising JIT compiler, whose compiling costs such a session more than it
    saves (a test's local-cluster run: 81 s -> 57 s); a long scoring run wants it.
    """
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder
    if short_lived:
        for side in ("driver", "executor"):
            builder = builder.config(f"spark.{side}.extraJavaOptions", "-XX:TieredStopAtLevel=1")
    return (
        builder.master(master)
        .appName("clm-score")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.session.timeZone", "UTC")
        # a task is one core: polars in the Python worker must not take them all
        .config("spark.executorEnv.POLARS_MAX_THREADS", "1")
        .getOrCreate()
    )


def read_raw_tables(spark: SparkSession, folder: str) -> tuple[DataFrame, DataFrame]:
    """``usage_monthly`` and ``subscribers`` from ``<folder>/<table>.parquet``, or else
    ``<table>.csv`` with a header, every column text (an operator's export, for
    ``conform_tables`` to cast): files or folders of parts, on any file system Spark reads."""
    tables = []
    for table in SCORED_TABLES:
        base = f"{folder.rstrip('/')}/{table}"
        try:
            tables.append(spark.read.parquet(f"{base}.parquet"))
        except AnalysisException as parquet_error:
            try:
                tables.append(spark.read.csv(f"{base}.csv", header=True))
            except AnalysisException:
                raise TableError(
                    table,
                    "file_exists",
                    f"cannot read {base}.parquet or {base}.csv: {parquet_error}",
                ) from parquet_error
    usage, subscribers = tables
    return usage, subscribers


def conform_tables(
    usage: DataFrame, subscribers: DataFrame, tables: OperatorTables
) -> tuple[DataFrame, DataFrame]:
    """An operator's own ``usage_monthly`` and ``subscribers`` (its column names, codes and
    month formats) in clm's raw contract, by ``tables``' mappings (params.yaml
    ``data.operator``), converted on the executors by the pipeline's own import. A value
    the mappings do not list, or one that does not convert, fails the job with the import's
    message (``worker_error`` reads it)."""
    return tuple(
        frame.mapInArrow(
            conform_batches(name, tables),
            _spark_schema(RAW_TABLES[name]),
        )
        for frame, name in zip((usage, subscribers), SCORED_TABLES, strict=True)
    )


def worker_error(error: PythonException) -> str:
    """The last line of a Python worker's traceback: the exception clm raised there."""
    lines = [line for line in str(error).splitlines() if line.strip()]
    return lines[-1].strip() if lines else repr(error)


@dataclass(frozen=True)
class _Run:
    """What both passes share: the month, the scorer shipped to the executors, the bucketed
    tables."""

    month: date
    months: set[date]
    history_start: date
    model_name: str  # the artifact's archive among the files shipped to executors
    scorer: Scorer
    base: dict[str, pl.DataType]  # the columns of ``Scorer.base``
    buckets: int
    usage: DataFrame  # USAGE_MONTHLY columns and BUCKET
    people: DataFrame  # SUBSCRIBERS columns and BUCKET

    def checked(self) -> DataFrame:
        """The first pass: quarantined rows, base feature rows and row counts
        (``checked_schema``), kept for the steps that read it."""
        rows = self.usage.withColumn(SUBSCRIBER_ROW, F.lit(False)).unionByName(
            self.people.withColumn(SUBSCRIBER_ROW, F.lit(True)), allowMissingColumns=True
        )  # one shuffle, one bucket a partition (``_bucket_keys``): no sort, no grouping
        check = check_bucket(self.model_name, self.month, self.history_start, self.base)
        checked = rows.repartition(self.buckets, BUCKET).mapInArrow(
            check, _spark_schema(checked_schema(self.base))
        )
        return checked.persist(StorageLevel.MEMORY_AND_DISK)

    def scored(self, checked: DataFrame, network: pl.DataFrame, groups: DataFrame) -> DataFrame:
        """The second pass: the first pass's base features with their group's statistics,
        scored (``OUTPUT_SCHEMA``).

        Only group members are joined to their group's statistics, the join's partitions then
        merged into ``buckets`` (a cached plan keeps Spark's 200 shuffle partitions: 200 Python
        tasks); everyone else is scored in the bucket the first pass left them in. A join of
        the whole base would hash every subscriber without a group (null group_id) to one
        partition: one task scoring nearly the whole base, at any cluster size.
        """
        base = checked.where(F.col(PART) == "base").select(*self.base)
        in_group = F.col("group_id").isNotNull()
        members = base.where(in_group).join(groups, "group_id", "left").coalesce(self.buckets)
        rows = base.where(~in_group).unionByName(members, allowMissingColumns=True)
        score = score_batches(self.model_name, self.month, self.history_start, network, self.base)
        return rows.mapInArrow(score, _spark_schema(OUTPUT_SCHEMA))


def _start(
    usage: DataFrame,
    subscribers: DataFrame,
    model: str,
    batch_rows: int,
    scoring_month: date | None,
) -> _Run:
    """Check the tables' columns and months, ship the artifact, cut the base into buckets."""
    _check_columns(usage, "usage_monthly", USAGE_MONTHLY)
    _check_columns(subscribers, "subscribers", SUBSCRIBERS)
    spark = usage.sparkSession
    month_rows = dict(usage.groupBy("month").count().collect())  # one job: months and rows
    months = set(month_rows)
    if not months:
        raise TableError("usage_monthly", "non_empty", "the input has no rows")
    month = require_first_of_month(scoring_month) if scoring_month else max(months)
    check_history(months, month)
    local = Path(mlflow.artifacts.download_artifacts(model) if ":/" in model else model).resolve()
    shipped = _ship(spark, local)
    # a multiple of the cores, so no core waits for the last bucket alone
    parallelism = spark.sparkContext.defaultParallelism
    buckets = parallelism * math.ceil(sum(month_rows.values()) / (batch_rows * parallelism))
    keys = F.array(*(F.lit(key).cast("bigint") for key in _bucket_keys(spark, buckets)))
    index = (F.pmod(F.xxhash64("subscriber_id"), F.lit(buckets)) + 1).cast("int")
    bucket = F.element_at(keys, index)
    bucket = bucket.alias(BUCKET)
    scorer = scorer_in(local)
    return _Run(
        month, months, min(months), shipped, scorer, base_schema(scorer, month, min(months)),
        buckets, usage.select(*USAGE_MONTHLY, bucket), subscribers.select(*SUBSCRIBERS, bucket),
    )  # fmt: skip


def score_tables(
    usage: DataFrame,
    subscribers: DataFrame,
    model: str,
    output: str,
    config: ScoringConfig,
    scoring_month: date | None = None,
) -> SparkSummary:
    """Score every subscriber with a usage row in the scoring month; write scores and quarantine.

    Args:
        usage: The raw ``usage_monthly`` table, the scoring month and the history before it.
        subscribers: The raw ``subscribers`` table.
        model: The scorer artifact: a ``models:/`` URI, a run URI or a local folder.
        output: Folder of parquet scores (``clm.scoring.score.OUTPUT_SCHEMA``, ``group_size`` as
            int64); rows of unscorable subscribers go to ``<output stem>.quarantine.parquet``
            with ``failed_checks``. Both are overwritten.
        config: The ``scoring`` params section.
        scoring_month: The month T; default the latest month of ``usage``.

    Raises:
        TableError: a column is missing or mistyped, or ``usage`` has no rows.
        HistoryError: the input lacks a month the features read.
        QuarantineShareError: more than ``max_quarantined_share`` of the rows failed; nothing
            is written.
    """
    with _timed("reading the months, shipping the scorer"):
        run = _start(usage, subscribers, model, config.batch_rows, scoring_month)
    month = run.month
    checked = run.checked()
    with _timed(f"checking {run.buckets} buckets"):
        rows_in, rows_quarantined, failed_checks = _row_counts(checked)
    quarantine = checked.where(F.col(PART) == "quarantine").select(*QUARANTINE_SCHEMA)
    if rows_quarantined > config.max_quarantined_share * rows_in:
        checked.unpersist()
        raise QuarantineShareError(
            f"{rows_quarantined} of {rows_in} input rows failed their checks, more than "
            f"scoring.max_quarantined_share={config.max_quarantined_share:.2%}; most failed "
            f"checks: {dict(list(failed_checks.items())[:5])}; nothing written"
        )
    with _timed("writing the quarantine, the month's statistics"):
        quarantine.write.mode("overwrite").parquet(quarantine_location(output))
        network, groups = _month_stats(checked, run.scorer.features, run.base)

    scored = run.scored(checked, network, groups).persist(StorageLevel.MEMORY_AND_DISK)
    with _timed(f"scoring {run.buckets} buckets' features, cutting risk deciles"):
        decile = _risk_decile(scored, config.spark_decile_error)
    checked.unpersist()
    with _timed("writing the scores"):
        ranked = scored.withColumn("risk_decile", decile)
        ranked.select(*OUTPUT_SCHEMA).write.mode("overwrite").parquet(output)
        mix = _risk_mix(ranked)
    scored.unpersist()
    subscribers_scored = mix["risk_decile"]["subscribers"].sum()
    logger.info("scored %d subscribers for %s -> %s", subscribers_scored, month, output)
    summary = ScoreSummary(
        month, len(run.months), rows_in, rows_quarantined, failed_checks, subscribers_scored, mix
    )
    return SparkSummary(summary, decile_rows_off(mix["risk_decile"]), run.buckets)


def month_stats(
    usage: DataFrame,
    subscribers: DataFrame,
    model: str,
    batch_rows: int,
    scoring_month: date | None = None,
) -> MonthStats:
    """The month's statistics, collected: the ``month_stats`` param of the pyfunc when it scores
    part of the base (``mlflow.pyfunc.spark_udf``). Its groups table grows with the base, so
    ``score_tables`` keeps that one on the executors instead."""
    run = _start(usage, subscribers, model, batch_rows, scoring_month)
    checked = run.checked()
    network, groups = _month_stats(checked, run.scorer.features, run.base)
    collected = pl.DataFrame(
        [tuple(row) for row in groups.collect()], schema=GROUP_SCHEMA, orient="row"
    ).sort("group_id")
    checked.unpersist()
    return MonthStats(run.month, run.history_start, network, collected)


def spark_udf_result_type() -> str:
    """The struct to ask ``mlflow.pyfunc.spark_udf`` for (pyfunc param ``output_rows=input``).

    MLflow casts each struct field with numpy, which has no null integer: ``group_size`` and
    ``imputed_months`` come as double. ``risk_decile`` (null: a part of the base cannot rank)
    and ``scoring_month`` (the row's own month) are left out.
    """
    left_out = ("risk_decile", "scoring_month")
    fields = {
        name: pl.Float64() if dtype in (pl.UInt32(), pl.Int8()) else dtype
        for name, dtype in OUTPUT_SCHEMA.items()
        if name not in left_out
    }
    return _spark_schema(fields)


def decile_rows_off(decile_counts: pl.DataFrame) -> int:
    """Sum over rows of |decile - exact decile|, from each decile's row count alone.

    Both the cut points and the exact ranking put rows in decile order, so the deciles differ
    only by where each boundary falls: after d deciles the exact ranking has placed
    ceil(d * n / 10) rows (``clm.scoring.rules.risk_deciles``), the cuts their own count.
    """
    sizes = dict(decile_counts.select("risk_decile", "subscribers").iter_rows())
    n = sum(sizes.values())
    placed = 0
    off = 0
    for d in range(1, DECILES):
        placed += sizes.get(d, 0)
        off += abs(placed - (d * n + DECILES - 1) // DECILES)
    return off


def _ship(spark: SparkSession, artifact: Path) -> str:
    """Ship the artifact folder to every executor as a zip archive, unpacked there; returns its
    name for ``SparkFiles.get``. Spark ships no local folders to a cluster (``addFile`` of a
    directory works in local mode only) and serves the archive from its path while the session
    lives, so the archive's folder is removed when this Python exits."""
    folder = tempfile.mkdtemp(prefix="clm-scorer-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    name = Path(folder).name  # Spark knows a shipped file by its name: one per call
    spark.sparkContext.addArchive(shutil.make_archive(f"{folder}/{name}", "zip", artifact))
    return f"{name}.zip"


@contextmanager
def _timed(step: str) -> Iterator[None]:
    """Log how long a step of the plan took: where a slow run spends its time."""
    started = time.perf_counter()
    yield
    logger.info("%s: %.1f s", step, time.perf_counter() - started)


def _bucket_keys(spark: SparkSession, buckets: int) -> list[int]:
    """Per bucket b, a key that Spark's hash partitioner sends to partition b of ``buckets``.

    ``repartition(n, column)`` places a row by ``pmod(hash(column), n)`` (``F.hash``), which
    would put some buckets together and leave partitions empty; keyed this way each partition
    holds one bucket.
    """
    partition = F.pmod(F.hash("id"), F.lit(buckets))
    found = spark.range(buckets * 64).groupBy(partition.alias("partition")).agg(F.min("id"))
    keys = dict(found.collect())
    return [keys[b] for b in range(buckets)]


def _check_columns(frame: DataFrame, table: str, contract: dict[str, pl.DataType]) -> None:
    """Raise TableError unless every contract column is present with its contract type."""
    types = dict(frame.dtypes)
    for name, dtype in contract.items():
        if name not in types:
            raise TableError(table, "column_present", "column missing", column=name)
        if types[name] != _SPARK_TYPES[dtype]:
            raise TableError(
                table, "dtype", f"expected {_SPARK_TYPES[dtype]}, got {types[name]}", column=name
            )


def _month_stats(
    checked: DataFrame, config: FeatureConfig, base: dict[str, pl.DataType]
) -> tuple[pl.DataFrame, DataFrame]:
    """``MonthStats``' two tables from the first pass's base features, as Spark aggregates.

    The network table (``clm.features.build.network_stats``: a few rows) is collected, its
    prepaid spend thresholds exactly as polars computes them (``_exact_quantiles``), in two
    jobs. The groups table stays a DataFrame.
    """
    stats = checked.where(F.col(PART) == "base").select(*STATS_COLUMNS)
    tiers = config.tiers
    high = 1.0 - tiers.prepaid_high_top_share
    shares = (high, high - tiers.prepaid_mid_next_share)
    prepaid = (F.col("payment_type") != "postpaid") & ~F.col("is_group")
    stats = stats.withColumn(SPEND, F.when(prepaid, F.col("cumulative_spend")))
    means = ["network_mean_tenure", "network_mean_arpu"]
    found = stats.groupBy("snapshot_month", "network").agg(
        F.avg("tenure_months").alias(means[0]),
        F.avg("arpu_mean_3m").alias(means[1]),
        *_spend_brackets(shares),
    )
    rows = found.collect()
    thresholds = _exact_quantiles(
        stats, shares, {row["network"]: (row["n"], row["cuts"]) for row in rows}
    )
    schema = network_stats(pl.LazyFrame(schema=base), config).schema
    network = pl.DataFrame(
        [
            (
                row["snapshot_month"],
                row["network"],
                *(row[m] for m in means),
                *thresholds[row["network"]],
            )
            for row in rows
        ],
        schema=["snapshot_month", "network", *means, "prepaid_high_spend", "prepaid_mid_spend"],
        orient="row",
    ).select(pl.col(name).cast(dtype) for name, dtype in schema.items())
    groups = (
        stats.where(F.col("group_id").isNotNull())
        .groupBy("group_id")
        .agg(
            F.count(F.lit(1)).alias("group_size"),
            F.avg("arpu_mean_3m").alias("group_arpu_mean_3m"),
        )
    )
    return network.sort("snapshot_month", "network"), groups


def _spend_brackets(shares: tuple[float, ...]) -> tuple[Column, Column]:
    """Aggregates for ``_exact_quantiles``' bounds: a network's count of ``SPEND`` values (``n``)
    and, per share, an approximate quantile just below and just above it (``cuts``)."""
    margin = 4.0 / _BRACKET_ACCURACY
    brackets = [min(max(share + side, 0.0), 1.0) for share in shares for side in (-margin, margin)]
    return (
        F.count(SPEND).alias("n"),
        F.percentile_approx(SPEND, brackets, _BRACKET_ACCURACY).alias("cuts"),
    )


def _exact_quantiles(
    stats: DataFrame,
    shares: tuple[float, ...],
    bounds: dict[str, tuple[int, list[float] | None]],
) -> dict[str, list[float | None]]:
    """Per network, polars' ``linear`` quantiles of ``SPEND`` (nulls left out), to the bit.

    No task holds a network's values: ``bounds`` holds per network its count of values and an
    approximate quantile below and above each rank (a bracket); one job counts the values
    below each bracket and gathers those inside (about ``8 / _BRACKET_ACCURACY`` of them),
    and the driver picks the two around the rank and interpolates as polars does. A network
    of at most ``_BRACKET_ACCURACY`` values sends them all (there a bracket may hold a single
    rank, not the two around it); a bracket that missed its rank anyway falls back to all of
    that network's values.
    """
    spend = F.col(SPEND)
    everything = (-math.inf, math.inf)
    per_share = []
    for i in range(len(shares)):
        lower, upper = F.lit(None), F.lit(None)
        for network, (n, cuts) in bounds.items():
            if n:
                here = F.col("network") == network
                low, high = cuts[2 * i : 2 * i + 2] if n > _BRACKET_ACCURACY else everything
                lower = F.when(here, F.lit(low)).otherwise(lower)
                upper = F.when(here, F.lit(high)).otherwise(upper)
        per_share += [
            F.count(F.when(spend < lower, 1)).alias(f"below_{i}"),
            F.sort_array(F.collect_list(F.when(spend.between(lower, upper), spend))).alias(
                f"inside_{i}"
            ),
        ]
    found = {row["network"]: row for row in stats.groupBy("network").agg(*per_share).collect()}
    result = {}
    for network, (n, _) in bounds.items():
        quantiles: list[float | None] = []
        for i, share in enumerate(shares):
            if not n:
                quantiles.append(None)
                continue
            sorted_values, offset = found[network][f"inside_{i}"], found[network][f"below_{i}"]
            position = (n - 1) * share
            lo, hi = math.floor(position), math.ceil(position)
            if not offset <= lo <= hi < offset + len(sorted_values):
                logger.warning("quantile bracket missed for network %s: reading all", network)
                every = stats.where((F.col("network") == network) & spend.isNotNull())
                sorted_values, offset = sorted(row[0] for row in every.select(SPEND).collect()), 0
            lower_value = sorted_values[lo - offset]
            upper_value = sorted_values[hi - offset]
            quantiles.append(lower_value + (upper_value - lower_value) * (position - lo))
        result[network] = quantiles
    return result


def _risk_decile(scored: DataFrame, relative_error: float) -> Column:
    """Risk decile (1 = riskiest tenth) from approximate quantiles of ``churn_probability``.

    Decile d's lower bound is the (1 - d/10) quantile, so ties go to the riskier decile.
    """
    shares = [1.0 - d / DECILES for d in range(1, DECILES)]
    cuts = scored.approxQuantile("churn_probability", shares, relative_error)
    below = [(F.col("churn_probability") < cut).cast("int") for cut in cuts]
    return (F.lit(1) + sum(below, F.lit(0))).cast("tinyint")


def _row_counts(checked: DataFrame) -> tuple[int, int, dict[str, int]]:
    """Input rows, quarantined rows and quarantined rows per failed check (most frequent
    first, as ``failed_check_counts``), in one job: a row count per part and check list."""
    counts = checked.groupBy(PART, FAILED_CHECKS).agg(F.sum(ROWS).alias(ROWS)).collect()
    rows_in = sum(row[ROWS] for row in counts if row[PART] == "rows")
    quarantined = [row for row in counts if row[PART] == "quarantine"]
    per_check: dict[str, int] = {}
    for row in quarantined:
        for check in row[FAILED_CHECKS]:
            per_check[check] = per_check.get(check, 0) + row[ROWS]
    ranked = sorted(per_check.items(), key=lambda item: (-item[1], item[0]))
    return rows_in, sum(row[ROWS] for row in quarantined), dict(ranked)


def _risk_mix(scores: DataFrame) -> dict[str, pl.DataFrame]:
    """Subscribers and mean churn probability per decile, stage and value tier, from one job:
    the counts and risk sums of every (decile, stage, tier) cell, added up on the driver."""
    columns = ("risk_decile", "stage", "value_tier")
    cells = scores.groupBy(*columns).agg(
        F.count(F.lit(1)).alias("subscribers"), F.sum("churn_probability").alias("risk")
    )
    frame = pl.DataFrame(
        [tuple(row) for row in cells.collect()],
        schema={
            **{column: OUTPUT_SCHEMA[column] for column in columns},
            "subscribers": pl.UInt32(),
            "risk": pl.Float64(),
        },
        orient="row",
    )
    return {
        column: frame.group_by(column)
        .agg(
            pl.col("subscribers").sum(),
            mean_churn_probability=pl.col("risk").sum() / pl.col("subscribers").sum(),
        )
        .sort(column)
        for column in columns
    }


def _spark_schema(schema: dict[str, pl.DataType]) -> str:
    return ", ".join(f"{name} {_SPARK_TYPES[dtype]}" for name, dtype in schema.items())
