"""The one sanitiser of spreadsheet cells (volunteer_hub.spreadsheets)."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import Workbook, load_workbook

from volunteer_hub.spreadsheets import append_row, csv_bytes, safe_cell


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://x","y")',
        "+cmd",
        "-2+3",
        "@SUM(A1)",
        "\t=1",
        "\r=1",
        "\n=1",
        "＝1+1",  # full-width, as a Chinese input method types them
        "＋1",
        "－1",  # U+FF0D
        "＠A1",
        "﹦1",  # small forms
        "﹣1",
        "\u22121",  # minus sign
        " =1",  # behind spaces, ideographic too
        "\u3000＝1",
    ],
)
def test_text_a_spreadsheet_would_run_gets_a_quote(text):
    assert safe_cell(text) == "'" + text


def test_a_control_character_cannot_hide_a_formula_and_is_dropped():
    assert safe_cell("\x00\x01=1") == "'=1"
    assert safe_cell("张\x0b三") == "张三"


@pytest.mark.parametrize("value", [-1.5, -3, 0, 7, Decimal("-2.5"), date(2031, 3, 5), None, True])
def test_numbers_dates_and_empty_cells_stay_as_they_are(value):
    assert safe_cell(value) is value


@pytest.mark.parametrize("text", ["张三", "1-2", "a=b", "2031-03", "", "'=already"])
def test_plain_text_is_unchanged(text):
    assert safe_cell(text) == text


def test_csv_bytes_has_a_bom_and_quotes_only_text():
    data = csv_bytes([["=1+1", -2, "x"], [], ["\t@a"]])
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert rows == [["'=1+1", "-2", "x"], [], ["'\t@a"]]


def test_xlsx_rows_are_strings_and_numbers_never_formulas():
    book = Workbook()
    sheet = book.active
    cells = append_row(sheet, ["=1+1", -2.5, None, "x"])
    append_row(sheet, [])
    append_row(sheet, ["last"])
    assert [cell.coordinate for cell in cells] == ["A1", "B1", "C1", "D1"]
    out = io.BytesIO()
    book.save(out)
    read = load_workbook(io.BytesIO(out.getvalue())).active
    assert [(c.value, c.data_type) for c in read[1]] == [
        ("'=1+1", "s"),
        (-2.5, "n"),
        (None, "n"),
        ("x", "s"),
    ]
    assert read["A3"].value == "last"
