"""Score a month from files of any size: subscriber batches, bounded memory, quarantine.

Batches are cut by subscriber id, so each holds every month of its subscribers. Three passes:

1. each batch is read and checked (bad subscribers' rows go to quarantine, as do those missing
   a month of their feature window unless ``features.history_gaps`` is ``impute``), its
   subscribers' base features are built, and it gives its share of the month's statistics,
   which are then computed once over the whole base (``MonthStats``); the base features are
   spilled to an uncompressed Arrow file in the staging folder, so the input is read, joined,
   checked and turned into features once, not once per pass;
2. each batch's base features are read back, scored with those statistics and appended to a
   side file;
3. risk deciles are ranked over the whole month and the side file is streamed to the output.

Memory is bounded by ``batch_rows`` input rows plus a few columns per subscriber; the scratch
files take about 400 bytes of disk per scored subscriber until the run ends.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import mlflow
import polars as pl
import pyarrow.parquet as pq
from rich.progress import Progress

from clm.data.io import (
    TableError,
    collect_checked,
    parquet_appender,
    require_parquet_file,
    schema_checked,
    write_together,
)
from clm.domain.budget import BudgetRules
from clm.months import require_first_of_month
from clm.scoring.inputs import (
    SCORING_INPUT,
    TABLE,
    check_columns,
    check_history,
    failed_check_counts,
    failed_checks_summary,
    split_scorable,
)
from clm.scoring.inputs import scoring_input as join_raw_tables
from clm.scoring.month import MonthStats, stats_rows
from clm.scoring.rules import risk_deciles
from clm.scoring.score import Scorer

logger = logging.getLogger(__name__)

RAW_FILES = ("subscribers.parquet", "usage_monthly.parquet")


@dataclass(frozen=True)
class ScoringConfig:
    """The ``scoring`` section of params.yaml."""

    batch_rows: int  # input rows (subscriber-months) per batch
    max_quarantined_share: float  # a larger share of bad input rows fails the run
    spark_decile_error: float  # relative rank error of the Spark scorer's risk decile cuts
    budget: BudgetRules


@dataclass(frozen=True)
class ScoreSummary:
    """What a scoring run did, for the console and the logs."""

    scoring_month: date
    months_read: int  # the scoring month and the history months of the input
    rows_in: int
    rows_quarantined: int
    failed_checks: dict[str, int]  # check -> quarantined rows failing it (a row may fail many)
    subscribers_scored: int
    mix: dict[str, pl.DataFrame]  # risk_decile, stage, value_tier -> counts and mean risk


class QuarantineShareError(RuntimeError):
    """Too much of the input failed its checks to trust the rest."""


def load_scorer_from(model: str) -> Scorer:
    """The ``Scorer`` inside a scorer artifact: a ``models:/`` URI, a run URI or a folder."""
    return mlflow.pyfunc.load_model(model).unwrap_python_model().scorer


def scan_input(path: Path, temp_dir: Path) -> pl.LazyFrame:
    """Scoring input from a parquet or CSV file, or a folder of them.

    A folder holding ``subscribers.parquet`` and ``usage_monthly.parquet`` (the raw layout,
    e.g. ``data/validated``) is joined into scoring input. CSV is converted to parquet in
    ``temp_dir`` once, so that batches do not parse it again.
    """
    if path.is_dir() and all((path / name).is_file() for name in RAW_FILES):
        for name in RAW_FILES:
            require_parquet_file(path / name, TABLE)
        subscribers, usage = (pl.scan_parquet(path / name) for name in RAW_FILES)
        return join_raw_tables(subscribers, usage)
    files = sorted(path.glob("*.parquet")) + sorted(path.glob("*.csv")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        raise TableError("scoring_input", "file_exists", f"no parquet or CSV files at {path}")
    parquet = [f for f in files if f.suffix == ".parquet"]
    for file in parquet:
        require_parquet_file(file, TABLE)
    for index, csv in enumerate(f for f in files if f.suffix == ".csv"):
        converted = temp_dir / f"input-{index}.parquet"
        try:
            pl.scan_csv(csv, schema=SCORING_INPUT).sink_parquet(converted)
        except pl.exceptions.PolarsError as error:
            raise TableError("scoring_input", "csv_parse", f"{csv}: {error}") from error
        parquet.append(converted)
    if len(parquet) != len(files):
        raise TableError("scoring_input", "file_format", f"{path}: only .parquet and .csv")
    return pl.scan_parquet(parquet)


def score_input(
    source: pl.LazyFrame,
    scorer: Scorer,
    output: Path,
    config: ScoringConfig,
    scoring_month: date | None = None,
    progress: Progress | None = None,
) -> ScoreSummary:
    """Score every subscriber with a row in the scoring month; write ``output`` and quarantine.

    The scores and the quarantine are written together (``clm.data.io.write_together``): a run
    that fails or is killed leaves the previous pair as it was.

    Args:
        source: Scoring input rows (``clm.scoring.inputs.SCORING_INPUT``).
        scorer: The loaded artifact's scorer.
        output: Parquet file of scores; ``<output stem>.quarantine.parquet`` gets bad rows.
        config: The ``scoring`` params section.
        scoring_month: The month T; default the latest month of the input.
        progress: A started rich progress display to report each step on (reading the input,
            both passes over every batch, ranking); none shown without it.

    Raises:
        TableError: the input is empty, a column is missing, mistyped or unreadable, or a CSV
            cannot be parsed.
        HistoryError: the input lacks a month the features read.
        InputError: ``scoring_month`` is not the first of a month.
        QuarantineShareError: more than ``max_quarantined_share`` of the rows failed; nothing
            is written.
    """
    progress = progress or Progress(disable=True)
    step = progress.add_task("reading the input", total=None)
    check_columns(schema_checked(source, TABLE))
    months = set(collect_checked(source.select(pl.col("month").unique()), TABLE)["month"])
    if not months:
        raise TableError(TABLE, "non_empty", "the input has no rows")
    month = require_first_of_month(scoring_month) if scoring_month else max(months)
    check_history(months, month)
    ids = source.select(pl.col("subscriber_id").unique().sort()).collect()["subscriber_id"]
    per_batch = max(1, config.batch_rows // len(months))
    bounds = [
        (ids[i], ids[min(i + per_batch, len(ids)) - 1]) for i in range(0, len(ids), per_batch)
    ]
    logger.info("scoring %s: %d subscribers in %d batches", month, len(ids), len(bounds))
    # one step per batch and pass, one to rank and write, one for the risk mix
    progress.update(step, total=2 * len(bounds) + 2, description=f"{month}: checking batches")
    quarantine_path = quarantine_path_for(output)
    with write_together(output, quarantine_path) as (staged_output, staged_quarantine):

        def batches() -> Iterator[pl.DataFrame]:
            for low, high in bounds:
                batch = source.filter(pl.col("subscriber_id").is_between(low, high))
                # one order for every engine: a float sum per subscriber depends on it
                yield collect_checked(batch, TABLE).sort("subscriber_id", "month")
                progress.advance(step)

        rows_in, quarantined, stats_parts, spilled = 0, [], [], []
        for index, frame in enumerate(batches()):
            rows_in += frame.height
            accepted, bad = split_scorable(
                frame, month, scorer.features.history_gaps, scorer.trained_levels
            )
            quarantined.append(bad)
            base = scorer.base(accepted, month, min(months))
            stats_parts.append(stats_rows(base))
            if base.height:  # subscribers scored at T: kept for pass 2, not read and built again
                spilled.append(staged_output.with_name(f"{output.stem}.base-{index}.arrow"))
                base.write_ipc(spilled[-1], compression="uncompressed")
        quarantine = pl.concat(quarantined)
        if quarantine.height > config.max_quarantined_share * rows_in:
            raise QuarantineShareError(
                f"{quarantine.height} of {rows_in} input rows failed their checks, more than "
                f"scoring.max_quarantined_share={config.max_quarantined_share:.2%}; "
                f"{failed_checks_summary(quarantine)}; {output} and {quarantine_path} left as "
                "they were"
            )
        quarantine.write_parquet(staged_quarantine)
        stats = MonthStats.from_rows(pl.concat(stats_parts), min(months), scorer.features)
        progress.update(step, description=f"{month}: scoring batches")
        side = staged_output.with_name(f"{output.stem}.unranked.parquet")
        with parquet_appender(side) as append:
            for path in spilled:
                append(scorer.score_base(pl.read_ipc(path), stats))
                path.unlink()
                progress.advance(step)
        progress.update(step, advance=len(bounds) - len(spilled))
        progress.update(step, description=f"{month}: ranking risk deciles")
        subscribers = _write_ranked(side, staged_output)
        progress.update(step, advance=1, description=f"{month}: summarising")
        mix = _risk_mix(pl.scan_parquet(staged_output))
        progress.advance(step)
    logger.info("scored %d subscribers for %s -> %s", subscribers, month, output)
    return ScoreSummary(
        month, len(months), rows_in, quarantine.height, failed_check_counts(quarantine),
        subscribers, mix,
    )  # fmt: skip


def quarantine_path_for(output: Path) -> Path:
    """Where the rows quarantined while scoring into ``output`` go."""
    return Path(quarantine_location(str(output)))


def quarantine_location(output: str) -> str:
    """``<output stem>.quarantine.parquet`` beside ``output``: a local path or any URI Spark
    writes to (``s3a://``..., which ``Path`` would fold)."""
    stem = posixpath.splitext(posixpath.basename(output.rstrip("/")))[0]
    return posixpath.join(posixpath.dirname(output.rstrip("/")), f"{stem}.quarantine.parquet")


def _write_ranked(side: Path, output: Path) -> int:
    """Stream the side file to ``output`` with risk deciles ranked over the whole month."""
    ranking = pl.read_parquet(side, columns=["subscriber_id", "churn_probability"])
    deciles = risk_deciles(ranking)
    offset = 0
    with parquet_appender(output) as append:
        for batch in pq.ParquetFile(side).iter_batches():
            frame = pl.from_arrow(batch)
            append(frame.with_columns(deciles.slice(offset, frame.height)))
            offset += frame.height
    return ranking.height


def _risk_mix(scores: pl.LazyFrame) -> dict[str, pl.DataFrame]:
    """Subscribers and mean churn probability per decile, stage and value tier."""
    return {
        column: scores.group_by(column)
        .agg(subscribers=pl.len(), mean_churn_probability=pl.col("churn_probability").mean())
        .sort(column)
        .collect()
        for column in ("risk_decile", "stage", "value_tier")
    }
