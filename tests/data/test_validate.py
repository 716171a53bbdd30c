"""Raw-data validation: every bad input is named, quarantined with its check, and no row is lost."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from clm.cli import app
from clm.config import ConfigError, load_section
from clm.data.contract import RAW_TABLES
from clm.data.io import TableError
from clm.data.validate import (
    FAILED_CHECKS,
    QuarantineShareError,
    ValidateConfig,
    run_validate,
    validate_table,
    validate_tables,
)

Tables = dict[str, pl.DataFrame]


def month(year: int, number: int) -> dt.date:
    return dt.date(year, number, 1)


def usage_row(subscriber_id: int, when: dt.date, **overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "subscriber_id": subscriber_id,
        "month": when,
        "arpu": 58.0,
        "mou": 310.5,
        "calls_out": 120,
        "calls_in": 95,
        "distinct_called_numbers": 31,
        "call_forward_count": 2,
        "call_forward_offnet_count": 0,
        "sms_count": 40,
        "data_mb": 812.0,
        "vas_revenue": 5.0,
        "contract_consumed_amount": 0.0,
        "complaints": 0,
        "hotline_calls": 1,
        "dropped_call_rate": 0.01,
        "arrears": 0.0,
        "roaming_minutes": 0.0,
    }
    return row | overrides


def clean_tables() -> Tables:
    """Three subscribers: 1 on contract, 2 in a group, 3 churned in March 2023."""
    subscribers = pl.DataFrame(
        {
            "subscriber_id": [1, 2, 3],
            "join_month": [month(2023, 1), month(2023, 2), month(2023, 1)],
            "network": ["C", "G", "G"],
            "brand": ["flagship", "youth", "budget"],
            "payment_type": ["postpaid", "prepaid", "quasi_prepaid"],
            "is_group": [False, True, False],
            "group_id": [None, 7, None],
            "region": ["north", "south", "east"],
            "contract_start_month": [month(2023, 1), None, None],
            "contract_end_month": [month(2024, 12), None, None],
            "contract_total_amount": [1200.0, None, None],
        },
        schema=RAW_TABLES["subscribers"],
    )
    usage_rows = [
        usage_row(1, month(2023, 1)),
        usage_row(1, month(2023, 2)),
        usage_row(1, month(2023, 3)),
        usage_row(2, month(2023, 2)),
        usage_row(2, month(2023, 3)),
        usage_row(3, month(2023, 1)),
        usage_row(3, month(2023, 2)),
    ]
    usage = pl.DataFrame(usage_rows, schema=RAW_TABLES["usage_monthly"], orient="row")
    churn = pl.DataFrame(
        {
            "subscriber_id": [3],
            "churn_month": [month(2023, 3)],
            "reason": ["price"],
            "destination": ["main_competitor"],
        },
        schema=RAW_TABLES["churn_events"],
    )
    return {"subscribers": subscribers, "usage_monthly": usage, "churn_events": churn}


def set_value(table: str, row: int, column: str, value: object) -> Callable[[Tables], Tables]:
    """A mutation that sets one cell of one table."""

    def mutate(tables: Tables) -> Tables:
        frame = tables[table]
        values = frame[column].to_list()
        values[row] = value
        series = pl.Series(column, values, dtype=frame.schema[column])
        return tables | {table: frame.with_columns(series)}

    return mutate


def append_row(table: str, row: dict[str, object]) -> Callable[[Tables], Tables]:
    """A mutation that appends one row to one table."""

    def mutate(tables: Tables) -> Tables:
        extra = pl.DataFrame([row], schema=tables[table].schema, orient="row")
        return tables | {table: pl.concat([tables[table], extra])}

    return mutate


def assert_no_row_lost(tables: Tables) -> dict:
    """Validate and check that every table's rows are all accepted or quarantined."""
    results = validate_tables(tables)
    for table, frame in tables.items():
        result = results[table]
        assert result.accepted.height + result.quarantined.height == frame.height
        assert result.accepted.columns == frame.columns
        assert result.quarantined.columns == [*frame.columns, FAILED_CHECKS]
    return results


