"""Tables for people: the XLSX writer refuses what an Excel worksheet cannot hold."""

from __future__ import annotations

import openpyxl
import polars as pl
import pytest

from clm.reports.sheets import BOM, EXCEL_ROWS, write_sheet, write_xlsx


def test_a_sheet_is_written_as_csv_and_xlsx_with_its_chinese(tmp_path):
    sheet = pl.DataFrame({"code": ["price_war"], "name_zh": ["价格战"], "value": [1.5]})

    write_sheet(sheet, tmp_path / "s.csv", tmp_path / "s.xlsx", "表")

    assert (tmp_path / "s.csv").read_text(encoding="utf-8") == BOM + sheet.write_csv()
    book = openpyxl.load_workbook(tmp_path / "s.xlsx")
    assert book.sheetnames == ["表"]
    assert list(book.active.iter_rows(values_only=True)) == [
        ("code", "name_zh", "value"),
        ("price_war", "价格战", 1.5),
    ]
    assert book.active.freeze_panes == "A2"


def test_a_sheet_longer_than_an_excel_worksheet_is_refused(tmp_path):
    too_long = pl.DataFrame({"id": pl.int_range(EXCEL_ROWS, eager=True)})  # + header: 1 over

    with pytest.raises(ValueError, match="1,048,576 rows do not fit an Excel worksheet"):
        write_xlsx(too_long, tmp_path / "s.xlsx", "s")
    assert not (tmp_path / "s.xlsx").exists()
