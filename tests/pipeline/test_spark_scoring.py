"""The same artifact on Spark gives the single-process scores, from the raw tables, on separate
executor processes (``local-cluster``: the artifact and the functions travel as on a cluster)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import asdict, replace
from pathlib import Path

import mlflow
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from pyspark.errors import PythonException
from pyspark.sql import functions as F
from tests.mlflow_store import tracking_uri
from tests.operator_export import (
    THEIR_CODES,
    clm_values,
    export_like_an_operator,
    their_mappings,
    write_operator_export,
)
from tests.params import repo_params, write_params
from tests.pipeline.scorer_support import assert_every_subscriber_accounted_for, with_history_gaps
from tests.pipeline.test_snapshot_run import small_settings, tiny_dataset, tiny_files
from tests.pipeline.test_snapshot_score import FILTERED_MAPPING, unlabelled

from clm.data.contract import RAW_TABLES, SUBSCRIBERS, USAGE_MONTHLY
from clm.data.io import TableError
from clm.data.operator import import_operator_tables
from clm.data.validate import FAILED_CHECKS
from clm.registry import REGISTERED_MODELS
from clm.scoring.batches import load_scorer_from, quarantine_path_for, score_input
from clm.scoring.inputs import OTHER_ROW_FAILED, SCORED_TABLES, SCORING_INPUT
from clm.scoring.score import OUTPUT_SCHEMA
from clm.scoring.spark import (
    _BRACKET_ACCURACY,
    SPEND,
    _exact_quantiles,
    _spend_brackets,
    conform_tables,
    local_session,
    month_stats,
    read_raw_tables,
    score_tables,
    spark_udf_result_type,
    worker_error,
)
from clm.snapshot.pipeline import run_snapshot
from clm.snapshot.pyfunc import spark_result_type
from clm.snapshot.scoring import score_file

pytestmark = pytest.mark.slow  # starts a driver and two executor JVMs

SUBSCRIBERS_KEPT = 400
SCRIPT = Path(__file__).parents[2] / "scripts" / "spark_score.py"
CLUSTER = "local-cluster[2,1,1024]"  # two executors of one core and 1 GiB each


@pytest.fixture(scope="module")
def spark_cluster():
    session = local_session(CLUSTER, short_lived=True)
    yield session
    session.stop()


@pytest.fixture(scope="module")
def raw(tiny_scorer, tmp_path_factory):
    """The first subscribers' raw tables with two history gaps, one implausible row and one
    subscriber in a region the models never saw, written as parquet; returns (folder, their
    scoring input, the bad row's subscriber)."""
    ids = tiny_scorer.frame["subscriber_id"].unique().sort().head(SUBSCRIBERS_KEPT)
    frame, _, _ = with_history_gaps(
        tiny_scorer.frame.filter(pl.col("subscriber_id").is_in(ids.implode()))
    )
    month = frame["month"].max()
    bad = frame.filter(pl.col("month") == month)["subscriber_id"].sort()[-1]
    broken = (pl.col("subscriber_id") == bad) & (pl.col("month") == month)
    frame = frame.with_columns(arpu=pl.when(broken).then(-5.0).otherwise(pl.col("arpu")))
    newcomer = frame.filter(pl.col("month") == month)["subscriber_id"].sort()[-2]
    moved = pl.col("subscriber_id") == newcomer
    frame = frame.with_columns(region=pl.when(moved).then(pl.lit("新疆")).otherwise("region"))
    folder = tmp_path_factory.mktemp("raw")
    frame.select(list(USAGE_MONTHLY)).write_parquet(folder / "usage_monthly.parquet")
    subscribers = frame.select(list(SUBSCRIBERS)).unique("subscriber_id").sort("subscriber_id")
    subscribers.write_parquet(folder / "subscribers.parquet")
    return folder, frame, bad


def test_spark_scores_and_quarantines_like_the_single_process_scorer(
    spark_cluster, tiny_scorer, raw, tmp_path
):
    folder, frame, bad = raw
    config = replace(repo_params().scoring, batch_rows=1_000, max_quarantined_share=0.1)
    expected_path = tmp_path / "expected.parquet"
    expected = score_input(
        frame.lazy(), load_scorer_from(str(tiny_scorer.path)), expected_path, config
    )
    output = tmp_path / "scores"
    usage, subscribers = read_raw_tables(spark_cluster, str(folder))
    summary = score_tables(usage, subscribers, str(tiny_scorer.path), str(output), config)
    result = pl.read_parquet(output / "*.parquet").sort("subscriber_id")
    quarantine = pl.read_parquet(quarantine_path_for(output) / "*.parquet")
    quarantine = quarantine.sort("subscriber_id", "month")
    single = pl.read_parquet(expected_path)
    single_quarantine = pl.read_parquet(quarantine_path_for(expected_path))

    assert summary.buckets > 1
    assert summary.run.rows_in == expected.rows_in == frame.height
    assert summary.run.rows_quarantined == quarantine.height == single_quarantine.height
    assert summary.run.failed_checks == expected.failed_checks
    assert {OTHER_ROW_FAILED, "region:unknown_to_model"} <= set(quarantine[FAILED_CHECKS].explode())
    assert bad in set(quarantine["subscriber_id"])
    assert_frame_equal(
        quarantine.select(*SCORING_INPUT, FAILED_CHECKS),
        single_quarantine.sort("subscriber_id", "month"),
    )
    assert_every_subscriber_accounted_for(frame, frame["month"].max(), result, quarantine)
    assert result.height == summary.run.subscribers_scored == single.height > 200
    assert result["churn_probability"].equals(single["churn_probability"])
    decile_off = (result["risk_decile"].cast(pl.Int64) - single["risk_decile"]).abs().sum()
    assert summary.decile_rows_off == decile_off
    # TreeSHAP contributions are float32 sums: the last bit depends on XGBoost's threading.
    assert_frame_equal(
        result.drop("risk_decile"),
        single.drop("risk_decile"),
        check_dtypes=False,
        abs_tol=1e-6,
    )


def test_spark_udf_of_the_registered_scorer_scores_like_the_single_process_scorer(
    spark_cluster, tiny_scorer, raw, tmp_path
):
    folder, frame, _ = raw
    config = replace(repo_params().scoring, max_quarantined_share=0.1)
    expected_path = tmp_path / "expected.parquet"
    score_input(frame.lazy(), load_scorer_from(str(tiny_scorer.path)), expected_path, config)
    usage, subscribers = read_raw_tables(spark_cluster, str(folder))
    uri = f"models:/{REGISTERED_MODELS['scorer']}/{tiny_scorer.version}"
    with tracking_uri(tiny_scorer.tracking_uri):
        stats = month_stats(usage, subscribers, uri, config.batch_rows)
        udf = mlflow.pyfunc.spark_udf(
            spark_cluster,
            uri,
            env_manager="local",
            result_type=spark_udf_result_type(),
            params={"month_stats": stats.to_json(), "output_rows": "input"},
        )
    # the pyfunc needs every month of a subscriber in one Arrow batch: one batch a partition
    spark_cluster.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(frame.height))
    rows = (
        usage.join(subscribers, on="subscriber_id")
        .select(*SCORING_INPUT)
        .repartition(3, "subscriber_id")
        .sortWithinPartitions("subscriber_id", "month")
    )
    # materialised before any filter: Spark would push a filter below the UDF, which would then
    # see only the rows kept, without their history
    scored = rows.select(udf(F.struct(*SCORING_INPUT)).alias("score")).select("score.*")
    scored = scored.persist()
    kept = scored.where(F.col("churn_probability").isNotNull())
    result = pl.from_arrow(kept.toArrow()).sort("subscriber_id")
    assert scored.count() == frame.height
    scored.unpersist()
    single = pl.read_parquet(expected_path)
    assert result.height == single.height > 200
    assert result["subscriber_id"].equals(single["subscriber_id"])
    assert result["churn_probability"].equals(single["churn_probability"])
    assert_frame_equal(
        result, single.select(result.columns), check_dtypes=False, check_column_order=False,
        abs_tol=1e-6,
    )  # fmt: skip
    assert set(result.columns) == set(OUTPUT_SCHEMA) - {"risk_decile", "scoring_month"}