BAD_ROWS = {
    "negative arpu": (set_value("usage_monthly", 0, "arpu", -3.0), "arpu:non_negative"),
    "negative mou": (set_value("usage_monthly", 0, "mou", -1.0), "mou:non_negative"),
    "negative count": (set_value("usage_monthly", 0, "calls_in", -1), "calls_in:non_negative"),
    "null arpu": (set_value("usage_monthly", 0, "arpu", None), "arpu:not_nullable"),
    "NaN mou": (set_value("usage_monthly", 0, "mou", float("nan")), "mou:not_nullable"),
    "infinite data": (set_value("usage_monthly", 0, "data_mb", float("inf")), "data_mb:finite"),
    # finite, so they pass ``finite``; downstream they overflow features or inflate budget caps
    "arpu near the float maximum": (
        set_value("usage_monthly", 0, "arpu", 1e308),
        "arpu:plausible_max",
    ),
    "arpu of a trillion yuan": (set_value("usage_monthly", 0, "arpu", 1e12), "arpu:plausible_max"),
    "a billion complaints": (
        set_value("usage_monthly", 0, "complaints", 10**9),
        "complaints:plausible_max",
    ),
    "contract of a billion yuan": (
        set_value("subscribers", 0, "contract_total_amount", 1e9),
        "contract_total_amount:plausible_max",
    ),
    "dropped rate above 1": (
        set_value("usage_monthly", 0, "dropped_call_rate", 1.5),
        "dropped_call_rate:between_0_and_1",
    ),
    "month not first day": (
        set_value("usage_monthly", 0, "month", dt.date(2023, 1, 15)),
        "month:first_of_month",
    ),
    "duplicated subscriber month": (
        append_row("usage_monthly", usage_row(1, month(2023, 1))),
        "subscriber_id+month:multiple_fields_uniqueness",
    ),
    "usage after churn": (
        append_row("usage_monthly", usage_row(3, month(2023, 3))),
        "month:usage_after_churn",
    ),
    "usage before join": (
        append_row("usage_monthly", usage_row(2, month(2023, 1))),
        "month:usage_before_join",
    ),
    "usage of unknown subscriber": (
        append_row("usage_monthly", usage_row(99, month(2023, 1))),
        "subscriber_id:unknown_subscriber",
    ),
    "unknown brand": (set_value("subscribers", 0, "brand", "premium"), "brand:allowed_values"),
    "unknown network": (set_value("subscribers", 1, "network", "L"), "network:allowed_values"),
    "null region": (set_value("subscribers", 1, "region", None), "region:not_nullable"),
    "blank region": (set_value("subscribers", 1, "region", "  "), "region:non_blank"),
    "duplicated subscriber": (
        set_value("subscribers", 2, "subscriber_id", 1),
        "subscriber_id:field_uniqueness",
    ),
    "group id without group": (
        set_value("subscribers", 0, "group_id", 5),
        "group_id:group_id_iff_is_group",
    ),
    "group without group id": (
        set_value("subscribers", 1, "group_id", None),
        "group_id:group_id_iff_is_group",
    ),
    "contract ends before start": (
        set_value("subscribers", 0, "contract_end_month", month(2022, 12)),
        "contract_end_month:not_before_contract_start",
    ),
    "zero contract amount": (
        set_value("subscribers", 0, "contract_total_amount", 0.0),
        "contract_total_amount:positive",
    ),
    "contract amount without contract": (
        set_value("subscribers", 1, "contract_total_amount", 99.0),
        "contract_total_amount:present_iff_contract_start",
    ),
    "unknown churn reason": (
        set_value("churn_events", 0, "reason", "weather"),
        "reason:allowed_values",
    ),
    "churn of unknown subscriber": (
        set_value("churn_events", 0, "subscriber_id", 42),
        "subscriber_id:unknown_subscriber",
    ),
    "churn in join month": (
        set_value("churn_events", 0, "churn_month", month(2023, 1)),
        "churn_month:churn_not_after_join",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ROWS))
