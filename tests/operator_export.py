"""An operator's export of the synthetic tables: its own column names, codes and months."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from clm.data.operator import OperatorTables

THEIR_NAMES = {
    "subscribers": {"user_id": "subscriber_id", "open_month": "join_month"},
    "usage_monthly": {"user_id": "subscriber_id", "bill_month": "month", "fee": "arpu"},
    "churn_events": {"user_id": "subscriber_id", "exit_month": "churn_month"},
}


# How an operator may code the subscribers' values: clm value -> theirs.
THEIR_CODES = {
    "brand": {"flagship": "全球通", "youth": "动感地带", "budget": "神州行"},
    "payment_type": {"postpaid": 1, "quasi_prepaid": 2, "prepaid": 3},
    "is_group": {True: "Y", False: "N"},
}


def export_like_an_operator(small_data, folder, their_codes: dict | None = None) -> None:
    """CSV files, their own column names, months as YYYYMM numbers (账期), and the subscribers'
    columns of ``their_codes`` (column -> {clm value: theirs}) in their codes."""
    tables = {
        "subscribers": small_data.tables.subscribers,
        "usage_monthly": small_data.usage,
        "churn_events": small_data.tables.churn_events,
    }
    write_operator_export(tables, folder, their_codes)


def write_operator_export(
    tables: dict[str, pl.DataFrame], folder, their_codes: dict | None = None, suffix: str = "csv"
) -> None:
    """``tables`` (raw contract) as the operator exports them, as ``suffix`` files."""
    folder.mkdir()
    for name, frame in tables.items():
        if name == "subscribers":
            frame = frame.with_columns(
                pl.col(column).replace_strict(codes)
                for column, codes in (their_codes or {}).items()
            )
        months = [c for c, dtype in frame.schema.items() if dtype == pl.Date]
        exported = frame.with_columns(
            (pl.col(c).dt.year() * 100 + pl.col(c).dt.month()).alias(c) for c in months
        ).rename({ours: theirs for theirs, ours in THEIR_NAMES[name].items()})
        write = exported.write_csv if suffix == "csv" else exported.write_parquet
        write(folder / f"{name}.{suffix}")


def clm_values(codes: dict) -> dict:
    """``data.operator.values`` for the subscribers coded as ``codes`` say."""
    return {"subscribers": {column: {v: k for k, v in m.items()} for column, m in codes.items()}}


def their_mappings(folder: Path) -> OperatorTables:
    """``data.operator`` for an export in ``folder`` named and coded as this module writes it."""
    return OperatorTables(str(folder), THEIR_NAMES, clm_values(THEIR_CODES), str(folder))
