"""Benchmark: monitor a month of about 1M scored subscribers against the training reference
and the month before.

Run: nice -n 10 .venv/bin/python -m benchmarks.monitoring_1m [--subscribers N]
Goal (design.md): <= 30 s and <= 2 GB peak on 2 cores. Timed: reading the two scored months
(features, churn probability, stage and top-3 reasons, as ``clm score`` gives them beside the
feature table) and the whole monitor pass (drift of every feature, the score and the mix with
PSI and KS / chi-square tests, the driver mix overall, per value tier x stage and per region,
realised performance, data quality, alerts). Not timed: scoring, which is ``clm score``'s (see
benchmarks/score_1m.py). The months are built from a small synthetic run (the pipeline's own
steps, ``benchmarks.monitoring_support``): its last two labelled months, scored by its
champion, resampled with replacement to ``--subscribers`` rows each with fresh ids. The
monitor runs in a child process so that it reports its own peak memory.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl

MONTHS = "months.parquet"


def build(folder: Path, subscribers: int) -> None:
    """The reference and two scored months of ``subscribers`` rows each, under ``folder``."""
    from dataclasses import replace

    from tests.params import repo_params

    from benchmarks.monitoring_support import prepare_data, split_at, train_run
    from clm.models.trained import TrainedModel
    from clm.monitoring.scoring import score_frame

    params = repo_params()
    generate = replace(params.generate, n_subscribers=8_000, n_months=18)
    prepare_data(folder, generate, params)
    run = train_run(folder, split_at(params, "auto", 6), params, "champion")
    churn, stage = (TrainedModel.load(run.models / task) for task in ("churn", "stage"))
    features = pl.read_parquet(run.features)
    last = features.filter(pl.col("churn").is_not_null())["snapshot_month"].max()
    months = []
    for offset, month in enumerate(sorted(features["snapshot_month"].unique())[-5:-3]):
        rows = features.filter(snapshot_month=month)
        scored = score_frame(churn, stage, rows, params.monitor.chunk_rows)
        scored = rows.drop("value_tier", "churn").hstack(
            scored.drop("subscriber_id", "snapshot_month")
        )
        sample = scored.sample(subscribers, with_replacement=True, seed=offset)
        months.append(sample.with_columns(subscriber_id=pl.int_range(pl.len(), dtype=pl.Int64)))
    pl.concat(months).write_parquet(folder / MONTHS)
    reference = pl.read_parquet(run.reference)
    reference.hstack(
        score_frame(churn, stage, reference, params.monitor.chunk_rows, reasons=False).select(
            "churn_probability", "stage"
        )
    ).write_parquet(folder / "reference.parquet")
    print(f"built: 2 months x {subscribers:,} scored rows, last labelled month {last}")


def monitor_months(folder: Path) -> None:
    """Child process: read the scored months and run the monitor pass, timed."""
    from tests.params import repo_params

    from clm.data.contract import RAW_TABLES
    from clm.models.trained import TrainedModel
    from clm.monitoring.monitor import monitor
    from clm.monitoring.quality import quarantined_shares
    from clm.monitoring.scoring import model_features

    features = model_features(TrainedModel.load(folder / "champion" / "models" / "churn"))
    started, cpu_started = time.perf_counter(), time.process_time()
    reference = pl.read_parquet(folder / "reference.parquet")
    months = pl.read_parquet(folder / MONTHS)
    quality = quarantined_shares(
        {t: pl.scan_parquet(folder / "validated" / f"{t}.parquet") for t in RAW_TABLES},
        {t: pl.scan_parquet(folder / "quarantine" / f"{t}.parquet") for t in RAW_TABLES},
    )
    result = monitor(reference, months, quality, [], features, repo_params().monitor)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    latest = result.document["months"][-1]
    print(
        f"monitor: {latest['customers']:,} subscribers in {latest['month']} vs the month before "
        f"and a reference of {reference.height:,} rows, {len(features)} features: "
        f"{seconds:.1f} s wall ({cpu_seconds:.1f} s CPU), {peak_gib:.2f} GiB peak RSS, "
        f"{len(result.alerts)} alerts"
    )
    for alert in result.alerts:
        print(f"  {alert.kind}: {alert.subject} {alert.value:+.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--step", choices=["build", "monitor"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "build":
        build(args.folder, args.subscribers)
        return
    if args.step == "monitor":
        monitor_months(args.folder)
        return
    with tempfile.TemporaryDirectory() as temp:
        for step in ("build", "monitor"):
            command = [sys.executable, "-m", "benchmarks.monitoring_1m", "--step", step]
            command += ["--folder", temp, "--subscribers", str(args.subscribers)]
            subprocess.run(command, check=True)


if __name__ == "__main__":
    main()
