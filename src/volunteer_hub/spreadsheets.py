"""The cells of every spreadsheet the product writes, CSV or XLSX: the one place that
decides what a cell may hold.

Names, team names and what a service was are typed by people, and Excel, WPS and
LibreOffice run a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula (also
behind a leading tab or line break, and in the full-width forms a Chinese input method
types: ``＝HYPERLINK(...)``). Such text gets a leading single quote, as OWASP advises
against CSV injection, so it is shown as typed and never run; numbers stay numbers (an
hour total is a number cell, never quoted text). XLSX text cells are also written as
strings, so nothing in a workbook is ever stored as a formula.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell
    from openpyxl.worksheet.worksheet import Worksheet

#: UTF-8 with a byte order mark: how Excel knows a CSV file is not in the local code page
BOM = "\ufeff"
#: a cell starting with one of these is a formula (or the start of one) to a spreadsheet;
#: U+2212 is the minus sign some editors type for "-"
FORMULA_TRIGGERS = frozenset("=+-@\t\r\n\u2212")
#: what a neutralised cell starts with
QUOTE = "'"

_PLAIN_VALUES = (int, float, Decimal, datetime, date, time, timedelta)


def safe_cell(value: Any) -> Any:
    """A value as a spreadsheet cell may hold it: numbers, dates and empty cells as they
    are; anything else as text, neutralised if a spreadsheet would read it as a formula.
    Control characters a workbook cannot store (all below U+0020 but tab and line
    breaks) are dropped first, so they cannot hide a formula behind them."""
    if value is None or isinstance(value, _PLAIN_VALUES):  # bool is an int
        return value
    # openpyxl on first use only: a process that never exports does not carry it.
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    text = ILLEGAL_CHARACTERS_RE.sub("", value if isinstance(value, str) else str(value))
    return QUOTE + text if starts_formula(text) else text


def starts_formula(text: str) -> bool:
    """Whether a spreadsheet could read ``text`` as a formula: its first character, or
    the first after leading spaces, is a trigger, in its half- or full-width form (NFKC
    folds ＝ ＋ － ＠ and the small forms ﹦ ﹢ ﹣ ﹫ to the ASCII ones)."""
    if not text:
        return False
    if text[0] in FORMULA_TRIGGERS:
        return True
    first = text.lstrip()[:1]
    return bool(first) and (
        first in FORMULA_TRIGGERS or unicodedata.normalize("NFKC", first)[:1] in FORMULA_TRIGGERS
    )


# -- CSV ---------------------------------------------------------------------------------


def csv_bytes(rows: Iterable[Iterable[Any]]) -> bytes:
    """Rows as a CSV file Excel opens right: UTF-8 with a BOM, CRLF line ends, every
    cell through ``safe_cell``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([safe_cell(value) for value in row] for row in rows)
    return (BOM + out.getvalue()).encode("utf-8")


# -- XLSX --------------------------------------------------------------------------------


def append_row(sheet: Worksheet, values: Iterable[Any]) -> list[Cell]:
    """Append one row to an openpyxl sheet, every cell through ``safe_cell`` and text
    cells typed as strings (openpyxl would store a text starting with "=" as a formula).
    Returns the row's cells, for styling."""
    from openpyxl.cell.cell import Cell

    cells = []
    for value in values:
        cell = Cell(sheet, value=safe_cell(value))
        if isinstance(cell.value, str):
            cell.data_type = "s"
        cells.append(cell)
    sheet.append(cells)
    return cells