def test_bad_row_is_quarantined_with_its_check(case: str) -> None:
    mutate, expected = BAD_ROWS[case]
    tables = mutate(clean_tables())
    table = next(name for name in tables if not tables[name].equals(clean_tables()[name]))

    results = assert_no_row_lost(tables)

    quarantined = results[table].quarantined
    assert quarantined.height >= 1
    assert all(expected in checks for checks in quarantined[FAILED_CHECKS].to_list())
    column, check = expected.split(":")
    report_failures = results[table].failures.filter(pl.col("check") == check)
    assert report_failures["column"].unique().to_list() == [column]


def test_clean_tables_pass_through_unchanged() -> None:
    tables = clean_tables()

    results = assert_no_row_lost(tables)

    for table, frame in tables.items():
        assert results[table].accepted.equals(frame)
        assert results[table].quarantined.is_empty()


def test_row_failing_several_checks_is_quarantined_once_with_all_checks() -> None:
    tables = set_value("usage_monthly", 2, "mou", -1.0)(
        set_value("usage_monthly", 2, "arpu", None)(clean_tables())
    )

    results = assert_no_row_lost(tables)

    quarantined = results["usage_monthly"].quarantined
    assert quarantined.height == 1
    assert quarantined[FAILED_CHECKS].to_list() == [["arpu:not_nullable", "mou:non_negative"]]


def test_failures_point_at_the_failing_rows_despite_nulls_before_them() -> None:
    tables = clean_tables()
    for column, value in [
        ("contract_start_month", month(2023, 1)),
        ("contract_end_month", month(2023, 12)),
        ("contract_total_amount", 0.0),
    ]:
        tables = set_value("subscribers", 2, column, value)(tables)
    tables = set_value("usage_monthly", 1, "arpu", None)(tables)
    tables = set_value("usage_monthly", 3, "mou", -1.0)(tables)

    results = assert_no_row_lost(tables)

    assert results["subscribers"].quarantined["subscriber_id"].to_list() == [3]
    usage = results["usage_monthly"].quarantined
    assert usage.select("subscriber_id", "month").rows() == [
        (1, month(2023, 2)),
        (2, month(2023, 2)),
        (3, month(2023, 1)),
        (3, month(2023, 2)),
    ]
    assert usage[FAILED_CHECKS].to_list() == [
        ["arpu:not_nullable"],
        ["mou:non_negative"],
        # Subscriber 3's churn event is quarantined with it, so its usage names both.
        ["subscriber_id:churn_event_quarantined", "subscriber_id:subscriber_quarantined"],
        ["subscriber_id:churn_event_quarantined", "subscriber_id:subscriber_quarantined"],
    ]


def test_duplicates_quarantine_every_copy() -> None:
    tables = append_row("usage_monthly", usage_row(1, month(2023, 2)))(clean_tables())

    results = assert_no_row_lost(tables)

    assert results["usage_monthly"].quarantined["month"].to_list() == [month(2023, 2)] * 2


def test_usage_of_quarantined_subscriber_is_quarantined() -> None:
    tables = set_value("subscribers", 0, "brand", "premium")(clean_tables())

    results = assert_no_row_lost(tables)

    usage = results["usage_monthly"].quarantined
    assert usage["subscriber_id"].to_list() == [1, 1, 1]
    assert usage[FAILED_CHECKS].to_list() == [["subscriber_id:subscriber_quarantined"]] * 3


@pytest.mark.parametrize(
    ("table", "frame_of", "column", "check", "detail"),
    [
        (
            "usage_monthly",
            lambda frame: frame.drop("mou"),
            "mou",
            "column_present",
            "missing column",
        ),
        (
            "churn_events",
            lambda frame: frame.drop("churn_month"),
            "churn_month",
            "column_present",
            "missing column",
        ),
        (
            "usage_monthly",
            lambda frame: frame.with_columns(pl.col("arpu").cast(pl.String)),
            "arpu",
            "dtype",
            "expected Float64, found String",
        ),
        ("usage_monthly", lambda frame: frame.clear(), None, "non_empty", "no rows"),
        ("subscribers", lambda frame: frame.clear(), None, "non_empty", "no rows"),
    ],
    ids=["missing column", "missing churn column", "wrong dtype", "empty table", "no subscribers"],
)
def test_table_level_problem_raises_naming_table_column_and_check(
    table: str,
    frame_of: Callable[[pl.DataFrame], pl.DataFrame],
    column: str | None,
    check: str,
    detail: str,
) -> None:
    tables = clean_tables()
    broken = tables | {table: frame_of(tables[table])}

    with pytest.raises(TableError) as raised:
        validate_tables(broken)

    error = raised.value
    assert (error.table, error.column, error.check) == (table, column, check)
    message = str(error)
    assert table in message and check in message and detail in message
    if column:
        assert column in message