def test_spend_thresholds_are_polars_quantiles_on_a_large_and_a_small_network(
    spark_cluster, caplog, tmp_path
):
    """The value tiers' prepaid spend thresholds, to the bit: from a bracketing sketch on a
    network of more values than the sketch's accuracy, from every value on a small one."""
    sizes = {"large": _BRACKET_ACCURACY + 500, "small": 37}
    spend = np.random.default_rng(11).gamma(2.0, 60.0, sum(sizes.values())).round(2)
    names = [name for name, size in sizes.items() for _ in range(size)]
    frame = pl.DataFrame({"network": names, SPEND: spend})
    frame.write_parquet(tmp_path / "spend.parquet")
    stats = spark_cluster.read.parquet(str(tmp_path / "spend.parquet"))
    shares = (0.8, 0.5)
    found = stats.groupBy("network").agg(*_spend_brackets(shares)).collect()
    bounds = {row["network"]: (row["n"], row["cuts"]) for row in found}

    thresholds = _exact_quantiles(stats, shares, bounds)

    assert bounds["large"][0] > _BRACKET_ACCURACY
    assert "bracket missed" not in caplog.text  # the large network's brackets held their ranks
    for (network,), part in frame.group_by("network"):
        assert thresholds[network] == [part[SPEND].quantile(share, "linear") for share in shares]


