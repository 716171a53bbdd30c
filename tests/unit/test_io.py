"""Reading tables: a file that cannot be validated row by row fails with a clear TableError."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from clm.data.io import (
    STAGING_PREFIX,
    TableError,
    read_table,
    write_parquet_atomic,
    write_text_atomic,
    write_together,
)

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


def write_pair(folder: Path, text: str) -> None:
    with write_together(folder / "scores.txt", folder / "quarantine.txt") as (scores, bad):
        scores.write_text(text)
        bad.write_text(text)


def pair(folder: Path) -> tuple[str, str]:
    return (folder / "scores.txt").read_text(), (folder / "quarantine.txt").read_text()


def test_a_failing_block_changes_neither_file_and_leaves_no_staging(tmp_path: Path) -> None:
    write_pair(tmp_path, "old")

    with (
        pytest.raises(RuntimeError),
        write_together(tmp_path / "scores.txt", tmp_path / "quarantine.txt") as (scores, _),
    ):
        scores.write_text("new")
        raise RuntimeError("scoring failed mid-way")

    assert pair(tmp_path) == ("old", "old")
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["quarantine.txt", "scores.txt"]


def run_killed(folder: Path, before_renaming: str) -> None:
    """Write the pair in a child process killed (SIGKILL) just before renaming a file there."""
    script = f"""
        import os, signal
        from pathlib import Path
        import clm.data.io
        from tests.unit.test_io import write_pair

        real_replace = os.replace
        def replace(source, target):
            if str(target).endswith("{before_renaming}"):
                os.kill(os.getpid(), signal.SIGKILL)
            real_replace(source, target)
        clm.data.io.os.replace = replace
        write_pair(Path("{folder}"), "new")
    """
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(script)], check=False)
    assert done.returncode == -9


def test_a_run_killed_before_its_commit_leaves_the_old_pair_and_the_next_run_cleans_up(
    tmp_path: Path,
) -> None:
    write_pair(tmp_path, "old")
    run_killed(tmp_path, before_renaming="COMMIT")  # files written, commit marker not yet

    assert pair(tmp_path) == ("old", "old")
    assert len(list(tmp_path.glob(f"{STAGING_PREFIX}*"))) == 1
    write_text_atomic("next", tmp_path / "other.txt")
    assert not list(tmp_path.glob(f"{STAGING_PREFIX}*"))
    assert pair(tmp_path) == ("old", "old")


def test_a_run_killed_between_its_renames_is_finished_by_the_next_run(tmp_path: Path) -> None:
    write_pair(tmp_path, "old")
    run_killed(tmp_path, before_renaming="quarantine.txt")  # scores moved, quarantine not yet

    assert pair(tmp_path) == ("new", "old")
    write_text_atomic("next", tmp_path / "other.txt")
    assert pair(tmp_path) == ("new", "new")
    assert not list(tmp_path.glob(f"{STAGING_PREFIX}*"))


def test_unreadable_data_names_the_column(tmp_path: Path) -> None:
    path = tmp_path / "usage.parquet"
    good_frame().write_parquet(path, compression="snappy", statistics=False)
    data = bytearray(path.read_bytes())
    data[4:40] = bytes(36)  # the first data page: subscriber_id's
    path.write_bytes(bytes(data))

    with pytest.raises(TableError) as raised:
        read_table(path, "usage", CONTRACT)

    assert_table_error(raised.value, "subscriber_id", "readable", "cannot read the data")
