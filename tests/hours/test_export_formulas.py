"""No export carries a formula (issue 11, defect 4): every CSV and XLSX the product
writes (team and unit reports, heading cells included, and the certificate) neutralises
text a spreadsheet would run, keeps numbers as numbers and stores XLSX text as strings."""

from __future__ import annotations

import csv
import io
import unicodedata

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.conftest import login
from tests.hours.report_support import at, served, settle
from volunteer_hub.extensions import db
from volunteer_hub.hours.models import ServiceRecord

PERIOD = {"from": "2025-01", "to": "2025-12"}
NAME = '=HYPERLINK("http://x","y")'
TEAM = "+cmd|' /C calc'!A0"
UNIT = "@SUM(1+1)*cmd"
#: record contents as an import or an old version may have stored them
CONTENTS = ["\t=1+1", "\r=1+1", "\n=1+1", "＝1+1", "－2+3", "＠A1", "﹦1", "-2+3", " =1"]
TRIGGERS = set("=+-@\t\r\n")


def formula_like(text: str) -> bool:
    """What a spreadsheet may run: a trigger first, or first after spaces, in half- or
    full-width form."""
    if not text:
        return False
    if text[0] in TRIGGERS:
        return True
    first = text.lstrip()[:1]
    return bool(first) and unicodedata.normalize("NFKC", first)[:1] in TRIGGERS


@pytest.fixture
def scene(make, broker, worker):
    from types import SimpleNamespace

    unit = make.unit(UNIT)
    team = make.team(unit, name=TEAM)
    leader = make.leader(team)
    hostile = make.member(team, name=NAME)
    for day, _content in enumerate(CONTENTS, start=1):
        served(team, leader, when=at(2025, 3, day), hours_each=2, people=0, existing=[hostile])
    records = db.session.scalars(
        select(ServiceRecord).where(ServiceRecord.person_id == hostile.id).order_by("id")
    ).all()
    for record, content in zip(records, CONTENTS, strict=True):
        record.content = content
    db.session.commit()
    settle(broker, worker)
    return SimpleNamespace(
        unit=unit,
        team=team,
        leader=leader,
        hostile=hostile,
        coordinator=make.coordinator(unit),
    )


def csv_cells(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))


def xlsx_book(response):
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return load_workbook(io.BytesIO(response.data))


def assert_csv_safe(rows: list[list[str]]) -> None:
    bad = [cell for row in rows for cell in row if formula_like(cell)]
    assert bad == []


def assert_xlsx_safe(book) -> None:
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not formula_like(cell.value), (sheet.title, cell.coordinate)


def test_team_report_csv_neutralises_names_heading_and_keeps_numbers(client, scene):
    login(client, scene.leader)
    rows = csv_cells(client.get(f"/teams/{scene.team.id}/hours/report.csv", query_string=PERIOD))
    assert_csv_safe(rows)
    assert rows[0] == [f"'{TEAM} 志愿服务时长统计"]  # the heading cell
    person = next(row for row in rows if row and row[0] == "'" + NAME)
    # Hours are numbers, written as such: 9 services of 2 hours.
    assert person[2:5] == ["18", "1080", "9"]


def test_team_report_xlsx_has_no_formula_and_a_sanitised_heading(client, scene):
    login(client, scene.leader)
    book = xlsx_book(client.get(f"/teams/{scene.team.id}/hours/report.xlsx", query_string=PERIOD))
    assert_xlsx_safe(book)
    for sheet in book.worksheets:
        assert sheet["A1"].value == f"'{TEAM} 志愿服务时长统计"
        assert sheet["A1"].data_type == "s"
    rows = list(book["按志愿者"].iter_rows(values_only=True))
    person = next(row for row in rows if row[0] == "'" + NAME)
    assert person[2:5] == (18, 1080, 9)


def test_unit_report_csv_and_xlsx_neutralise_unit_and_team_names(client, scene):
    login(client, scene.coordinator)
    args = {**PERIOD, "unit": scene.unit.id}
    rows = csv_cells(client.get("/hours/reports.csv", query_string=args))
    assert_csv_safe(rows)
    assert rows[0] == [f"'{UNIT} 志愿服务时长统计"]
    assert ["'" + TEAM, "'" + UNIT, "18", "1080", "9", "1"] in rows

    book = xlsx_book(client.get("/hours/reports.xlsx", query_string=args))
    assert_xlsx_safe(book)
    assert book["按服务队"]["A1"].value == f"'{UNIT} 志愿服务时长统计"
    values = list(book["按服务队"].iter_rows(values_only=True))
    assert ("'" + TEAM, "'" + UNIT, 18, 1080, 9, 1) in values


def test_certificate_xlsx_writes_name_team_and_contents_as_text(client, scene):
    login(client, scene.leader)
    url = f"/teams/{scene.team.id}/hours/people/{scene.hostile.id}/certificate.xlsx"
    book = xlsx_book(client.get(url))
    assert_xlsx_safe(book)
    sheet = book.active
    cells = {
        cell.value: cell for row in sheet.iter_rows() for cell in row if cell.value is not None
    }
    assert cells["'" + NAME].data_type == "s"
    assert "'" + TEAM in cells and "'" + UNIT in cells  # team, and the unit chain
    for content in CONTENTS:
        # XML reads a stored CR back as LF.
        assert "'" + content.replace("\r", "\n") in cells, repr(content)
    assert cells["'" + CONTENTS[0]].offset(column=1).value == 2  # hours stay a number
