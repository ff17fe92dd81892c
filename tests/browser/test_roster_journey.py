"""A district goes live from its Excel sheets: an admin imports two teams, fixes the bad
rows from the sheet the page hands back and imports again; a leader imports a roster in
which two people already serve elsewhere — they are invited by text, not enrolled."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.browser.conftest import DESKTOP, PHONE, release_database, staff_login
from tests.roster.conftest import HEADERS, xlsx
from volunteer_hub.extensions import db
from volunteer_hub.teams.models import Membership, Team, TeamInvitation

pytestmark = pytest.mark.slow

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip with the reason
    expect = None

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def workbook(rows: list[list], header: list = HEADERS) -> bytes:
    return xlsx(("Sheet", [header, *rows]))


def upload(page, name: str, content: bytes, team: str | None = None) -> None:
    page.goto("/roster/import")
    if team is not None:
        page.get_by_label("导入到").select_option(label=team)
    page.get_by_label("花名册文件").set_input_files(
        files=[{"name": name, "mimeType": XLSX, "buffer": content}]
    )
    page.get_by_role("button", name="上传并预览").click()
    expect(page.get_by_role("heading", name="预览")).to_be_visible()


def apply_and_wait(page, broker, worker) -> None:
    page.get_by_role("button", name="确认导入").click()
    broker.join("roster")
    worker.join()
    page.reload()
    expect(page.get_by_role("heading", name="导入完成")).to_be_visible()


def members_of(team_name: str) -> int:
    count = db.session.scalar(
        select(func.count())
        .select_from(Membership)
        .join(Team, Team.id == Membership.team_id)
        .where(Team.name == team_name)
    )
    release_database()  # the server's requests must not wait for the test's transaction
    return count


def test_an_admin_imports_two_teams_fixes_the_bad_rows_and_imports_again(
    journey, make, broker, worker
):
    city = make.unit("鄂州市")
    district = make.unit("鄂城区", parent=city)
    make.unit("凤凰街道", parent=district)
    make.unit("西山街道", parent=district)
    admin = make.admin(name="市管理员")
    admin_phone = admin.phone
    release_database()
    flood, lecture = "凤凰街道防汛突击队", "西山街道红色宣讲队"
    content = workbook(
        [
            ["王建国", "13700000001", "是", "急救", flood, "凤凰街道"],
            ["李卫东", "13700000002", "是", "驾驶", flood, "凤凰街道"],
            ["赵红梅", "13700000003", "否", "", flood, "凤凰街道"],
            ["刘德胜", "13700000011", "是", "讲解", lecture, "西山街道"],
            ["", "13700000012", "是", "", lecture, "西山街道"],  # no name
            ["陈志强", "1370000001", "是", "", lecture, "西山街道"],  # ten digits
            ["周保国", "13700000011", "是", "", lecture, "西山街道"],  # phone twice
            ["孙立新", "13700000014", "是", "讲解", lecture, "西山街道"],
        ]
    )

    desk = journey("admin", DESKTOP)
    page = desk.page
    staff_login(page, admin_phone, make.PASSWORD)
    upload(page, "鄂城区花名册.xlsx", content)
    errors = page.locator("#errors")
    expect(errors.get_by_text("第 6 行")).to_be_visible()
    expect(errors.locator("tbody tr")).to_have_count(3)
    expect(page.get_by_text("错误行：3 行")).to_be_visible()
    desk.shot("preview-with-errors")

    # The clean team goes in; the team with errors is held back whole.
    apply_and_wait(page, broker, worker)
    desk.shot("first-import-done")
    expect(page.get_by_text("新队员：3 人")).to_be_visible()
    expect(page.get_by_text("因同队有错误而未导入：2 行")).to_be_visible()
    assert members_of(flood) == 3 and members_of(lecture) == 0

    # The sheet handed back holds the three bad rows with their reasons, and the two rows
    # held back with them; fixed and uploaded, it brings the whole team in.
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("下载未导入的行")).click()
    sheet = load_workbook(io.BytesIO(download.value.path().read_bytes())).active
    header = [cell.value for cell in sheet[1]]
    rows = [list(row) for row in sheet.iter_rows(min_row=2, values_only=True)]
    reasons = [row[header.index("错误原因")] for row in rows]
    assert len(rows) == 5 and sum("未导入（无需修改）" in reason for reason in reasons) == 2
    name, phone, line = header.index("姓名"), header.index("手机号"), header.index("原行号")
    fixes = {6: (name, "吴海涛"), 7: (phone, "13700000013"), 8: (phone, "13700000015")}
    for row in rows:
        if row[line] in fixes:
            column, value = fixes[row[line]]
            row[column] = value
    upload(page, "鄂城区花名册-改正.xlsx", workbook(rows, header))
    expect(page.get_by_text("错误行：0 行")).to_be_visible()
    expect(page.get_by_text("新队员：5 人")).to_be_visible()
    desk.shot("fixed-preview")
    apply_and_wait(page, broker, worker)
    assert members_of(flood) == 3 and members_of(lecture) == 5
    desk.shot("second-import-done")

    # Importing the first file again changes nothing it had already done.
    upload(page, "鄂城区花名册.xlsx", content)
    expect(page.get_by_text("新队员：0 人")).to_be_visible()


def test_a_leader_imports_people_from_other_teams_who_are_invited_by_text(
    journey, make, broker, worker
):
    street = make.unit("凤凰街道")
    team = make.team(street, name="莲花山社区戎马志愿服务队")
    leader = make.leader(team, name="张队长")
    elsewhere = make.team(street, name="东塔社区志愿服务队")
    first = make.member(elsewhere, name="档案姓名甲")
    second = make.member(make.team(street), name="档案姓名乙")
    leader_phone, first_phone, second_phone = leader.phone, first.phone, second.phone
    release_database()
    content = workbook(
        [
            ["王建国", first_phone, "是", "急救", "", ""],
            ["李卫东", second_phone, "是", "", "", ""],
            ["赵红梅", "13700000021", "否", "讲解", "", ""],
        ]
    )

    phone = journey("leader", PHONE)
    page = phone.page
    staff_login(page, leader_phone, make.PASSWORD)
    upload(page, "戎马队.xlsx", content, team="莲花山社区戎马志愿服务队")
    expect(page.get_by_text("将发送入队邀请：2 人", exact=False)).to_be_visible()
    # Stored names of people registered elsewhere are never shown to the importer.
    expect(page.get_by_text("档案姓名甲")).to_have_count(0)
    expect(page.get_by_text("档案姓名乙")).to_have_count(0)
    phone.shot("preview-invites")
    apply_and_wait(page, broker, worker)
    expect(page.get_by_text("已发送入队邀请：2 人")).to_be_visible()
    phone.shot("import-done")
    assert members_of("莲花山社区戎马志愿服务队") == 2  # the leader and the new person
    assert db.session.scalar(select(func.count()).select_from(TeamInvitation)) == 2
    release_database()

    # The invited person reads the invitation on their phone and accepts by text.
    broker.join("sms")
    worker.join()
    page.goto(f"/dev/sms?phone={first_phone}")
    invitation = page.locator(".sms-log").first
    expect(invitation.get_by_text("莲花山社区戎马志愿服务队", exact=False).first).to_be_visible()
    expect(invitation.get_by_text("加入", exact=False).first).to_be_visible()
    phone.shot("invitation-text")
    page.get_by_label("发信手机号").fill(first_phone)
    page.get_by_label("短信内容").fill("加入")
    page.get_by_role("button", name="发送给系统").click()
    expect(page.get_by_text(re.compile("回复：.*已加入"))).to_be_visible()
    phone.shot("accepted")
    assert members_of("莲花山社区戎马志愿服务队") == 3
