"""The scoring run's summary on the terminal: counts that add up and every failed check named."""

from __future__ import annotations

from datetime import date

import polars as pl
from rich.console import Console

from clm.data.validate import FAILED_CHECKS
from clm.scoring.batches import ScoreSummary
from clm.scoring.inputs import failed_check_counts
from clm.scoring.tables import mix_table, run_table


def rendered(table) -> str:
    console = Console(width=120, record=True)
    console.print(table)
    return console.export_text()


def test_failed_check_counts_count_each_check_a_row_failed():
    quarantined = pl.DataFrame(
        {FAILED_CHECKS: [["arpu_non_negative", "month_in_history"], ["arpu_non_negative"]]}
    )
    assert failed_check_counts(quarantined) == {"arpu_non_negative": 2, "month_in_history": 1}


def test_run_table_shows_rows_in_scored_and_quarantined_by_check():
    summary = ScoreSummary(
        scoring_month=date(2024, 12, 1),
        months_read=7,
        rows_in=7_000,
        rows_quarantined=14,
        failed_checks={"arpu_non_negative": 14},
        subscribers_scored=998,
        mix={},
    )
    text = rendered(run_table(summary, "scores.parquet"))
    for expected in ("2024-12-01", "7,000", "998", "14 (0.20%)", "failed arpu_non_negative"):
        assert expected in text
    assert "scores.quarantine.parquet" in text
    assert "steps off exact" not in text
    on_spark = rendered(run_table(summary, "s3a://operator/scores", decile_rows_off=3))
    assert "3 (0.301%)" in on_spark
    assert "s3a://operator/scores.quarantine.parquet" in on_spark


def test_mix_table_shows_each_group_with_its_share():
    mix = pl.DataFrame(
        {"stage": ["loyal", "at_risk"], "subscribers": [75, 25]},
    ).with_columns(mean_churn_probability=pl.Series([0.1, 0.6]))
    text = rendered(mix_table("stage", mix))
    assert "by stage" in text and "75.0%" in text and "25.0%" in text and "0.600" in text
