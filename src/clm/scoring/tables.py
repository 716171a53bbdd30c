"""A scoring run on the terminal: what went in, what was scored or quarantined and why, and
the risk mix, as rich tables instead of raw frames."""

from __future__ import annotations

import polars as pl
from rich.table import Table

from clm.scoring.batches import ScoreSummary, quarantine_location


def run_table(summary: ScoreSummary, output: str, decile_rows_off: int | None = None) -> Table:
    """Rows in, subscribers scored, rows quarantined in total and per failed check; with
    ``decile_rows_off`` (Spark's approximate deciles), how far they are from the exact ones."""
    table = Table(title=f"scoring {summary.scoring_month}", show_header=False)
    table.add_column("", style="bold")
    table.add_column("", justify="right")
    table.add_row("months read", f"{summary.months_read}")
    table.add_row("input rows", f"{summary.rows_in:,}")
    table.add_row("subscribers scored", f"{summary.subscribers_scored:,}")
    quarantined = f"{summary.rows_quarantined:,}"
    if summary.rows_in:
        quarantined += f" ({summary.rows_quarantined / summary.rows_in:.2%})"
    table.add_row("rows quarantined", quarantined)
    for check, rows in summary.failed_checks.items():
        table.add_row(f"  failed {check}", f"{rows:,}")
    if decile_rows_off is not None:
        share = decile_rows_off / max(summary.subscribers_scored, 1)
        table.add_row("risk decile steps off exact", f"{decile_rows_off:,} ({share:.3%})")
    table.add_row("scores", output)
    table.add_row("quarantine", quarantine_location(output))
    return table


def mix_table(column: str, mix: pl.DataFrame) -> Table:
    """Subscribers, their share and mean churn probability per value of ``column``."""
    table = Table(title=f"by {column.replace('_', ' ')}")
    table.add_column(column)
    table.add_column("subscribers", justify="right")
    table.add_column("share", justify="right")
    table.add_column("mean churn probability", justify="right")
    total = mix["subscribers"].sum() or 1
    for value, subscribers, risk in mix.select(
        column, "subscribers", "mean_churn_probability"
    ).iter_rows():
        table.add_row(str(value), f"{subscribers:,}", f"{subscribers / total:.1%}", f"{risk:.3f}")
    return table