def test_an_operators_own_csv_tables_read_on_spark_as_the_pipeline_reads_them(
    spark_cluster, small_data, tmp_path
):
    export = tmp_path / "export"
    export_like_an_operator(small_data, export, THEIR_CODES)
    tables = their_mappings(export)
    read = read_raw_tables(spark_cluster, str(export))  # CSV: every column text

    usage, subscribers = conform_tables(*read, tables)

    expected = import_operator_tables(tables)
    for name, frame in (("usage_monthly", usage), ("subscribers", subscribers)):
        keys = [c for c in ("subscriber_id", "month") if c in RAW_TABLES[name]]
        assert_frame_equal(pl.from_arrow(frame.toArrow()).sort(keys), expected[name].sort(keys))

    with pytest.raises(TableError, match=r"usage_monthly.*usage_monthly\.parquet or .*\.csv"):
        read_raw_tables(spark_cluster, str(tmp_path / "empty"))
    unlisted = clm_values(THEIR_CODES)
    del unlisted["subscribers"]["brand"]["神州行"]
    _, subscribers = conform_tables(*read, replace(tables, values=unlisted))
    with pytest.raises(PythonException) as raised:
        subscribers.count()
    assert re.search(
        r"TableError: table 'subscribers', column 'brand'.*value_mapped.*'神州行'",
        worker_error(raised.value),
    )


# Both Spark entry points, each in a process (and session) of its own.
SPARK_SUBMIT = [sys.executable, str(SCRIPT)]  # as spark-submit runs it: local[*]
CLM_SCORE_ON_SPARK = [
    sys.executable, "-c", "from clm.cli import app; app()", "score", "--spark-master", "local[2]",
]  # fmt: skip


def as_an_operator_exports_it(raw, folder: Path, values: dict | None = None) -> list[str]:
    """``raw``'s tables in the operator's names and codes as parquet in ``folder``, and the
    entry points' arguments that score them with params.yaml's data.operator mapping them
    (``values``: other value mappings)."""
    tables = {name: pl.read_parquet(raw[0] / f"{name}.parquet") for name in SCORED_TABLES}
    export = folder / "export"
    write_operator_export(tables, export, THEIR_CODES, suffix="parquet")
    operator = replace(their_mappings(export), values=values or clm_values(THEIR_CODES))
    params = write_params(
        folder / "params.yaml",
        data={"source": "operator", "operator": asdict(operator)},
        scoring={"max_quarantined_share": 0.1},  # raw's bad rows
    )
    return ["--input", str(export), "--params", str(params), "--operator-tables"]


