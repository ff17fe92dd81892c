"""Helpers for the roster import tests: workbooks and CSV files built in memory."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook
from sqlalchemy import func, select

from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.extensions import db
from volunteer_hub.roster import services
from volunteer_hub.roster.models import RosterImport
from volunteer_hub.roster.tasks import apply_roster_import

HEADERS = ["姓名", "手机号", "是否退役军人", "技能特长", "服务队", "所属单位"]


def xlsx(*sheets: tuple[str, list[list]]) -> bytes:
    """A workbook with one sheet per (title, rows); rows include the header."""
    return office_xlsx(*sheets)


def office_xlsx(
    *sheets: tuple[str, list[list]],
    merged: dict[str, list[str]] | None = None,
    hidden: tuple[str, ...] = (),
) -> bytes:
    """``xlsx`` as offices keep them: ``merged`` ranges by sheet title ("C2:C4": the value
    in C2 only, as Excel stores it), ``hidden`` sheets by title."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets:
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
        for cell_range in (merged or {}).get(title, []):
            sheet.merge_cells(cell_range)
        if title in hidden:
            sheet.sheet_state = "hidden"
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def csv_file(rows: list[list], encoding: str = "utf-8-sig", delimiter: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows(rows)
    return out.getvalue().encode(encoding)


def count(model, *where) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def phone(n: int) -> str:
    """Distinct valid mobiles the factories never hand out (137 …)."""
    return f"137{n:08d}"


def run(content: bytes, importer, team_id=None) -> RosterImport:
    """Preview, then apply through the actor (called directly: it runs here)."""
    record = services.create_import(content, "roster.xlsx", viewer_for(importer), team_id)
    services.queue_apply(record.id)
    db.session.commit()
    apply_roster_import(record.id)
    db.session.expire_all()
    return db.session.get(RosterImport, record.id)
