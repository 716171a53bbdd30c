"""Stage ``outcome`` on an operator's own tables: the months after the plan, from its export.

The synthetic operator rolls its months forward (``clm.campaign.simulate``); a real operator
has them only once they are lived and exported. Until then (``data.operator.outcome_folder``
holds neither table) the stage writes empty outcome tables, and ``measure`` reports the
campaign as waiting for them; then it imports the later export's ``usage_monthly`` and
``churn_events`` with the same column and value mappings as the training tables, checks their
rows with the raw schemas (failing rows go to ``quarantine/`` beside them, with their checks)
and keeps the months after the plan's month. The folder is a DVC dep of the stage, so an
export written into it reruns ``outcome`` and ``measure``. Nobody knows what an operator's
customers would have done untreated, so the truth folder only says so.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import polars as pl

from clm.campaign.simulate import NO_TRUTH, plan_assignment
from clm.data.contract import RAW_TABLES
from clm.data.io import TableError, write_parquet_atomic, write_text_atomic
from clm.data.operator import (
    OUTCOME_TABLES,
    OperatorTables,
    holds_outcome,
    import_outcome_tables,
)
from clm.data.validate import FAILED_CHECKS, validate_table

log = logging.getLogger(__name__)

NO_TRUTH_NOTE = "no_truth.txt"


def write_operator_outcome(
    tables: OperatorTables, plan_path: Path, outcome_dir: Path, truth_dir: Path
) -> dict[str, int]:
    """Write the outcome tables of the plan in ``plan_path``; return the rows kept per table."""
    month = _plan_month(plan_path)
    if holds_outcome(tables):
        kept = _import_after(tables, month, outcome_dir)
    else:
        log.info(
            "outcome: data.operator.outcome_folder %s holds no %s yet; the campaign of %s "
            "waits for the months after it",
            tables.outcome_folder,
            " or ".join(OUTCOME_TABLES),
            month,
        )
        kept = {name: pl.DataFrame(schema=RAW_TABLES[name]) for name in OUTCOME_TABLES}
    for name, frame in kept.items():
        write_parquet_atomic(frame, outcome_dir / f"{name}.parquet")
    write_text_atomic(f"{NO_TRUTH}\n", truth_dir / NO_TRUTH_NOTE)
    return {name: frame.height for name, frame in kept.items()}


def _plan_month(plan_path: Path) -> date:
    month, _ = plan_assignment(pl.read_parquet(plan_path), str(plan_path))
    return month.astype("datetime64[D]").item()


def _import_after(
    tables: OperatorTables, month: date, outcome_dir: Path
) -> dict[str, pl.DataFrame]:
    """The outcome export's rows after ``month`` that pass the raw schemas' row checks."""
    kept = {}
    for name, frame in import_outcome_tables(tables).items():
        accepted, quarantined = _checked(frame, name)
        write_parquet_atomic(quarantined, outcome_dir / "quarantine" / f"{name}.parquet")
        kept[name] = accepted.filter(pl.col(OUTCOME_TABLES[name]) > month)
        log.info(
            "outcome %s: %d rows in, %d quarantined, %d before or in the plan month %s left "
            "out, %d kept",
            name,
            frame.height,
            quarantined.height,
            accepted.height - kept[name].height,
            month,
            kept[name].height,
        )
    if kept["usage_monthly"].is_empty():
        raise TableError(
            "usage_monthly",
            "months_after_plan",
            f"data.operator.outcome_folder {tables.outcome_folder} holds no month after the "
            f"plan month {month}",
        )
    return kept


def _checked(frame: pl.DataFrame, table: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The rows passing the raw schema's row checks, and the others with their checks; a table
    without rows (no churner in the outcome months) passes as it is."""
    if frame.is_empty():
        return frame, frame.with_columns(pl.lit(None, pl.List(pl.String)).alias(FAILED_CHECKS))
    checked = validate_table(frame, table)
    return checked.accepted, checked.quarantined