def run_entry_point(command: list[str], *args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"PYSPARK_PYTHON": sys.executable}
    return subprocess.run([*command, *args], capture_output=True, text=True, env=env)


@pytest.mark.parametrize(
    "command", [SPARK_SUBMIT, CLM_SCORE_ON_SPARK], ids=["spark_score.py", "clm score"]
)
def test_either_spark_entry_point_scores_an_operators_own_tables(
    command, tiny_scorer, raw, tmp_path
):
    operator_args = as_an_operator_exports_it(raw, tmp_path)
    config = replace(repo_params().scoring, max_quarantined_share=0.1)
    expected = tmp_path / "expected.parquet"
    score_input(raw[1].lazy(), load_scorer_from(str(tiny_scorer.path)), expected, config)

    out = tmp_path / "scores"
    run = run_entry_point(
        command, "--scorer", str(tiny_scorer.path), "--out", str(out), *operator_args
    )

    assert run.returncode == 0, run.stderr[-3000:]
    scores = pl.read_parquet(out / "*.parquet").sort("subscriber_id")
    assert scores["churn_probability"].equals(pl.read_parquet(expected)["churn_probability"])


def test_clm_score_on_spark_names_a_code_the_mappings_do_not_list(tiny_scorer, raw, tmp_path):
    unlisted = clm_values(THEIR_CODES)
    del unlisted["subscribers"]["brand"]["神州行"]
    operator_args = as_an_operator_exports_it(raw, tmp_path, unlisted)
    out = tmp_path / "scores"

    failed = run_entry_point(
        CLM_SCORE_ON_SPARK, "--scorer", str(tiny_scorer.path), "--out", str(out), *operator_args
    )

    assert failed.returncode == 2, failed.stderr[-3000:]
    last = failed.stderr.strip().splitlines()[-1]
    assert re.search(r"table 'subscribers', column 'brand'.*value_mapped.*'神州行'", last), last
    assert not out.exists()


def test_spark_udf_of_a_registered_snapshot_model_scores_like_clm_snapshot_score(
    spark_cluster, tracking_store, tmp_path
):
    run_snapshot(tiny_files(tmp_path, FILTERED_MAPPING), small_settings(), tmp_path / "runs")
    data = tmp_path / "may.csv"
    unlabelled(tiny_dataset(seed=11, rows=300)).write_csv(data)
    by_command = score_file(tmp_path / "runs" / "tiny" / "model", data, reasons=3).scores

    udf = mlflow.pyfunc.spark_udf(
        spark_cluster,
        "models:/clm-snapshot-tiny@challenger",
        env_manager="local",
        result_type=spark_result_type(),
    )
    rows = spark_cluster.read.csv(str(data), header=True)  # every column as text
    scored = rows.select(udf(F.struct(*rows.columns)).alias("s")).select("s.*").toPandas()

    by_udf = pl.from_pandas(scored)
    assert by_udf.height == 300  # one row per input row, on executors of their own
    # MLflow turns a struct's null text into 'nan' once a column holds any text: a row's
    # failed checks are read where it has no probability
    filtered = by_udf.filter(pl.col("churn_probability").is_null())
    assert set(filtered["failed_checks"]) == {"filtered"}  # joined last month
    same = by_udf.join(by_command, on="customer_id", suffix="_command")
    assert same.height == by_command.height == 300 - filtered.height
    np.testing.assert_allclose(same["churn_probability"], same["churn_probability_command"])
    assert (same["reason_1_cause"] == same["reason_1_cause_command"]).all()
