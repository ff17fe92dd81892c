"""A leader at flood duty, on a phone and at a desk: a member who turned up without a
seat is added to the running (and full) shift and marked on site; then last night's
unplanned service is recorded for three people at once."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.browser.conftest import (
    DESKTOP,
    HOUR,
    PHONE,
    local_midnight,
    release_database,
    staff_login,
)
from volunteer_hub.db import utcnow
from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.hours.models import ServiceRecord
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import Signup, SignupSource

pytestmark = pytest.mark.slow


NAMES = ("王建国", "李卫东", "赵红梅", "陈志刚", "周大勇", "孙立新")


def _world(make, viewport_name: str):
    """A team; a two-seat shift that started an hour ago, both seats taken."""
    team = make.team(name=f"长江卫士鄂城区应急救援队（{viewport_name}）")
    leader = make.leader(team, name="张队长")
    members = [make.member(team, name=name) for name in NAMES]
    start = utcnow().replace(second=0, microsecond=0) - HOUR
    event = make.event(
        team,
        title="江堤防汛值守",
        shifts=[{"starts_at": start, "ends_at": start + 6 * HOUR, "capacity": 2, "title": "白班"}],
    )
    shift = make.shifts_of(event)[0]
    for person in members[:2]:
        signups.sign_up(shift.id, person.id, SignupSource.SMS, now=start - 24 * HOUR)
    db.session.commit()
    ids = {"team": team.id, "event": event.id, "shift": shift.id, "walk_in": members[4].id}
    ids["crew"] = [m.id for m in members[1:4]]
    phone = leader.phone
    release_database()
    return phone, ids


@pytest.mark.parametrize(("viewport_name", "viewport"), [("phone", PHONE), ("desk", DESKTOP)])
def test_walk_in_and_unplanned_service_for_three(journey, make, viewport_name, viewport):
    from playwright.sync_api import expect  # here: without it the journey fixture skips

    phone, ids = _world(make, viewport_name)
    leader = journey(f"leader-{viewport_name}", viewport)
    page = leader.page
    staff_login(page, phone, make.PASSWORD)

    # The shift is running and full: no sign-up form, a walk-in form instead.
    page.goto(f"/events/{ids['event']}")
    expect(page.locator(f"#shift-{ids['shift']}").get_by_text("代队员报名")).to_have_count(0)
    walk_in = page.locator(f"#walk-in-{ids['shift']}")
    walk_in.get_by_text("登记现场人员").click()
    walk_in.get_by_label("选择本队队员").select_option(label="周大勇")
    leader.shot("walk-in-form")
    walk_in.get_by_role("button", name="加入名单").click()

    for told in ("已将 周大勇 加入名单，请登记出勤", "班次已满：为 周大勇 增加了一个名额"):
        expect(page.get_by_text(told)).to_be_visible()
    row = page.locator(f"#person-{ids['walk_in']}")
    expect(row.get_by_text("周大勇")).to_be_visible()
    row.get_by_role("button", name="到岗").click()
    expect(page.get_by_text("已登记 周大勇：到岗")).to_be_visible()
    leader.shot("walk-in-marked")

    # Two nights ago three of them rescued people by the dike: one form, three records.
    # Not last night: from 00:00 to 01:00 Beijing time its 01:00 end is still to come.
    page.goto(f"/teams/{ids['team']}/hours/records/new")
    for name in ("李卫东", "赵红梅", "陈志刚"):
        page.get_by_role("checkbox", name=name).check()
    page.get_by_label("服务类别").select_option(label="抢险救灾")
    page.get_by_label("服务内容").fill("夜间抢险转移群众")
    page.get_by_label("日期").fill(local_midnight(days_ahead=-2).date().isoformat())
    page.get_by_label("开始时间").fill("21:00")
    page.get_by_label("结束时间").fill("01:00")
    leader.shot("unplanned-form")
    page.get_by_role("button", name="登记", exact=True).click()
    expect(page.get_by_text("已登记 李卫东、赵红梅、陈志刚 的计划外服务 4 小时")).to_be_visible()
    leader.shot("unplanned-recorded")

    seated = db.session.scalar(
        select(Signup.source).where(
            Signup.person_id == ids["walk_in"], Signup.shift_id == ids["shift"]
        )
    )
    shift = db.session.get(Shift, ids["shift"])
    unplanned = db.session.scalars(
        select(ServiceRecord.person_id).where(ServiceRecord.shift_id.is_(None))
    ).all()
    seats = (shift.filled, shift.capacity)
    release_database()
    assert seated == "walk_in" and seats == (3, 3)
    assert sorted(unplanned) == sorted(ids["crew"])
    assert re.search(r"/teams/\d+/hours/records", page.url)
