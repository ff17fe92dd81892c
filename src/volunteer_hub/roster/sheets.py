"""The workbooks the import page hands out: the template to fill in, and the rows that
could not be imported with the reason for each, ready to be fixed and uploaded again.
Every cell goes through volunteer_hub.spreadsheets (typed text never becomes a formula).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from flask_babel import gettext as _

from volunteer_hub.roster.reader import PREFERRED_HEADERS
from volunteer_hub.spreadsheets import append_row

if TYPE_CHECKING:
    from openpyxl import Workbook

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: the template's data sheet; a title the reader never takes for a team's name
TEMPLATE_SHEET = "花名册"


def template_workbook() -> bytes:
    """An empty roster with the preferred headers, and a sheet of instructions."""
    from openpyxl import Workbook  # only here: a process that never hands one out skips it

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = TEMPLATE_SHEET
    _header(sheet, list(PREFERRED_HEADERS.values()))
    notes = workbook.create_sheet(_("填写说明"))
    for line in (
        _("每行一位队员。“姓名”和“手机号”必填，手机号填 11 位手机号码。"),
        _("“是否退役军人”填“是”或“否”；“性别”“备注”仅供参考，不会导入。"),
        _("队长导入本队时，“服务队”和“所属单位”可不填。"),
        _("协调员一次导入多支服务队时：填写“服务队”；服务队不存在时，填写“所属单位”即新建。"),
        _("也可以每支服务队一个工作表，工作表名称即服务队名称。"),
        _("已在系统中登记的手机号不会被直接加入，而是收到入队邀请，本人同意后加入。"),
    ):
        append_row(notes, [line])
    notes.column_dimensions["A"].width = 90
    return _bytes(workbook)


def error_workbook(errors: list[dict]) -> bytes:
    """Rows of a preview as typed (the error rows, and the rows held back with them), with
    sheet, row number and reason, sheet by sheet in row order."""
    from openpyxl import Workbook

    fields = list(PREFERRED_HEADERS)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = TEMPLATE_SHEET
    _header(sheet, [*PREFERRED_HEADERS.values(), _("原工作表"), _("原行号"), _("错误原因")])
    sheets_seen: dict[str, int] = {}
    for error in errors:
        sheets_seen.setdefault(error["sheet"], len(sheets_seen))
    for error in sorted(errors, key=lambda error: (sheets_seen[error["sheet"]], error["row"])):
        cells = dict(error["cells"])
        if not cells.get("team"):
            cells["team"] = error.get("team", "")
        values = [cells.get(name, "") for name in fields]
        append_row(sheet, [*values, error["sheet"], error["row"], error["reason"]])
    sheet.column_dimensions["K"].width = 50
    return _bytes(workbook)


def _header(sheet, headers: list[str]) -> None:
    from openpyxl.styles import Font

    for cell in append_row(sheet, headers):
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for column, width in zip("ABCDEFGH", (10, 15, 6, 12, 20, 30, 24, 20), strict=True):
        sheet.column_dimensions[column].width = width


def _bytes(workbook: Workbook) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()
