"""Reading tables: a file that cannot be validated row by row fails with a clear TableError."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from clm.data.io import TableError, read_table, write_parquet_atomic, write_text_atomic

CONTRACT = {"subscriber_id": pl.Int64(), "arpu": pl.Float64()}


def good_frame() -> pl.DataFrame:
    return pl.DataFrame({"subscriber_id": [1, 2], "arpu": [58.0, 12.5]}, schema=CONTRACT)


def assert_table_error(error: TableError, column: str | None, check: str, detail: str) -> None:
    assert (error.table, error.column, error.check) == ("usage", column, check)
    assert "'usage'" in str(error) and check in str(error) and detail in str(error)
    if column:
        assert f"'{column}'" in str(error)


def test_reads_a_table_that_meets_its_contract_and_keeps_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "usage.parquet"
    frame = good_frame().with_columns(region=pl.lit("north"))
    frame.write_parquet(path)

    assert read_table(path, "usage", CONTRACT).equals(frame)


def test_raw_tables_use_the_raw_contract_by_default(tmp_path: Path) -> None:
    path = tmp_path / "churn_events.parquet"
    good_frame().write_parquet(path)

    with pytest.raises(TableError) as raised:
        read_table(path, "churn_events")

    assert raised.value.check == "column_present"
    assert raised.value.column == "churn_month"


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "usage.parquet"

    with pytest.raises(TableError) as raised:
        read_table(path, "usage", CONTRACT)

    assert_table_error(raised.value, None, "file_exists", str(path))


@pytest.mark.parametrize("name", ["usage.csv", "usage.parquet"])
def test_csv_instead_of_parquet(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    good_frame().write_csv(path)

    with pytest.raises(TableError) as raised:
        read_table(path, "usage", CONTRACT)

    assert_table_error(raised.value, None, "parquet_format", "not a parquet file")


def test_truncated_parquet_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "usage.parquet"
    good_frame().write_parquet(path)
    path.write_bytes(path.read_bytes()[:20])

    with pytest.raises(TableError) as raised:
        read_table(path, "usage", CONTRACT)

    assert_table_error(raised.value, None, "readable", "cannot read")


def test_missing_column(tmp_path: Path) -> None:
    path = tmp_path / "usage.parquet"
    good_frame().drop("arpu").write_parquet(path)

    with pytest.raises(TableError) as raised:
        read_table(path, "usage", CONTRACT)

    assert_table_error(raised.value, "arpu", "column_present", "missing column")


def test_wrong_dtype_is_not_coerced(tmp_path: Path) -> None:
    path = tmp_path / "usage.parquet"
    good_frame().with_columns(pl.col("arpu").cast(pl.String)).write_parquet(path)

    with pytest.raises(TableError) as raised:
        read_table(path, "usage", CONTRACT)

    assert_table_error(raised.value, "arpu", "dtype", "expected Float64, found String")


def test_atomic_writes_replace_the_file_and_leave_no_temp_files(tmp_path: Path) -> None:
    table = tmp_path / "out" / "usage.parquet"
    report = tmp_path / "out" / "report.json"
    write_parquet_atomic(good_frame().head(1), table)
    write_parquet_atomic(good_frame(), table)
    write_text_atomic('{"clean": true}\n', report)

    assert pl.read_parquet(table).equals(good_frame())
    assert report.read_text(encoding="utf-8") == '{"clean": true}\n'
    assert sorted(path.name for path in table.parent.iterdir()) == ["report.json", "usage.parquet"]


def test_failed_write_keeps_the_old_file(tmp_path: Path) -> None:
    path = tmp_path / "usage.parquet"
    write_parquet_atomic(good_frame(), path)
    unwritable = pl.DataFrame({"value": [object()]}, schema={"value": pl.Object})

    with pytest.raises(pl.exceptions.ComputeError):
        write_parquet_atomic(unwritable, path)

    assert pl.read_parquet(path).equals(good_frame())
    assert [entry.name for entry in tmp_path.iterdir()] == ["usage.parquet"]