def test_validating_one_table_checks_its_contract_too() -> None:
    frame = clean_tables()["usage_monthly"].drop("arpu")

    with pytest.raises(TableError, match="column 'arpu', check 'column_present'"):
        validate_table(frame, "usage_monthly")


def write_raw(tables: Tables, raw_dir: Path) -> None:
    raw_dir.mkdir(parents=True, exist_ok=True)
    for table, frame in tables.items():
        frame.write_parquet(raw_dir / f"{table}.parquet")


def step_paths(root: Path) -> dict[str, Path]:
    return {
        "raw_dir": root / "data/raw",
        "validated_dir": root / "data/validated",
        "quarantine_dir": root / "data/quarantine",
        "report_path": root / "reports/validation.json",
    }


def test_step_writes_validated_quarantine_and_report(tmp_path: Path) -> None:
    paths = step_paths(tmp_path)
    tables = append_row("usage_monthly", usage_row(3, month(2023, 3)))(clean_tables())
    write_raw(tables, paths["raw_dir"])

    run_validate(ValidateConfig(max_quarantined_share=0.2), **paths)

    report = json.loads(paths["report_path"].read_text())
    assert report["clean"] is True
    usage = report["tables"]["usage_monthly"]
    assert usage["rows_in"] == 8 == usage["rows_accepted"] + usage["rows_quarantined"]
    assert usage["quarantined_share"] == pytest.approx(1 / 8)
    assert usage["failures"] == {"month": {"usage_after_churn": 1}}
    for table, frame in tables.items():
        accepted = pl.read_parquet(paths["validated_dir"] / f"{table}.parquet")
        quarantined = pl.read_parquet(paths["quarantine_dir"] / f"{table}.parquet")
        assert accepted.height + quarantined.height == frame.height
    assert list(paths["validated_dir"].iterdir())  # no temp files left beside the outputs
    assert not list(paths["validated_dir"].glob(".*"))


def test_threshold_failure_leaves_previous_validated_outputs_intact(tmp_path: Path) -> None:
    paths = step_paths(tmp_path)
    write_raw(clean_tables(), paths["raw_dir"])
    run_validate(ValidateConfig(max_quarantined_share=0.0), **paths)
    before = {path.name: path.read_bytes() for path in paths["validated_dir"].iterdir()}
    write_raw(set_value("usage_monthly", 0, "arpu", -3.0)(clean_tables()), paths["raw_dir"])

    with pytest.raises(QuarantineShareError, match=r"'usage_monthly' 14\.29%"):
        run_validate(ValidateConfig(max_quarantined_share=0.01), **paths)

    after = {path.name: path.read_bytes() for path in paths["validated_dir"].iterdir()}
    assert after == before
    report = json.loads(paths["report_path"].read_text())
    assert report["clean"] is False
    assert report["tables_over_limit"] == ["usage_monthly"]
    assert pl.read_parquet(paths["quarantine_dir"] / "usage_monthly.parquet").height == 1


def test_missing_raw_file_raises_and_writes_nothing(tmp_path: Path) -> None:
    paths = step_paths(tmp_path)
    write_raw(clean_tables(), paths["raw_dir"])
    (paths["raw_dir"] / "churn_events.parquet").unlink()

    with pytest.raises(TableError, match=r"churn_events.*file_exists"):
        run_validate(ValidateConfig(max_quarantined_share=0.01), **paths)

    assert not paths["report_path"].exists()
    assert not paths["validated_dir"].exists()


def test_config_is_read_from_params_and_checked(tmp_path: Path) -> None:
    params = tmp_path / "params.yaml"
    params.write_text("validate:\n  max_quarantined_share: 0.05\n")
    assert load_section(ValidateConfig, "validate", params).max_quarantined_share == 0.05

    params.write_text("validate:\n  max_quarantined_share: 2\n")
    with pytest.raises(ConfigError, match="max_quarantined_share"):
        load_section(ValidateConfig, "validate", params)


