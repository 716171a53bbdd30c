"""Feature builder: no look-ahead, hand-checked values, edge cases, metadata and schema."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from tests import handmade
from tests.params import repo_params
from tests.random_history import random_raw_tables

from clm.features.build import KEYS, build_features
from clm.features.chunked import write_feature_table
from clm.features.metadata import load_feature_metadata
from clm.features.schema import feature_table_schema
from clm.labels import LABEL_COLUMNS

JAN = date(2023, 1, 1)
JUL = date(2023, 7, 1)
PARAMS = repo_params()
CONFIG = PARAMS.features


def build(subs, usage, churn=None, snapshots=(JUL,), config=CONFIG) -> pl.DataFrame:
    churn = handmade.churn_events() if churn is None else churn
    return build_features(
        subs.lazy(), usage.lazy(), churn.lazy(), list(snapshots), JAN, config
    ).sort(KEYS)


def row(frame: pl.DataFrame, subscriber_id: int, month: date = JUL) -> dict:
    rows = frame.filter(pl.col("subscriber_id") == subscriber_id, pl.col("snapshot_month") == month)
    assert rows.height == 1
    return rows.row(0, named=True)


@pytest.fixture(scope="module")
def raw() -> dict[str, pl.DataFrame]:
    return random_raw_tables(300, 14, seed=7, first_month=JAN)


@pytest.mark.parametrize("snapshot", [date(2023, 7, 1), date(2023, 10, 1), date(2024, 2, 1)])
def test_features_at_t_ignore_every_month_after_t(raw, snapshot):
    full = build(raw["subscribers"], raw["usage_monthly"], raw["churn_events"], [snapshot])
    cut = build(
        raw["subscribers"],
        raw["usage_monthly"].filter(pl.col("month") <= snapshot),
        raw["churn_events"].filter(pl.col("churn_month") <= snapshot),
        [snapshot],
    )
    assert full.height > 150
    assert_frame_equal(full, cut)


def test_all_snapshot_months_at_once_equal_one_at_a_time(raw):
    snapshots = [date(2023, 7, 1), date(2023, 8, 1), date(2024, 2, 1)]
    together = build(raw["subscribers"], raw["usage_monthly"], raw["churn_events"], snapshots)
    for month in snapshots:
        alone = build(raw["subscribers"], raw["usage_monthly"], raw["churn_events"], [month])
        assert_frame_equal(together.filter(pl.col("snapshot_month") == month), alone)


def test_chunked_table_equals_in_memory_build(raw, tmp_path):
    snapshots = [date(2023, 7, 1), date(2023, 12, 1)]
    config = replace(CONFIG, chunk_panel_rows=400)  # dozens of chunks
    out = tmp_path / "features.parquet"
    rows = write_feature_table(
        raw["subscribers"].lazy(),
        raw["usage_monthly"].lazy(),
        raw["churn_events"].lazy(),
        None,
        out,
        config,
        PARAMS.labels,
        snapshots,
    )
    chunked = pl.read_parquet(out).sort(KEYS)
    expected = build(raw["subscribers"], raw["usage_monthly"], raw["churn_events"], snapshots)
    assert rows == chunked.height == expected.height
    assert_frame_equal(chunked.drop(LABEL_COLUMNS), expected)


def test_deltas_contract_and_levels_by_hand():
    subs = handmade.subscribers(
        {
            "subscriber_id": 1,
            "contract_start_month": JAN,
            "contract_end_month": date(2023, 9, 1),
            "contract_total_amount": 900.0,
        }
    )
    usage = handmade.usage(
        1,
        handmade.months(JAN, 7),
        arpu=[10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 30.0],
        contract_consumed_amount=[100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0],
        complaints=[0, 0, 0, 1, 0, 0, 3],
        call_forward_count=[0, 0, 0, 0, 0, 2, 4],
        call_forward_offnet_count=[0, 0, 0, 0, 0, 1, 3],
    )
    got = row(build(subs, usage), 1)
    assert got["tenure_months"] == 18  # joined 2022-01
    assert got["has_contract"] is True
    assert got["contract_remaining_months"] == 2  # Jul -> Sep
    assert got["contract_remaining_amount_share"] == pytest.approx(1 - 700 / 900)
    assert got["arpu_delta_1m_share"] == pytest.approx(30 / 60 - 1)
    assert got["arpu_delta_3m_share"] == pytest.approx(30 / 50 - 1)
    assert got["arpu_delta_6m_share"] == pytest.approx(30 / 35 - 1)
    assert got["arpu_mean_3m"] == pytest.approx((50 + 60 + 30) / 3)
    assert got["arpu_slope_6m"] == pytest.approx(75.0 / 17.5)  # least squares, Feb..Jul
    assert got["cumulative_spend"] == pytest.approx(240.0)
    assert got["arpu_rise_3m_share"] == 0.0
    assert got["complaints_3m_sum"] == 3
    assert got["complaint_surge"] is True  # 3 >= 2 and >= 2 x mean(1, 0, 0)
    assert got["offnet_forward_3m_sum"] == 4
    assert got["offnet_forward_share"] == pytest.approx(0.75)
    assert got["mou_delta_3m_share"] == 0.0


def test_a_missing_month_counts_as_zero_usage_and_keeps_its_balances():
    subs = handmade.subscribers({"subscriber_id": 1})
    calendar = handmade.months(JAN, 7)
    usage = handmade.usage(
        1,
        calendar,
        arpu=[60.0] * 7,
        arrears=[0.0, 0.0, 0.0, 0.0, 0.0, 20.0, 20.0],
    ).filter(pl.col("month") != date(2023, 5, 1))
    got = row(build(subs, usage), 1)
    assert got["arpu_delta_3m_share"] == pytest.approx(60 / 40 - 1)  # Apr 60, May 0, Jun 60
    assert got["arpu_delta_1m_share"] == 0.0  # Jun is there: calendar months, not rows
    assert got["arrears_months_3m"] == 2
    assert got["arrears_delta_1m"] == 0.0


def test_a_gap_at_t_carries_the_balance_forward():
    subs = handmade.subscribers({"subscriber_id": 1})
    usage = handmade.usage(1, handmade.months(JAN, 6), arrears=[0.0, 0, 0, 0, 0, 30.0])
    got = row(build(subs, usage), 1)
    assert got["arpu"] == 0.0
    assert got["arrears"] == 30.0
    assert got["arpu_delta_1m_share"] == -1.0


def test_a_subscriber_with_one_month_of_history():
    subs = handmade.subscribers({"subscriber_id": 1, "join_month": JUL})
    got = row(build(subs, handmade.usage(1, [JUL])), 1)
    assert got["tenure_months"] == 0
    assert got["arpu_delta_1m_share"] is None
    assert got["arpu_delta_3m_share"] is None
    assert got["arpu_slope_6m"] is None
    assert got["arpu_cv_6m"] is None
    assert got["complaints_3m_sum"] == 0
    assert got["cumulative_spend"] == 50.0


def test_zero_arpu_months_are_guarded():
    subs = handmade.subscribers({"subscriber_id": 1}, {"subscriber_id": 2})
    calendar = handmade.months(JAN, 7)
    usage = pl.concat(
        [
            handmade.usage(1, calendar, arpu=[0.0] * 7),
            handmade.usage(2, calendar, arpu=[0.0] * 6 + [12.0]),
        ]
    )
    frame = build(subs, usage)
    assert row(frame, 1)["arpu_delta_3m_share"] == 0.0
    assert row(frame, 1)["arpu_cv_6m"] == 0.0
    assert row(frame, 2)["arpu_delta_3m_share"] == CONFIG.delta_share_cap
    assert row(frame, 2)["arpu_rise_3m_share"] == CONFIG.delta_share_cap


def test_churn_in_the_snapshot_month_gives_no_row():
    subs = handmade.subscribers({"subscriber_id": 1}, {"subscriber_id": 2})
    usage = pl.concat(
        [handmade.usage(1, handmade.months(JAN, 6)), handmade.usage(2, handmade.months(JAN, 7))]
    )
    frame = build(subs, usage, handmade.churn_events((1, JUL), (2, date(2023, 8, 1))))
    assert frame["subscriber_id"].to_list() == [2]


def test_prepaid_without_contract_is_neutral():
    subs = handmade.subscribers({"subscriber_id": 1, "payment_type": "prepaid"})
    got = row(build(subs, handmade.usage(1, handmade.months(JAN, 7))), 1)
    assert got["has_contract"] is False
    assert got["contract_remaining_months"] is None
    assert got["contract_remaining_amount_share"] is None


def test_an_expired_contract_is_no_contract():
    subs = handmade.subscribers(
        {
            "subscriber_id": 1,
            "contract_start_month": date(2022, 1, 1),
            "contract_end_month": date(2023, 6, 1),
            "contract_total_amount": 600.0,
        }
    )
    got = row(build(subs, handmade.usage(1, handmade.months(JAN, 7))), 1)
    assert got["has_contract"] is False
    assert got["contract_remaining_months"] is None


def test_value_tiers_follow_the_thresholds():
    # Postpaid ARPU against the network mean of all 16; prepaid ranked on cumulative spend.
    arpus = {1: 10.0, 2: 20.0, 3: 30.0, 4: 140.0, 5: 400.0}
    prepaid = {10 + i: float(i) for i in range(10)}  # cumulative spend 0..9 x 7 months
    subs = handmade.subscribers(
        *({"subscriber_id": sid} for sid in arpus),
        *({"subscriber_id": sid, "payment_type": "prepaid"} for sid in prepaid),
        {"subscriber_id": 99, "is_group": True},
    )
    calendar = handmade.months(JAN, 7)
    usage = pl.concat(
        [handmade.usage(sid, calendar, arpu=[a] * 7) for sid, a in {**arpus, **prepaid}.items()]
        + [handmade.usage(99, calendar, arpu=[500.0] * 7)]
    )
    frame = build(subs, usage)
    mean = (sum(arpus.values()) + sum(prepaid.values()) + 500.0) / 16
    tiers = dict(zip(frame["subscriber_id"], frame["value_tier"].cast(pl.String), strict=True))
    for sid, arpu in arpus.items():
        ratio = arpu / mean
        expected = "high" if ratio > 3 else "mid" if ratio >= 1 else "low"
        assert tiers[sid] == expected, (sid, ratio)
    assert {tiers[sid] for sid in (1, 5)} == {"low", "high"}
    assert [tiers[10 + i] for i in range(10)] == ["low"] * 5 + ["mid"] * 3 + ["high"] * 2
    assert tiers[99] == "group"
    assert row(frame, 1)["tenure_network_ratio"] == pytest.approx(1.0)


def test_tier_thresholds_come_from_params():
    subs = handmade.subscribers({"subscriber_id": 1}, {"subscriber_id": 2})
    calendar = handmade.months(JAN, 7)
    usage = pl.concat(
        [handmade.usage(1, calendar, arpu=[10.0] * 7), handmade.usage(2, calendar, arpu=[30.0] * 7)]
    )
    tiers = replace(CONFIG.tiers, postpaid_high_ratio=1.4, postpaid_mid_ratio=0.4)
    strict = replace(CONFIG, tiers=tiers)
    tiers = build(subs, usage, config=strict)["value_tier"].cast(pl.String).to_list()
    assert tiers == ["mid", "high"]  # ratios 0.5 and 1.5 of the mean 20


def test_every_feature_column_has_metadata(raw):
    frame = build(raw["subscribers"], raw["usage_monthly"], raw["churn_events"])
    metadata = load_feature_metadata()
    assert set(frame.columns) - set(KEYS) == set(metadata)
    assert all(meta.description and meta.unit for meta in metadata.values())
    assert "churn_month" not in frame.columns


def test_schema_accepts_the_table_and_rejects_duplicate_keys(raw, tmp_path):
    out = tmp_path / "features.parquet"
    write_feature_table(
        raw["subscribers"].lazy(),
        raw["usage_monthly"].lazy(),
        raw["churn_events"].lazy(),
        None,
        out,
        CONFIG,
        PARAMS.labels,
        [JUL],
    )
    table = pl.read_parquet(out)
    schema = feature_table_schema()
    schema.validate(table)
    with pytest.raises(Exception, match=r"unique|duplicate"):
        schema.validate(pl.concat([table, table.head(1)]))
