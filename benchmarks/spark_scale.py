"""Benchmark: the Spark scorer against the single-process one, from the same raw parquet tables.

Run: python3 -m uv run python -m benchmarks.spark_scale [--subscribers N ...] [--scorer DIR]

For each base size: generate the raw tables, score them with ``clm score``'s logic on this
machine's cores, with ``score_tables`` on Spark ``local[2]`` (throughput) and on
``local-cluster[2,1,MiB]`` (driver memory: there the executors are JVMs of their own, so the
driver JVM's peak is the driver's alone; in ``local`` mode the one JVM also runs the tasks),
and compare the outputs row for row. Every step is a child process of a small parent, so each
reports its own peak memory. Without ``--scorer`` a scorer is trained on the tests' small
synthetic split (``tests/pipeline/scorer_support.py``: tiny models, so TreeSHAP is cheap and
Spark's own cost weighs more than it would with a full-sized model). Spark's clock starts
once the session and one Python worker per core (scoring libraries imported) are up, as the
single-process step imports its libraries before its clock; the workers' start is reported
apart (``python_workers_start_s``). With ``--operator-tables`` Spark ``local[2]`` also scores
the same tables exported in an operator's own names and codes (``tests/operator_export.py``:
months as YYYYMM, brands in Chinese), converted on the executors by ``conform_tables``: the
cost of ``spark_score.py --operator-tables``; its scores are compared too.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    import pyarrow as pa
    from pyspark.sql import SparkSession

LOCAL = "local[2]"
CLUSTER = "local-cluster[2,1,{mib}]"
RESULTS = "results.jsonl"


def record(folder: Path, **values: object) -> None:
    """Append one step's figures to the results file and print them."""
    print(json.dumps(values))
    with (folder / RESULTS).open("a", encoding="utf-8") as results:
        results.write(json.dumps(values) + "\n")


def build_scorer(folder: Path) -> None:
    """Child process: the tests' tiny scorer, trained on the small synthetic split."""
    from tests.fixtures import build_small_split
    from tests.mlflow_store import make_store
    from tests.params import repo_params
    from tests.pipeline.scorer_support import build_tiny_scorer
    from tests.trained_store import build_trained_store

    params = repo_params()
    split = build_small_split(folder / "split", params)
    trained = build_trained_store(split, make_store(folder / "empty"), folder / "trained")
    build_tiny_scorer(split, trained, params, folder / "built")


def generate(folder: Path, subscribers: int, months: int) -> None:
    """Child process: the raw tables of ``subscribers`` subscribers, written to ``folder``."""
    from tests.params import repo_params

    from clm.synthetic.generate import write_dataset

    config = replace(
        repo_params().generate, seed=3, n_subscribers=subscribers, n_months=months,
        first_month="2024-01-01",
    )  # fmt: skip
    write_dataset(config, folder, folder / "truth")


def score_single(raw: Path, model: str, output: Path) -> None:
    """Child process: ``clm score``'s logic on the raw folder, timed from loading the model."""
    from tests.params import repo_params

    from clm.scoring.batches import load_scorer_from, scan_input, score_input

    started = time.perf_counter()
    summary = score_input(
        scan_input(raw, raw), load_scorer_from(model), output, repo_params().scoring
    )
    seconds = time.perf_counter() - started
    record(
        raw.parent, step="single", subscribers=summary.subscribers_scored,
        rows_in=summary.rows_in, seconds=round(seconds, 1),
        per_s=round(summary.subscribers_scored / seconds), peak_gib=round(_peak_gib(), 2),
    )  # fmt: skip


def export_operator_tables(raw: Path, folder: Path) -> None:
    """Child process: the raw tables as an operator exports them (parquet)."""
    from tests.operator_export import THEIR_CODES, write_operator_export

    from clm.scoring.inputs import SCORED_TABLES

    tables = {name: pl.read_parquet(raw / f"{name}.parquet") for name in SCORED_TABLES}
    write_operator_export(tables, folder, THEIR_CODES, suffix="parquet")


def score_spark(raw: Path, model: str, output: Path, master: str, operator: bool) -> None:
    """Child process: ``score_tables`` on a fresh session, timed from reading the tables
    (with ``operator``, tables in an operator's names and codes, converted first)."""
    from tests.operator_export import their_mappings
    from tests.params import repo_params

    from clm.scoring.spark import conform_tables, local_session, read_raw_tables, score_tables

    session = local_session(master)
    session.sparkContext.setLogLevel("ERROR")
    session.range(1).count()  # the JVM and its executors up before the clock starts
    started = time.perf_counter()
    warm_python_workers(session)
    warm_up = time.perf_counter() - started
    started = time.perf_counter()
    usage, subscribers = read_raw_tables(session, str(raw))
    if operator:
        usage, subscribers = conform_tables(usage, subscribers, their_mappings(raw))
    summary = score_tables(usage, subscribers, model, str(output), repo_params().scoring)
    seconds = time.perf_counter() - started
    jvm = session.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
    jvm_peak = _vm_hwm_gib(int(jvm))
    session.stop()
    record(
        raw.parent, step=f"spark {master}{' operator tables' if operator else ''}",
        subscribers=summary.run.subscribers_scored,
        rows_in=summary.run.rows_in, rows_quarantined=summary.run.rows_quarantined,
        buckets=summary.buckets, python_workers_start_s=round(warm_up, 1),
        seconds=round(seconds, 1),
        per_s=round(summary.run.subscribers_scored / seconds),
        decile_rows_off=summary.decile_rows_off, driver_python_peak_gib=round(_peak_gib(), 2),
        driver_jvm_peak_gib=round(jvm_peak, 2),
    )  # fmt: skip


