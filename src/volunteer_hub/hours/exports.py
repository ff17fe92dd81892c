"""Exports of the hour reports: CSV (UTF-8 with a BOM, so Excel opens Chinese right)
and XLSX (openpyxl), with Chinese headers; and a volunteer's 志愿服务记录证明 as XLSX.

Everything here turns report objects (hours.reports) into bytes; it runs no query.
Every cell is written through volunteer_hub.spreadsheets, which keeps typed text from
becoming a formula.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING

from flask_babel import gettext as _

from volunteer_hub import spreadsheets
from volunteer_hub.hours.reports import PersonHistory, TeamReport, UnitReport
from volunteer_hub.i18n import to_local
from volunteer_hub.spreadsheets import append_row

if TYPE_CHECKING:
    from openpyxl import Workbook

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv"

Table = tuple[str, list[str], list[list]]  # sheet title, headers, rows


def hours_value(minutes: int) -> float | int:
    """Hours to two decimals; whole hours as an integer (7, not 7.0)."""
    value = round(minutes / 60, 2)
    return int(value) if value.is_integer() else value


def period_text(month_from: date, month_to: date) -> str:
    return _(
        "%(y1)d年%(m1)d月—%(y2)d年%(m2)d月",
        y1=month_from.year,
        m1=month_from.month,
        y2=month_to.year,
        m2=month_to.month,
    )


# -- tables ------------------------------------------------------------------------------


def _figures_headers() -> list[str]:
    return [_("服务时长（小时）"), _("服务时长（分钟）"), _("服务次数"), _("参与人次")]


def _figures(row) -> list:
    return [hours_value(row.minutes), row.minutes, row.services, row.volunteers]


def _category_table(rows) -> Table:
    return (
        _("按类别"),
        [_("服务类别"), *_figures_headers()],
        [[_(row.name), *_figures(row)] for row in rows],
    )


def _month_table(rows) -> Table:
    return (
        _("按月份"),
        [_("月份"), *_figures_headers()],
        [[f"{row.month:%Y-%m}", *_figures(row)] for row in rows],
    )


def unit_tables(report: UnitReport, unit_name: str) -> list[Table]:
    teams = (
        _("按服务队"),
        [_("服务队"), _("所属单位"), *_figures_headers()],
        [[row.name, row.unit_name, *_figures(row)] for row in report.by_team],
    )
    teams[2].append([_("合计"), unit_name, *_figures(report.totals)])
    return [teams, _category_table(report.by_category), _month_table(report.by_month)]


def team_tables(report: TeamReport) -> list[Table]:
    people = (
        _("按志愿者"),
        [
            _("姓名"),
            _("手机号码"),
            _("服务时长（小时）"),
            _("服务时长（分钟）"),
            _("服务次数"),
            _("有服务的月数"),
            _("现为队员"),
        ],
        [
            [
                row.name,
                row.phone,
                hours_value(row.minutes),
                row.minutes,
                row.services,
                row.active_months,
                _("是") if row.is_member else _("否"),
            ]
            for row in report.by_person
        ],
    )
    totals = report.totals
    people[2].append(
        [_("合计"), "", hours_value(totals.minutes), totals.minutes, totals.services, "", ""]
    )
    return [people, _category_table(report.by_category), _month_table(report.by_month)]


# -- CSV ---------------------------------------------------------------------------------


def to_csv(tables: Sequence[Table], heading: Iterable[str] = ()) -> bytes:
    """The tables one after the other, a blank line between them, each with its title
    and header row; UTF-8 with a BOM and CRLF line ends, as Excel expects. Every cell,
    the heading's too, goes through the one sanitiser (volunteer_hub.spreadsheets)."""
    heading = list(heading)
    lines: list[list] = [[line] for line in heading]
    for index, (title, headers, rows) in enumerate(tables):
        if index or heading:
            lines.append([])
        if len(tables) > 1:
            lines.append([title])
        lines.append(headers)
        lines.extend(rows)
    return spreadsheets.csv_bytes(lines)


# -- XLSX --------------------------------------------------------------------------------