def cli_options(root: Path) -> list[str]:
    paths = step_paths(root)
    params = root / "params.yaml"
    params.write_text("validate:\n  max_quarantined_share: 0.01\n")
    return [
        f"--params={params}",
        f"--raw-dir={paths['raw_dir']}",
        f"--validated-dir={paths['validated_dir']}",
        f"--quarantine-dir={paths['quarantine_dir']}",
        f"--report={paths['report_path']}",
    ]


def test_cli_validates_clean_tables(tmp_path: Path) -> None:
    write_raw(clean_tables(), step_paths(tmp_path)["raw_dir"])

    result = CliRunner().invoke(app, ["validate", *cli_options(tmp_path)])

    assert result.exit_code == 0, result.output
    assert "usage_monthly: 7 accepted, 0 quarantined of 7" in result.output
    assert (step_paths(tmp_path)["validated_dir"] / "usage_monthly.parquet").exists()


def test_cli_fails_with_a_clear_message_above_the_threshold(tmp_path: Path) -> None:
    paths = step_paths(tmp_path)
    write_raw(set_value("subscribers", 0, "network", "L")(clean_tables()), paths["raw_dir"])

    result = CliRunner().invoke(app, ["validate", *cli_options(tmp_path)])

    assert result.exit_code == 1
    assert "'subscribers' 33.33%" in result.output
    assert not paths["validated_dir"].exists()


def output_files(root: Path) -> dict[str, bytes]:
    """Every file the validate step writes, by path relative to ``root``."""
    outputs = ("data/validated", "data/quarantine", "reports")
    return {
        str(path.relative_to(root)): path.read_bytes()
        for folder in outputs
        for path in (root / folder).rglob("*")
    }


def test_crash_while_writing_leaves_every_previous_output_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = step_paths(tmp_path)
    write_raw(clean_tables(), paths["raw_dir"])
    run_validate(ValidateConfig(max_quarantined_share=0.5), **paths)
    before = output_files(tmp_path)
    write_raw(set_value("usage_monthly", 0, "arpu", -3.0)(clean_tables()), paths["raw_dir"])
    write_parquet = pl.DataFrame.write_parquet
    written = []

    def crash_on_third_table(frame: pl.DataFrame, path: Path) -> None:
        written.append(path)
        if len(written) == 3:
            raise OSError("disk full")
        write_parquet(frame, path)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", crash_on_third_table)
    with pytest.raises(OSError, match="disk full"):
        run_validate(ValidateConfig(max_quarantined_share=0.5), **paths)

    after = output_files(tmp_path)
    assert after == before
    assert not list(tmp_path.glob(".clm-staging-*"))


@pytest.mark.parametrize("region", ["浙江-杭州", "Region <3>", "north[1]"])
def test_regions_are_the_operators_own_names(region: str) -> None:
    tables = set_value("subscribers", 0, "region", region)(clean_tables())

    results = validate_tables(tables)

    assert results["subscribers"].quarantined.is_empty()
    assert region in results["subscribers"].accepted["region"].to_list()


def test_cli_names_file_table_and_column_of_unreadable_data_in_one_line(tmp_path: Path) -> None:
    paths = step_paths(tmp_path)
    write_raw(clean_tables(), paths["raw_dir"])
    subscribers = pq.read_table(paths["raw_dir"] / "subscribers.parquet")
    rows = subscribers.num_rows
    offsets = pa.array(range(rows + 1), pa.int32()).buffers()[1]
    invalid_utf8 = pa.Array.from_buffers(
        pa.string(), rows, [None, offsets, pa.py_buffer(b"\xff" * rows)]
    )
    column = subscribers.schema.get_field_index("region")
    pq.write_table(
        subscribers.set_column(column, "region", invalid_utf8),
        paths["raw_dir"] / "subscribers.parquet",
    )

    result = CliRunner().invoke(app, ["validate", *cli_options(tmp_path)])

    assert result.exit_code == 2
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert "table 'subscribers', column 'region', check 'readable'" in result.output
    assert "subscribers.parquet" in result.output
