"""The features and split stages end to end on a tiny fixture in a temp dir."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date

import polars as pl
import pytest
from tests.random_history import random_raw_tables

from clm.data.validate import FAILED_CHECKS
from clm.domain.stages import STAGES
from clm.features.schema import feature_table_schema
from clm.features.stage import run_features
from clm.split import run_split


def test_features_then_split(params, tmp_path):
    validated = tmp_path / "validated"
    validated.mkdir()
    raw = random_raw_tables(200, 12, seed=3)
    for name, frame in raw.items():
        frame.write_parquet(validated / f"{name}.parquet")
    truth = raw["usage_monthly"].select(
        "subscriber_id", "month", stage=pl.lit("stable")
    )  # one truth stage for every month with usage
    truth_path = tmp_path / "stages_monthly.parquet"
    truth.write_parquet(truth_path)
    features_path = tmp_path / "features" / "features.parquet"

    few_rows = replace(params.features, chunk_panel_rows=300)  # several chunks
    rows = run_features(few_rows, params.labels, validated, truth_path, features_path)

    table = pl.read_parquet(features_path)
    feature_table_schema().validate(table)
    assert rows == table.height > 0
    # the random history misses about 3 % of months: those subscribers are set aside, named
    quarantine = pl.read_parquet(tmp_path / "features" / "quarantine.parquet")
    assert quarantine.height > 0
    assert set(quarantine[FAILED_CHECKS].explode()) == {"month:history_gap"}
    assert not set(quarantine["subscriber_id"]) & set(table["subscriber_id"])
    months = sorted(table["snapshot_month"].unique())
    assert months[0] == date(2023, 7, 1) and months[-1] == date(2023, 12, 1)
    labelled = table.filter(pl.col("churn").is_not_null())["snapshot_month"].unique().sort()
    assert labelled.to_list() == [date(2023, 7, 1), date(2023, 8, 1), date(2023, 9, 1)]
    assert table["stage_true"].dtype == pl.Enum(STAGES)
    assert set(table["stage_true"].drop_nulls()) == {"stable"}

    report = run_split(params.split, features_path, tmp_path / "split", tmp_path / "split.json")

    assert report["test"]["months"] == ["2023-09-01"]
    assert report["valid"]["months"] == ["2023-08-01"]
    assert report["train"]["months"] == ["2023-07-01"]
    assert json.loads((tmp_path / "split.json").read_text()) == report
    test_part = pl.read_parquet(tmp_path / "split" / "test.parquet")
    assert test_part.height == report["test"]["rows"]
    assert set(test_part["snapshot_month"]) == {date(2023, 9, 1)}


def test_features_without_truth_leave_stage_true_null(params, tmp_path):
    validated = tmp_path / "validated"
    validated.mkdir()
    for name, frame in random_raw_tables(50, 8, seed=4).items():
        frame.write_parquet(validated / f"{name}.parquet")
    out = tmp_path / "features.parquet"
    run_features(params.features, params.labels, validated, tmp_path / "absent.parquet", out)
    assert pl.read_parquet(out)["stage_true"].null_count() == pl.read_parquet(out).height


def test_features_that_fail_midway_leave_the_last_table_and_its_lists(
    params, tmp_path, monkeypatch
):
    validated = tmp_path / "validated"
    validated.mkdir()
    for name, frame in random_raw_tables(60, 8, seed=5).items():
        frame.write_parquet(validated / f"{name}.parquet")
    out = tmp_path / "features" / "features.parquet"
    run_features(params.features, params.labels, validated, tmp_path / "absent.parquet", out)
    before = {path: path.read_bytes() for path in out.parent.iterdir()}

    # new validated tables, whose feature table fails to be written
    for name, frame in random_raw_tables(60, 8, seed=6).items():
        frame.write_parquet(validated / f"{name}.parquet")

    def fail(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("clm.features.stage.write_feature_table", fail)
    with pytest.raises(OSError, match="disk full"):
        run_features(params.features, params.labels, validated, tmp_path / "absent.parquet", out)

    # never the new quarantine list beside the old table
    assert {path: path.read_bytes() for path in out.parent.iterdir()} == before
