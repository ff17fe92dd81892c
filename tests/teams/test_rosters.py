"""A team's roster as XLSX (phones in full only for those allowed), and a shift's
printable sign-in sheet (签到表) at A4 with masked phones."""

from __future__ import annotations

import io

from openpyxl import load_workbook

from tests.conftest import login
from tests.teams.conftest import masked, spaced
from tests.web.conftest import page
from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.extensions import db
from volunteer_hub.signups.services import sign_up
from volunteer_hub.teams.rosters import roster_workbook


def sheet_rows(body: bytes) -> list[list]:
    sheet = load_workbook(io.BytesIO(body)).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


def test_the_leader_downloads_the_roster_with_full_phones_and_skills(client, world, make):
    make.member(world.team_a, name="刘洋", skills="驾驶、急救")
    login(client, world.leader_a)
    response = client.get(f"/teams/{world.team_a.id}/roster.xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "private, no-store"
    rows = sheet_rows(response.data)
    header = rows.index(["姓名", "手机号码", "角色", "技能特长", "退役军人", "入队日期"])
    people = {row[0]: row for row in rows[header + 1 :]}
    assert set(people) == {"张队长", "王建国", "刘洋"}
    assert people["张队长"][1] == spaced(world.leader_a.phone)
    assert people["张队长"][2] == "队长"
    assert people["刘洋"][3] == "驾驶、急救"


def test_phones_are_masked_for_a_viewer_who_may_not_read_them(world):
    rows = sheet_rows(roster_workbook(world.team_b, viewer_for(world.leader_a)))
    phones = {row[0]: row[1] for row in rows if row and row[0] in ("李队长", "赵卫东")}
    assert phones == {
        "李队长": masked(world.leader_b.phone),
        "赵卫东": masked(world.member_b.phone),
    }


def test_another_teams_roster_is_not_found(client, world):
    login(client, world.leader_a)
    assert client.get(f"/teams/{world.team_b.id}/roster.xlsx").status_code == 404


def test_sign_in_sheet_lists_the_confirmed_with_masked_phones_for_a4(client, world, make):
    event = make.event(world.team_a, shifts=1, title="护苗护学站岗", location="凤凰小学门口")
    shift = make.shifts_of(event)[0]
    sign_up(shift.id, world.member_a.id, "sms")
    db.session.commit()
    login(client, world.leader_a)
    response = client.get(f"/shifts/{shift.id}/sign-in-sheet")
    html = page(response)
    assert response.status_code == 200
    assert "签到表" in html and "护苗护学站岗" in html and "凤凰小学门口" in html
    assert world.team_a.name in html
    for column in ("姓名", "手机号码", "到达时间", "离开时间", "签名"):
        assert column in html
    assert "王建国" in html and masked(world.member_a.phone) in html
    assert spaced(world.member_a.phone) not in html
    assert "张队长" not in html  # not signed up
    assert "data-print" in html and "sign-in-sheet.css" in html
    with client.get("/static/sign-in-sheet.css") as stylesheet:
        css = stylesheet.get_data(as_text=True)
    assert "@page { size: A4" in css


def test_sign_in_sheet_of_another_team_is_not_found(client, world):
    login(client, world.leader_a)
    assert client.get(f"/shifts/{world.shift_b.id}/sign-in-sheet").status_code == 404


def test_the_manage_page_links_the_roster_and_each_shifts_sheet(client, world, make):
    login(client, world.leader_a)
    html = page(client.get(f"/teams/{world.team_a.id}/manage"))
    assert "下载花名册（Excel）" in html
    for shift in make.shifts_of(world.event_a):
        assert f"/shifts/{shift.id}/sign-in-sheet" in html
