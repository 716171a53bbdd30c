"""Benchmark: generate 1M subscribers x 24 months to parquet; prints wall time and peak memory.

Run: uv run python benchmarks/generate_1m.py [--subscribers N] [--months M]
Goal (design.md): <= 60 s and <= 4 GB peak on 2 cores.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
from tests.params import repo_params

from clm.synthetic.generate import write_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=24)
    args = parser.parse_args()
    config = replace(
        repo_params().generate, seed=1, n_subscribers=args.subscribers, n_months=args.months
    )
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        tables = write_dataset(config, Path(folder, "raw"), Path(folder, "truth"), True)
        seconds = time.perf_counter() - started
        usage_rows = pq.ParquetFile(Path(folder, "raw", "usage_monthly.parquet")).metadata.num_rows
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"generate: {args.subscribers:,} subscribers x {args.months} months, "
        f"{tables.churn_events.height:,} churn events, {usage_rows:,} usage rows: "
        f"{seconds:.1f} s wall, {peak_gib:.2f} GiB peak RSS"
    )


if __name__ == "__main__":
    main()
