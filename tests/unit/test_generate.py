"""The generator keeps the raw contract, its own truth apart, and its seed's promise."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from importlib import resources

import numpy as np
import polars as pl
import pytest
import yaml
from tests.params import repo_params

from clm.data import contract
from clm.synthetic.generate import recorded_reasons, write_dataset
from clm.synthetic.lifecycle import STAGE_NAMES
from clm.synthetic.profile import ExitSurveyProfile, load_profile

SMALL = replace(repo_params().generate, n_subscribers=500, n_months=6, first_month="2024-01-01")


def _digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_same_seed_gives_the_same_bytes_and_another_seed_does_not(tmp_path):
    config = replace(SMALL, seed=3)
    write_dataset(config, tmp_path / "a" / "raw", tmp_path / "a" / "truth")
    write_dataset(config, tmp_path / "b" / "raw", tmp_path / "b" / "truth")
    assert _digest(tmp_path / "a" / "raw") == _digest(tmp_path / "b" / "raw")
    assert _digest(tmp_path / "a" / "truth") == _digest(tmp_path / "b" / "truth")
    other = replace(SMALL, seed=4)
    write_dataset(other, tmp_path / "c" / "raw", tmp_path / "c" / "truth")
    assert _digest(tmp_path / "a" / "raw") != _digest(tmp_path / "c" / "raw")


def test_raw_tables_follow_the_contract_and_hold_no_truth(small_data):
    tables = {
        "subscribers": small_data.tables.subscribers,
        "usage_monthly": small_data.usage,
        "churn_events": small_data.tables.churn_events,
    }
    for name, frame in tables.items():
        assert dict(frame.schema) == contract.RAW_TABLES[name], name
    raw_columns = {c for frame in tables.values() for c in frame.columns}
    assert not raw_columns & {"stage", "is_sham", "base_warning_hazard", "true_reason"}


def test_usage_lies_within_each_subscribers_life(small_data):
    usage = small_data.usage.join(small_data.tables.subscribers, on="subscriber_id").join(
        small_data.tables.churn_events, on="subscriber_id", how="left"
    )
    assert usage.filter(pl.col("month") < pl.col("join_month")).is_empty()
    assert usage.filter(pl.col("month") >= pl.col("churn_month")).is_empty()
    assert usage.select(pl.struct("subscriber_id", "month").is_unique().all()).item()


def test_churners_are_active_until_the_month_before_they_leave(small_data):
    last_usage = small_data.usage.group_by("subscriber_id").agg(last=pl.col("month").max())
    churned = small_data.tables.churn_events.join(last_usage, on="subscriber_id")
    assert churned.height == small_data.tables.churn_events.height
    assert (churned["last"].dt.offset_by("1mo") == churned["churn_month"]).all()


def test_truth_covers_every_usage_row_and_every_churner(small_data):
    keys = ["subscriber_id", "month"]
    assert small_data.stages.select(keys).equals(small_data.usage.select(keys))
    assert set(small_data.stages["stage"].unique()) <= set(STAGE_NAMES)
    truth = small_data.tables.truth_subscribers
    reasons = small_data.tables.churn_events.join(truth, on="subscriber_id")
    assert reasons["true_reason"].is_not_null().all()
    assert truth.filter(pl.col("true_reason").is_not_null()).height == reasons.height


def test_the_recorded_reason_is_a_noisy_answer_about_the_truth(default_sized_data):
    """Churners state the true reason at about the profile's truthful share (more for the
    reasons recorded from billing and the channel audit), and never claim SIM flipping."""
    survey = load_profile().exit_survey
    reasons = default_sized_data.tables.churn_events.join(
        default_sized_data.tables.truth_subscribers, on="subscriber_id"
    )
    audited = list(survey.truthful_share_by_reason)
    stated = reasons.filter(~pl.col("true_reason").is_in(audited))
    truthful = (stated["reason"] == stated["true_reason"]).mean()
    # a misreport drawn from the survey's shares names the true reason by chance too
    assert survey.truthful_share < truthful < survey.truthful_share + 0.1
    assert stated.filter(pl.col("reason") == "channel_sim_flipping").is_empty()
    sham = reasons.filter(pl.col("true_reason") == "channel_sim_flipping")
    assert (sham["reason"] == "channel_sim_flipping").mean() > 0.9


def test_a_wholly_truthful_survey_records_the_true_reason():
    profile = load_profile()
    honest = replace(
        profile,
        exit_survey=replace(profile.exit_survey, truthful_share_by_reason={}, truthful_share=1.0),
    )
    true_reason = np.arange(len(contract.SURVEY_REASONS), dtype=np.int8)
    network = np.zeros_like(true_reason)
    recorded = recorded_reasons(true_reason, network, honest, np.random.default_rng(0))
    assert (recorded == true_reason).all()


def test_a_survey_share_outside_zero_one_is_refused():
    with pytest.raises(ValueError, match="exit_survey"):
        ExitSurveyProfile(truthful_share=1.2)
    with pytest.raises(ValueError, match="weather"):
        ExitSurveyProfile(truthful_share=0.7, truthful_share_by_reason={"weather": 0.9})


@pytest.mark.parametrize(
    ("reason", "column", "direction"),
    [
        ("coverage_quality", "dropped_call_rate", "up"),
        ("price", "call_forward_offnet_count", "up"),
        ("after_sales_service", "hotline_calls", "up"),
        ("malicious_arrears", "arrears", "up"),
        ("value_added_services", "vas_revenue", "down"),
        ("relocation", "roaming_minutes", "up"),
        ("other", "mou", "down"),
    ],
)
def test_each_reason_leaves_its_signature_before_exit(
    default_sized_data, reason, column, direction
):
    """Compare the last active month with the same subscribers' month 4 before exit."""
    data = default_sized_data
    churners = _churners_of_true_reason(data, reason).select("subscriber_id", "churn_month")
    usage = data.usage.join(churners, on="subscriber_id")
    months_before = (pl.col("churn_month").dt.year() - pl.col("month").dt.year()) * 12 + (
        pl.col("churn_month").dt.month() - pl.col("month").dt.month()
    )
    by_lag = (
        usage.with_columns(lag=months_before)
        .filter(pl.col("lag").is_in([1, 5]))
        .group_by("lag")
        .agg(pl.col(column).cast(pl.Float64).mean())
    )
    level = dict(by_lag.iter_rows())
    assert (level[1] > 1.3 * level[5]) if direction == "up" else (level[1] < 0.8 * level[5])


