"""The executors' Arrow functions on partitions without rows: Spark may hand a task an empty
partition (a bucket no subscriber hashed to), which must give no rows, not an error."""

from __future__ import annotations

from datetime import date

import polars as pl

from clm.scoring.spark_tasks import check_bucket, score_batches

MONTH, START = date(2024, 8, 1), date(2024, 1, 1)
BASE = {"subscriber_id": pl.Int64(), "group_id": pl.Int64()}


def test_an_empty_partition_is_checked_to_no_rows():
    assert list(check_bucket("scorer.zip", MONTH, START, BASE)(iter([]))) == []


def test_an_empty_partition_is_scored_to_no_rows():
    network = pl.DataFrame()
    assert list(score_batches("scorer.zip", MONTH, START, network, BASE)(iter([]))) == []
