"""Build the feature table in bounded memory: subscribers in chunks, rows streamed to parquet.

Features are per subscriber, except the comparisons with the network, which need the whole
population at T. So the build makes two passes: the first writes each chunk's base features
and labels to a side file, the second computes the network statistics from that file and
streams it again, adding the network features and validating every batch. Memory is bounded
by ``chunk_panel_rows``, whatever the number of subscribers or snapshot months.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from clm.features.build import (
    LOOKBACK_MONTHS,
    FeatureConfig,
    add_network_features,
    build_base_features,
    default_snapshot_months,
    network_stats,
    panel_start,
    spend_before,
)
from clm.features.schema import feature_table_schema
from clm.labels import LabelConfig, add_labels
from clm.months import to_index

logger = logging.getLogger(__name__)


def write_feature_table(
    subscribers: pl.LazyFrame,
    usage: pl.LazyFrame,
    churn_events: pl.LazyFrame,
    truth: pl.LazyFrame | None,
    out_path: Path,
    features: FeatureConfig,
    labels: LabelConfig,
    snapshot_months: Sequence[date] | None = None,
) -> int:
    """Write features and labels for every snapshot month to ``out_path``; return the row count.

    Args:
        subscribers: Raw ``subscribers`` (lazy, so each chunk reads only its rows).
        usage: Raw ``usage_monthly``.
        churn_events: Raw ``churn_events``.
        truth: Synthetic ``stages_monthly`` truth, or None for real data.
        out_path: Parquet file to write; replaced only once complete.
        features: The ``features`` params section.
        labels: The ``labels`` params section.
        snapshot_months: Months to build; by default every month from the first month of data
            plus ``first_snapshot_offset`` through the last month.
    """
    first_month, last_month = (
        usage.select(pl.col("month").min().alias("first"), pl.col("month").max().alias("last"))
        .collect()
        .row(0)
    )
    months = list(snapshot_months or ()) or default_snapshot_months(
        first_month, last_month, features.first_snapshot_offset
    )
    if not months:
        raise ValueError(f"no snapshot months between {first_month} and {last_month}")
    span = to_index(max(months)) - to_index(min(months)) + 1 + LOOKBACK_MONTHS
    per_chunk = max(1, features.chunk_panel_rows // span)
    logger.info(
        "features for %d snapshot months %s..%s, %d subscribers per chunk",
        len(months),
        min(months),
        max(months),
        per_chunk,
    )
    base_path = out_path.with_name(f".{out_path.name}.base")
    done_path = out_path.with_name(f".{out_path.name}.tmp")
    out_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        chunks = _base_chunks(
            subscribers,
            usage,
            churn_events,
            truth,
            months,
            first_month,
            last_month,
            per_chunk,
            features,
            labels,
        )
        _write_frames(chunks, base_path)
        stats = network_stats(pl.scan_parquet(base_path), features)
        rows = _write_frames(_final_batches(base_path, stats, features), done_path)
        os.replace(done_path, out_path)
    finally:
        base_path.unlink(missing_ok=True)
        done_path.unlink(missing_ok=True)
    return rows


def _base_chunks(
    subscribers: pl.LazyFrame,
    usage: pl.LazyFrame,
    churn_events: pl.LazyFrame,
    truth: pl.LazyFrame | None,
    months: list[date],
    first_month: date,
    last_month: date,
    per_chunk: int,
    features: FeatureConfig,
    labels: LabelConfig,
) -> Iterator[pl.DataFrame]:
    """Base features and labels, one chunk of subscriber ids at a time.

    Spend before the feature window is summed once for everyone; each chunk then reads only
    its subscribers' months inside the window.
    """
    window_start = panel_start(months, first_month)
    prior_spend = spend_before(usage, window_start).collect()
    window = usage.filter(pl.col("month") >= window_start)
    ids = subscribers.select(pl.col("subscriber_id").unique().sort()).collect().to_series()
    for start in range(0, len(ids), per_chunk):
        low, high = ids[start], ids[min(start + per_chunk, len(ids)) - 1]
        in_chunk = pl.col("subscriber_id").is_between(low, high)
        chunk_churn = churn_events.filter(in_chunk)
        chunk_truth = (
            None if truth is None else truth.filter(in_chunk, pl.col("month").is_in(months))
        )
        base = build_base_features(
            subscribers.filter(in_chunk),
            window.filter(in_chunk),
            prior_spend.lazy().filter(in_chunk),
            chunk_churn,
            months,
            first_month,
            features,
        )
        logger.debug("chunk %d..%d: %d rows", low, high, base.height)
        yield add_labels(base, chunk_churn, chunk_truth, last_month, labels)


def _final_batches(
    base_path: Path, stats: pl.DataFrame, features: FeatureConfig
) -> Iterator[pl.DataFrame]:
    """Stream the base file back, adding network features and validating each batch."""
    schema = feature_table_schema()
    for batch in pq.ParquetFile(base_path).iter_batches(batch_size=features.chunk_panel_rows):
        frame = add_network_features(pl.from_arrow(batch), stats, features)
        yield schema.validate(frame)


def _write_frames(frames: Iterator[pl.DataFrame], path: Path) -> int:
    """Append frames to one parquet file as they come; return the number of rows."""
    rows = 0
    writer: pq.ParquetWriter | None = None
    try:
        for frame in frames:
            table = frame.to_arrow()
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema)
            writer.write_table(table)
            rows += frame.height
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise ValueError("no subscribers to build features for")
    return rows