def test_sham_cards_leave_young_and_nearly_silent(default_sized_data):
    data = default_sized_data
    sham = _churners_of_true_reason(data, "channel_sim_flipping")
    tenure = sham.join(data.tables.subscribers, on="subscriber_id").select(
        (pl.col("churn_month").dt.month() - pl.col("join_month").dt.month()) % 12
    )
    assert tenure.to_series().mean() < 4
    usage = data.usage.join(sham, on="subscriber_id")["mou"].median()
    assert usage < 0.1 * data.usage["mou"].median()


def _churners_of_true_reason(data, reason: str) -> pl.DataFrame:
    """Churn events of the churners whose true reason is ``reason`` (the signature's cause)."""
    truth = data.tables.truth_subscribers.filter(pl.col("true_reason") == reason)
    return data.tables.churn_events.join(truth.select("subscriber_id"), on="subscriber_id")


def test_bad_config_is_refused():
    with pytest.raises(ValueError, match="cdma_share"):
        replace(SMALL, cdma_share=2)
    with pytest.raises(ValueError, match="first of month"):
        replace(SMALL, first_month="2024-01-15")


def test_a_profile_missing_a_regions_dropped_call_factor_is_refused(tmp_path):
    packaged = resources.files("clm.synthetic").joinpath("generator_profile.yaml")
    profile = yaml.safe_load(packaged.read_text(encoding="utf-8"))
    del profile["usage"]["region_dropped_call_factor"]["west"]
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(profile), encoding="utf-8")
    with pytest.raises(ValueError, match=r"region_dropped_call_factor needs the regions"):
        load_profile(path)
