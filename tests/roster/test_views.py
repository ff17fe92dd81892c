"""The import pages: upload, preview, apply as a job with progress, downloads, who may."""

from __future__ import annotations

import io
import re

from openpyxl import load_workbook

from tests.conftest import login, token_from
from tests.roster.conftest import HEADERS, count, office_xlsx, phone, xlsx
from volunteer_hub.extensions import db
from volunteer_hub.roster.models import RosterImport
from volunteer_hub.roster.reader import read_roster
from volunteer_hub.teams.models import InvitationStatus, Membership, TeamInvitation


def upload(client, content: bytes, team_id="", name="roster.xlsx", **extra):
    return client.post(
        "/roster/import",
        data={"file": (io.BytesIO(content), name), "team_id": str(team_id), **extra},
        content_type="multipart/form-data",
    )


def import_id(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    return int(re.search(r"/roster/imports/(\d+)", response.headers["Location"]).group(1))


def test_a_leader_previews_then_applies_with_a_worker(make, client, worker, broker):
    team = make.team(name="凤凰队")
    leader = make.leader(team)
    registered = make.member(make.team(), name="存档姓名")
    login(client, leader)
    content = xlsx(("Sheet1", [["姓名", "手机号"], ["王五", registered.phone], ["新人", phone(1)]]))
    record_id = import_id(upload(client, content, team.id))
    page = client.get(f"/roster/imports/{record_id}").get_data(as_text=True)
    assert "新人" in page and "王五" in page and "137****0001" in page
    assert "存档姓名" not in page and registered.phone[3:] not in page
    assert "确认导入" in page and count(Membership, Membership.team_id == team.id) == 1

    response = client.post(f"/roster/imports/{record_id}/apply")
    assert response.status_code == 302
    db.session.rollback()  # SQLite: the test's own transaction would hold the write lock
    broker.join("roster")
    worker.join()
    status = client.get(f"/roster/imports/{record_id}/status").get_json()
    assert status["status"] == "done" and status["done"] == status["total"] == 2
    assert status["counts"]["new"] == 1 and status["counts"]["invited"] == 1
    done = client.get(f"/roster/imports/{record_id}")
    assert "Refresh" not in done.headers and "导入完成" in done.get_data(as_text=True)
    assert count(TeamInvitation, TeamInvitation.team_id == team.id) == 1
    # Applying twice is refused; nothing runs again.
    client.post(f"/roster/imports/{record_id}/apply")
    assert count(Membership, Membership.team_id == team.id) == 2


def test_the_page_refreshes_while_the_job_waits(make, client):
    team = make.team()
    leader = make.leader(team)
    login(client, leader)
    record_id = import_id(
        upload(client, xlsx(("Sheet1", [["姓名", "手机号"], ["甲", phone(2)]])), team.id)
    )
    client.post(f"/roster/imports/{record_id}/apply")  # no worker: it stays queued
    page = client.get(f"/roster/imports/{record_id}")
    assert page.headers["Refresh"] == "2"
    assert "<progress" in page.get_data(as_text=True)


def test_errors_download_as_a_workbook_that_can_be_uploaded_again(make, client):
    admin = make.admin()
    make.team(make.unit("鄂城区"), name="甲队")
    login(client, admin)
    make.team(make.unit("西山街道"), name="乙队")
    content = xlsx(
        (
            "Sheet1",
            [
                HEADERS,
                ["张一", "138", "是", "", "甲队", ""],
                ["张二", phone(2), "是", "", "甲队", ""],
                ["李三", phone(3), "是", "", "乙队", ""],
            ],
        )
    )
    record_id = import_id(upload(client, content))
    page = client.get(f"/roster/imports/{record_id}").get_data(as_text=True)
    assert "第 2 行" in page and "第 3 行" not in page
    sheet = client.get(f"/roster/imports/{record_id}/errors.xlsx")
    assert sheet.mimetype.endswith("spreadsheetml.sheet")
    # The bad row, and the good row of the same team held back with it; not 乙队's row.
    rows = read_roster(sheet.data, "errors.xlsx")
    assert [(r.name, r.phone, r.team) for r in rows] == [
        ("张一", "138", "甲队"),
        ("张二", phone(2), "甲队"),
    ]
    reasons = [row[-1] for row in load_workbook(io.BytesIO(sheet.data)).active.values]
    assert "无需修改" in reasons[2] and "无需修改" not in reasons[1]


def test_the_template_has_the_preferred_headers(make, client):
    login(client, make.leader(make.team()))
    response = client.get("/roster/template.xlsx")
    header = next(load_workbook(io.BytesIO(response.data)).active.iter_rows(values_only=True))
    assert header[:2] == ("姓名", "手机号") and "是否退役军人" in header


def test_bad_input_changes_nothing(make, client, app):
    team = make.team()
    leader = make.leader(team)
    login(client, leader)
    response = upload(client, b"%PDF-1.4 not a roster", team.id, name="scan.pdf")
    assert response.status_code == 400
    assert "无法识别这个文件" in response.get_data(as_text=True)
    app.config["ROSTER_MAX_BYTES"] = 1024
    try:
        big = upload(client, b"x" * 4096, team.id, name="big.csv")
    finally:
        del app.config["ROSTER_MAX_BYTES"]
    assert big.status_code == 413 and "文件过大" in big.get_data(as_text=True)
    missing = upload(client, xlsx(("Sheet1", [["姓名", "手机号"], ["甲", phone(3)]])), "")
    assert missing.status_code == 400  # a leader must say which team
    assert count(RosterImport) == 0


def test_only_the_importer_and_admins_see_an_import(make, client):
    team = make.team()
    leader = make.leader(team)
    login(client, leader)
    record_id = import_id(
        upload(client, xlsx(("Sheet1", [["姓名", "手机号"], ["甲", phone(4)]])), team.id)
    )
    other_leader = make.leader(make.team())
    client.post("/logout")
    login(client, other_leader)
    assert client.get(f"/roster/imports/{record_id}").status_code == 404
    assert client.post(f"/roster/imports/{record_id}/apply").status_code == 404
    theirs = upload(client, xlsx(("Sheet1", [["姓名", "手机号"], ["乙", phone(6)]])), team.id)
    assert theirs.status_code == 400 and "服务队不存在" in theirs.get_data(as_text=True)
    assert count(RosterImport) == 1
    client.post("/logout")
    login(client, make.admin())
    assert client.get(f"/roster/imports/{record_id}").status_code == 200
    client.post("/logout")
    volunteer = make.person(password="correct-horse-42")
    login(client, volunteer)
    assert client.get("/roster/import").status_code == 404


def test_forms_need_the_csrf_token(make, client, csrf_on):
    team = make.team()
    leader = make.leader(team)
    client.get("/login")
    page = client.get("/login").get_data(as_text=True)
    client.post(
        "/login",
        data={
            "phone": leader.phone,
            "password": "correct-horse-42",
            "csrf_token": token_from(page),
        },
    )
    content = xlsx(("Sheet1", [["姓名", "手机号"], ["甲", phone(5)]]))
    assert upload(client, content, team.id).status_code == 400
    form = client.get("/roster/import").get_data(as_text=True)
    response = upload(client, content, team.id, csrf_token=token_from(form))
    record_id = import_id(response)
    assert client.post(f"/roster/imports/{record_id}/apply").status_code == 400
    db.session.expire_all()
    assert db.session.get(RosterImport, record_id).status == "previewed"


def test_the_preview_names_hidden_sheets_and_declined_invitations(make, client):
    team = make.team()
    leader = make.leader(team)
    declined = make.member(make.team())
    db.session.add(
        TeamInvitation(
            team_id=team.id,
            person_id=declined.id,
            name_given="王五",
            status=InvitationStatus.DECLINED,
        )
    )
    db.session.commit()
    login(client, leader)
    content = office_xlsx(
        ("Sheet1", [["姓名", "手机号"], ["王五", declined.phone]]),
        ("旧名单", [["姓名", "手机号"], ["隐藏甲", phone(3)]]),
        hidden=("旧名单",),
    )
    page = client.get(f"/roster/imports/{import_id(upload(client, content, team.id))}")
    text = page.get_data(as_text=True)
    assert "以下隐藏的工作表未导入：旧名单" in text
    assert "已拒绝邀请" in text and "隐藏甲" not in text
