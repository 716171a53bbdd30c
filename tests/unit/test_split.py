"""Out-of-time split: months chosen by params, the guard, and no test month in training."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import polars as pl
import pytest
from tests.handmade import months
from tests.params import repo_params

from clm.split import (
    AUTO as AUTO_MONTH,
)
from clm.split import (
    SplitError,
    SplitMonths,
    check_out_of_time,
    choose_split_months,
    labelled_snapshot_months,
    run_split,
    select_part,
    summarise_part,
)

LABELLED = months(date(2023, 7, 1), 10)  # 2023-07 .. 2024-04
AUTO = replace(repo_params().split, test_month=AUTO_MONTH, valid_month=AUTO_MONTH)


def test_auto_takes_the_latest_month_for_test_and_the_one_before_for_valid():
    got = choose_split_months(LABELLED, replace(AUTO, train_months=3))
    assert got.test == date(2024, 4, 1)
    assert got.valid == date(2024, 3, 1)
    assert got.train == (date(2023, 12, 1), date(2024, 1, 1), date(2024, 2, 1))


def test_explicit_months_and_a_short_history():
    config = replace(AUTO, test_month="2024-01-01", valid_month="2023-11-01", train_months=12)
    got = choose_split_months(LABELLED, config)
    assert (got.valid, got.test) == (date(2023, 11, 1), date(2024, 1, 1))
    assert got.train == tuple(months(date(2023, 7, 1), 4))


@pytest.mark.parametrize(
    "config",
    [
        replace(AUTO, test_month="2024-06-01"),  # not labelled
        replace(AUTO, test_month="2023-07-01"),  # nothing before valid
        replace(AUTO, test_month="2024-01-01", valid_month="2024-02-01"),  # valid after test
    ],
)
def test_bad_choices_raise(config):
    with pytest.raises(SplitError):
        choose_split_months(LABELLED, config)


def test_guard_rejects_a_train_month_at_or_after_valid_or_test():
    with pytest.raises(SplitError, match="train months"):
        check_out_of_time(
            SplitMonths(train=(date(2024, 4, 1),), valid=date(2024, 3, 1), test=date(2024, 4, 1))
        )


def test_parts_never_share_a_month_and_test_is_not_in_train():
    features = pl.DataFrame(
        {
            "subscriber_id": list(range(12)),
            "snapshot_month": months(date(2023, 7, 1), 12),
            "churn": [0, 1] * 5 + [None, None],
        },
        schema={"subscriber_id": pl.Int64, "snapshot_month": pl.Date, "churn": pl.Int8},
    ).lazy()
    chosen = choose_split_months(labelled_snapshot_months(features), replace(AUTO, train_months=4))
    assert chosen.test == date(2024, 4, 1)  # the last labelled month, not the last month
    parts = {p: select_part(features, chosen, p).collect() for p in ("train", "valid", "test")}
    assert set(parts["train"]["snapshot_month"]).isdisjoint(parts["test"]["snapshot_month"])
    assert set(parts["train"]["snapshot_month"]).isdisjoint(parts["valid"]["snapshot_month"])
    assert max(parts["train"]["snapshot_month"]) < chosen.valid
    assert summarise_part(parts["train"]) == {"rows": 4, "churn_rate": 0.5}


def test_a_split_that_fails_midway_leaves_the_last_split_whole(tmp_path, monkeypatch):
    features = pl.DataFrame(
        {
            "subscriber_id": list(range(12)),
            "snapshot_month": months(date(2023, 7, 1), 12),
            "churn": [0, 1] * 5 + [None, None],
        },
        schema={"subscriber_id": pl.Int64, "snapshot_month": pl.Date, "churn": pl.Int8},
    )
    features.write_parquet(tmp_path / "features.parquet")
    split = {"features_path": tmp_path / "features.parquet", "out_dir": tmp_path / "split"}
    split["report_path"] = tmp_path / "split.json"
    run_split(replace(AUTO, train_months=4), **split)
    files = [*(tmp_path / "split").iterdir(), tmp_path / "split.json"]
    before = {path: path.read_bytes() for path in files}

    calls = []

    def summarise_then_fail(frame):  # the second part of a new split fails to summarise
        calls.append(frame)
        if len(calls) == 2:
            raise OSError("disk full")
        return summarise_part(frame)

    monkeypatch.setattr("clm.split.summarise_part", summarise_then_fail)
    with pytest.raises(OSError, match="disk full"):
        run_split(replace(AUTO, train_months=2), **split)

    assert {path: path.read_bytes() for path in files} == before
    assert sorted(path.name for path in (tmp_path / "split").iterdir()) == [
        "test.parquet", "train.parquet", "valid.parquet",
    ]  # fmt: skip