def to_xlsx(tables: Sequence[Table], heading: Sequence[str] = ()) -> bytes:
    """One sheet per table: the heading lines on top, then the header row (bold, frozen)
    and the rows; numbers stay numbers."""
    # openpyxl is imported here, not with the module: only an export needs it, and every
    # web and worker process would otherwise carry it (bench/README.md, memory).
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    for title, headers, rows in tables:
        sheet = book.create_sheet(title=title[:31])
        for line in heading:
            append_row(sheet, [line])
        for cell in append_row(sheet, headers):
            cell.font = Font(bold=True)
        header_row = sheet.max_row
        for row in rows:
            append_row(sheet, row)
        sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
        _fit_columns(sheet, [headers, *rows])
    return _save(book)


def _fit_columns(sheet, rows: Iterable[Sequence]) -> None:
    from openpyxl.utils import get_column_letter

    widths: dict[int, int] = {}
    for row in rows:
        for index, value in enumerate(row, start=1):
            text = str(value if value is not None else "")
            # CJK characters take two columns.
            width = sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
            widths[index] = max(widths.get(index, 0), width)
    for index, width in widths.items():
        sheet.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), 60)


def _save(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# -- the certificate ---------------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    """What a 志愿服务记录证明 says: who, for which team and organization, each verified
    service, the total; the place and date for the seal are left to the team."""

    name: str
    phone_masked: str
    team_name: str
    #: the team's unit chain, root first: 湖北省 › 鄂州市 › 鄂城区
    organization: list[str]
    history: PersonHistory
    issued_on: date

    @property
    def services(self):
        return self.history.verified()

    @property
    def total_minutes(self) -> int:
        return sum(row.minutes for row in self.services)


def service_date(at: datetime) -> str:
    local = to_local(at)
    return f"{local:%Y-%m-%d}"


def certificate_xlsx(cert: Certificate) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, Side

    book = Workbook()
    sheet = book.active
    sheet.title = _("志愿服务记录证明")[:31]
    bold = Font(bold=True)
    (title,) = append_row(sheet, [_("志愿服务记录证明")])
    title.font = Font(bold=True, size=16)
    title.alignment = Alignment(horizontal="center")
    sheet.merge_cells("A1:D1")
    append_row(sheet, [])
    for label, value in (
        (_("姓名"), cert.name),
        (_("手机号码"), cert.phone_masked),
        (_("服务队"), cert.team_name),
        (_("组织单位"), " ".join(cert.organization)),
    ):
        append_row(sheet, [label, value])[0].font = bold
    append_row(sheet, [])
    for cell in append_row(sheet, [_("序号"), _("服务日期"), _("服务内容"), _("服务时长（小时）")]):
        cell.font = bold
    header_row = sheet.max_row
    thin = Side(style="thin")
    for index, row in enumerate(cert.services, start=1):
        append_row(
            sheet, [index, service_date(row.started_at), row.content, hours_value(row.minutes)]
        )
    append_row(sheet, ["", "", _("合计"), hours_value(cert.total_minutes)])[2].font = bold
    for row in sheet.iter_rows(min_row=header_row, max_row=sheet.max_row, max_col=4):
        for cell in row:
            cell.border = Border(top=thin, bottom=thin, left=thin, right=thin)
    append_row(sheet, [])
    append_row(sheet, [_("以上志愿服务经本队记录、核实无误，特此证明。")])
    append_row(sheet, [])
    append_row(sheet, ["", "", _("出具单位：%(team)s（盖章）", team=cert.team_name)])
    append_row(sheet, ["", "", _("日期：%(year)d年%(month)d月%(day)d日", **_ymd(cert.issued_on))])
    sheet.column_dimensions["A"].width = 12
    sheet.column_dimensions["B"].width = 14
    sheet.column_dimensions["C"].width = 48
    sheet.column_dimensions["D"].width = 18
    sheet.page_setup.orientation = "portrait"
    sheet.page_setup.fitToWidth = 1
    return _save(book)


def _ymd(day: date) -> dict[str, int]:
    return {"year": day.year, "month": day.month, "day": day.day}
