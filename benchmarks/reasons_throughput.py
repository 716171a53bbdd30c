"""Benchmark: per-customer top-3 reasons per second for the trained churn model.

Replicates the test month to ``--rows`` rows and times ``top_reasons`` on them (exact
TreeSHAP through XGBoost's pred_contribs, summed into causes, then ranked).
Run after the pipeline: uv run python benchmarks/reasons_throughput.py [--rows N] [--device cuda]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import polars as pl

from clm.explain.reasons import top_reasons
from clm.models.trained import TrainedModel
from clm.scoring.score import TOP_REASONS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--model", type=Path, default=Path("models/churn"))
    parser.add_argument("--test", type=Path, default=Path("data/split/test.parquet"))
    parser.add_argument("--device", default="cpu", help="XGBoost device: cpu or cuda")
    args = parser.parse_args()
    model = TrainedModel.load(args.model)
    model.booster.set_param({"device": args.device})
    month = pl.read_parquet(args.test)
    copies = -(-args.rows // month.height)
    frame = pl.concat([month] * copies).head(args.rows)
    started = time.perf_counter()
    reasons = top_reasons(model, frame, TOP_REASONS)  # as many as the scorer gives
    seconds = time.perf_counter() - started
    print(
        f"top_reasons: {reasons.height:,} customers, {model.booster.num_boosted_rounds()} trees, "
        f"{args.device}, {os.cpu_count()} cores: {seconds:.1f} s wall, "
        f"{reasons.height / seconds:,.0f} customers/s"
    )


if __name__ == "__main__":
    main()
