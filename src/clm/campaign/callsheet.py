"""The retention team's call sheet: whom to call, with what, and why, best value first.

One row per treated subscriber, with the Chinese and English names beside every code, so
the call centre reads it without the taxonomy. Written as CSV (UTF-8 with a byte-order mark,
so Excel shows the Chinese) and as XLSX.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from clm.domain.taxonomy import Taxonomy
from clm.reports.sheets import named, write_sheet

REASONS = 3


def call_sheet(plan: pl.DataFrame, taxonomy: Taxonomy) -> pl.DataFrame:
    """The treated rows of ``plan``, sorted by expected value, with bilingual names."""
    treated = plan.filter(arm="treatment").sort(
        "expected_value_yuan", "subscriber_id", descending=[True, False]
    )
    return treated.select(
        pl.int_range(1, treated.height + 1, dtype=pl.Int64).alias("rank"),
        "subscriber_id",
        *named("measure_code", "measure", taxonomy.measures),
        pl.col("expected_value_yuan").round(2),
        pl.col("cost_yuan").round(2),
        pl.col("churn_probability").round(4),
        *named("value_tier", "value_tier", taxonomy.value_tiers),
        *named("stage", "stage", taxonomy.stages),
        *(
            expression
            for i in range(1, REASONS + 1)
            for expression in named(f"reason_{i}_cause", f"reason_{i}", taxonomy.causes)
        ),
    )


def write_call_sheet(sheet: pl.DataFrame, csv_path: Path, xlsx_path: Path) -> None:
    """Write the call sheet as CSV and XLSX (the caller stages both with the plan they come
    from, ``clm.data.io.write_together``)."""
    write_sheet(sheet, csv_path, xlsx_path, "call sheet 外呼名单")