def warm_python_workers(session: SparkSession) -> None:
    """Start one Python worker per core and import the scoring libraries in it, before the
    clock starts: the single-process step imports them before its clock too. Spark reuses
    the workers for the scoring tasks."""

    def import_scoring(
        batches: Iterator[pa.RecordBatch],
    ) -> Iterator[pa.RecordBatch]:
        # nested: pickled by value, whichever module runs this
        import clm.scoring.spark_tasks  # noqa: F401

        yield from batches

    cores = session.sparkContext.defaultParallelism
    session.range(cores, numPartitions=cores).mapInArrow(import_scoring, "id bigint").collect()


def compare(folder: Path, single: Path, spark: Path) -> None:
    """Child process: Spark's scores (``spark``) against the single-process ones, row for row."""
    a = pl.read_parquet(single).sort("subscriber_id")
    b = pl.read_parquet(spark / "*.parquet").sort("subscriber_id")
    assert a["subscriber_id"].equals(b["subscriber_id"]), "different subscribers scored"
    floats = [name for name, dtype in a.schema.items() if dtype == pl.Float64]
    diffs = {name: (a[name] - b[name]).abs().max() or 0.0 for name in floats}
    others = [name for name in a.columns if name not in floats and name != "risk_decile"]
    unequal = [name for name in others if not a[name].equals(b[name].cast(a[name].dtype))]
    decile_diff = (a["risk_decile"].cast(pl.Int64) - b["risk_decile"]).abs()
    record(
        folder, step=f"compare {spark.name}", subscribers=a.height,
        churn_probability_equal=a["churn_probability"].equals(b["churn_probability"]),
        max_abs_diff_float_columns=max(diffs.values()), unequal_other_columns=unequal,
        decile_rows_differing=int((decile_diff > 0).sum()),
        decile_rows_off=int(decile_diff.sum()),
    )  # fmt: skip


def _peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _vm_hwm_gib(pid: int) -> float:
    """A process's peak resident memory (``VmHWM``) in GiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 2**20
    raise RuntimeError(f"no VmHWM for process {pid}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, nargs="+", default=[170_000, 680_000])
    parser.add_argument("--months", type=int, default=8)
    parser.add_argument(
        "--scorer", help="scorer folder or models:/ URI (default: train a tiny one)"
    )
    parser.add_argument("--executor-mib", type=int, default=2048)
    parser.add_argument(
        "--operator-tables", action="store_true", help="also score an operator-named copy"
    )
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--master", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        run_step(args)
        return
    me = [sys.executable, "-m", "benchmarks.spark_scale"]
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        model = args.scorer
        if not model:
            subprocess.run([*me, "--step", "scorer", "--folder", str(root)], check=True)
            model = str(root / "built" / "scorer")
        masters = [LOCAL, CLUSTER.format(mib=args.executor_mib)]
        for size in args.subscribers:
            base = root / f"base-{size}"
            run = [*me, "--folder", str(base), "--scorer", model, "--months", str(args.months)]
            subprocess.run([*run, "--step", "generate", "--subscribers", str(size)], check=True)
            subprocess.run([*run, "--step", "single"], check=True)
            for master in masters:
                subprocess.run([*run, "--step", "spark", "--master", master], check=True)
            subprocess.run([*run, "--step", "compare"], check=True)
            if args.operator_tables:
                for step in ("export", "spark-operator", "compare-operator"):
                    subprocess.run([*run, "--step", step, "--master", LOCAL], check=True)
            lines = (base / RESULTS).read_text().splitlines()
            print(f"--- {size:,} subscribers generated x {args.months} months")
            print("\n".join(lines))


def run_step(args: argparse.Namespace) -> None:
    folder: Path = args.folder
    raw, single = folder / "raw", folder / "single.parquet"
    if args.step == "scorer":
        build_scorer(folder)
    elif args.step == "generate":
        generate(raw, args.subscribers[0], args.months)
    elif args.step == "single":
        score_single(raw, args.scorer, single)
    elif args.step == "export":
        export_operator_tables(raw, folder / "operator")
    elif args.step == "spark":
        name = "spark-cluster" if args.master.startswith("local-cluster") else "spark-local"
        score_spark(raw, args.scorer, folder / name, args.master, operator=False)
    elif args.step == "spark-operator":
        score_spark(folder / "operator", args.scorer, folder / "spark-operator", LOCAL, True)
    elif args.step == "compare":
        compare(folder, single, folder / "spark-local")
    elif args.step == "compare-operator":
        compare(folder, single, folder / "spark-operator")


if __name__ == "__main__":
    main()
