"""A coordinator at a desk creates a team under their district and makes its leader's
account; the new leader, on a phone, logs in with the temporary password, must choose a
password first, then reaches the team and posts an event."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.browser.conftest import PHONE, local_midnight, release_database, staff_login
from tests.browser.test_volunteer_journey import read_texts
from volunteer_hub.audit.models import AuditEntry
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person

pytestmark = pytest.mark.slow

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip with the reason
    expect = None

LEADER_PHONE = "13972001234"
OWN_PASSWORD = "fenghuang-2026"


def test_coordinator_makes_a_leader_who_sets_a_password_and_posts_an_event(journey, make):
    city = make.unit("鄂州市")
    district = make.unit("鄂城区", parent=city)
    make.unit("凤凰街道", parent=district)
    make.team(make.unit("华容区", parent=city), name="华容区长江卫士服务队")  # not theirs
    coordinator = make.coordinator(district, name="鄂城区协调员")
    coordinator_phone = coordinator.phone
    release_database()

    desk = journey("coordinator")
    page = desk.page
    staff_login(page, coordinator_phone, make.PASSWORD)
    # The team first: under the street, from the unit tree.
    page.get_by_role("link", name="单位管理").click()
    page.get_by_role("link", name="凤凰街道").click()
    page.get_by_label("服务队名称").fill("凤凰街道退役军人志愿服务队")
    page.get_by_role("button", name="新建服务队").click()
    expect(page.get_by_text("已新建服务队：凤凰街道退役军人志愿服务队")).to_be_visible()
    desk.shot("team-created")
    team_id = int(re.search(r"/teams/(\d+)", page.url).group(1))
    page.get_by_role("link", name="员工账号").click()
    expect(page.get_by_role("heading", name="员工账号")).to_be_visible()
    page.get_by_role("link", name="新建账号").click()
    # Only the coordinator's own teams are offered.
    expect(page.get_by_label("华容区长江卫士服务队")).to_have_count(0)
    page.get_by_label("姓名").fill("赵建华")
    page.get_by_label("手机号码").fill(LEADER_PHONE)
    page.get_by_label("队长").check()
    page.get_by_role("button", name="新建账号").click()
    expect(page.locator("#team_ids-error")).to_have_text("请选择队长所在的服务队")  # a slip
    desk.shot("form-error")
    page.get_by_label("凤凰街道退役军人志愿服务队").check()
    page.get_by_role("button", name="新建账号").click()
    expect(page.get_by_role("heading", name="账号已新建")).to_be_visible()
    temporary = page.locator("#temporary-password").inner_text().strip()
    assert re.fullmatch(r"[a-z0-9]{10}", temporary)
    desk.shot("temporary-password")
    page.get_by_role("link", name="返回员工账号").click()
    expect(page.get_by_role("row", name=re.compile("赵建华.*待设置密码"))).to_be_visible()
    desk.shot("accounts")
    page.get_by_role("link", name="赵建华").click()
    expect(page.get_by_text("新建账号 · 鄂城区协调员")).to_be_visible()  # the audit trail
    expect(page.get_by_role("button", name="重置密码")).to_be_visible()
    desk.shot("account")
    # The same pages on the coordinator's phone.
    small = journey("coordinator-phone", PHONE)
    staff_login(small.page, coordinator_phone, make.PASSWORD)
    small.page.goto("/staff")
    expect(small.page.get_by_text("待设置密码")).to_be_visible()
    small.shot("accounts")
    small.page.get_by_role("link", name="新建账号").click()
    small.shot("new-account")

    # The new leader, on a phone.
    phone = journey("leader", PHONE)
    mobile = phone.page
    staff_login(mobile, LEADER_PHONE, temporary)
    expect(mobile.get_by_role("heading", name="设置您的密码")).to_be_visible()
    mobile.goto(f"/teams/{team_id}")  # nothing else opens until it is done
    expect(mobile.get_by_role("heading", name="设置您的密码")).to_be_visible()
    mobile.get_by_label("新密码").fill("short")
    mobile.get_by_role("button", name="保存密码").click()
    expect(mobile.get_by_text("密码至少 8 位").first).to_be_visible()
    phone.shot("choose-password-error")
    mobile.get_by_label("新密码").fill(OWN_PASSWORD)
    mobile.get_by_role("button", name="保存密码").click()
    expect(mobile.get_by_text("密码已设置")).to_be_visible()
    phone.shot("my-teams")

    mobile.get_by_role("link", name="凤凰街道退役军人志愿服务队").click()
    expect(mobile.get_by_role("heading", name="凤凰街道退役军人志愿服务队")).to_be_visible()
    mobile.get_by_role("link", name="发布新活动").first.click()
    mobile.get_by_label("活动名称").fill("凤凰小学护学岗")
    mobile.get_by_label("服务类别").select_option(label="护苗护学")
    mobile.get_by_label("地点").fill("鄂城区凤凰小学门口")
    row = mobile.locator("[data-shift-row]").first
    row.get_by_label("班次/岗位").fill("早班")
    row.get_by_label("日期").fill(local_midnight(days_ahead=3).date().isoformat())
    row.get_by_label("开始时间").fill("07:00")
    row.get_by_label("结束时间").fill("08:30")
    row.get_by_label("人数").fill("4")
    phone.shot("event-form")
    mobile.get_by_role("button", name="保存活动").click()
    expect(mobile.get_by_role("heading", name=re.compile("凤凰小学护学岗"))).to_be_visible()
    phone.shot("event")

    db.session.expire_all()
    leader = db.session.scalar(select(Person).where(Person.phone == "+86" + LEADER_PHONE))
    assert leader.name == "赵建华" and not leader.must_set_password
    actions = db.session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.subject_type == "person", AuditEntry.subject_id == leader.id
        )
    ).all()
    assert actions == ["account.created", "account.password_chosen"]


def test_leader_who_forgot_the_password_sets_a_new_one_with_a_texted_code(
    journey, make, broker, worker
):
    team = make.team(name="莲花山社区戎马志愿服务队")
    leader = make.leader(team, name="张队长")
    leader_phone, team_id = leader.phone, team.id
    release_database()

    phone = journey("leader", PHONE)
    page = phone.page
    page.goto("/login")
    page.get_by_role("link", name="忘记密码？").click()
    expect(page.get_by_role("heading", name="忘记密码")).to_be_visible()
    phone.shot("forgot")
    page.get_by_label("手机号码").fill(leader_phone)
    page.get_by_role("button", name="获取验证码").click()
    expect(page.get_by_role("heading", name="设置新密码")).to_be_visible()
    phone.shot("reset")
    code = re.search(r"验证码 (\d{6})", read_texts(phone, leader_phone, broker, worker))
    page.goto("/password/reset")
    page.get_by_label("短信验证码").fill(code.group(1))
    page.get_by_label("新密码").fill(OWN_PASSWORD)
    page.get_by_role("button", name="设置新密码").click()
    expect(page.get_by_text("密码已重设")).to_be_visible()
    phone.shot("login-again")
    staff_login(page, leader_phone, OWN_PASSWORD)
    page.goto(f"/teams/{team_id}")
    expect(page.get_by_role("heading", name="莲花山社区戎马志愿服务队")).to_be_visible()
