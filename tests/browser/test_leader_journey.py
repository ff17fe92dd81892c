"""A team leader at a desk: logs in, posts a flood-duty event with three shifts, texts
it to the team, watches the roster fill, and records last week's attendance."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from tests.browser.conftest import HOUR, local_midnight, release_database
from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.hours.models import Attendance, RecordStatus, ServiceRecord
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import SignupSource

pytestmark = pytest.mark.slow

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip with the reason
    expect = None


def test_leader_posts_broadcasts_fills_and_records_attendance(journey, make):
    team = make.team(name="长江卫士鄂城区应急救援队")
    leader = make.leader(team, name="张队长")
    members = [make.member(team, name=name) for name in ("王建国", "李卫东", "赵红梅", "陈志刚")]
    # Last week's duty, already served: its attendance is still to record.
    last_week = local_midnight(days_ahead=-6)
    past = make.event(
        team,
        title="上周江堤防汛值守",
        shifts=[
            {
                "starts_at": last_week + 8 * HOUR,
                "ends_at": last_week + 12 * HOUR,
                "capacity": 5,
                "title": "白班",
            }
        ],
    )
    past_shift = make.shifts_of(past)[0]
    for person in members[:3]:
        signups.sign_up(past_shift.id, person.id, SignupSource.SMS, now=last_week)
    db.session.commit()
    leader_phone, past_shift_id = leader.phone, past_shift.id
    member_ids = [m.id for m in members]
    team_id = team.id
    release_database()

    desk = journey("leader")
    page = desk.page
    page.goto("/login")
    page.get_by_label("手机号码").fill(leader_phone)
    page.get_by_label("密码").fill(make.PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.goto(f"/teams/{team_id}")
    expect(page.get_by_role("heading", name="长江卫士鄂城区应急救援队")).to_be_visible()
    desk.shot("team")

    # A new event: a mistake first (no title), then three shifts.
    page.get_by_role("link", name="发布新活动").click()
    day = local_midnight(days_ahead=4).date().isoformat()
    page.get_by_label("服务类别").select_option(label="防汛抗旱")
    page.get_by_label("地点").fill("鄂州市鄂城区长江干堤樊口段")
    rows = page.locator("[data-shift-row]")
    for index, (title, start, end, seats) in enumerate(
        [
            ("早班", "06:00", "12:00", "2"),
            ("中班", "12:00", "18:00", "2"),
            ("夜班", "18:00", "06:00", "2"),
        ]
    ):
        if rows.count() <= index:
            page.get_by_role("button", name="添加班次").click()
        row = rows.nth(index)
        row.get_by_label("班次/岗位").fill(title)
        row.get_by_label("日期").fill(day)
        row.get_by_label("开始时间").fill(start)
        row.get_by_label("结束时间").fill(end)
        row.get_by_label("人数").fill(seats)
    page.get_by_role("button", name="保存活动").click()
    expect(page.get_by_text("请填写活动名称").first).to_be_visible()
    desk.shot("form-error")
    page.get_by_label("活动名称").fill("汛期江堤24小时值守")
    page.get_by_role("button", name="保存活动").click()
    expect(page.get_by_role("heading", name=re.compile("汛期江堤24小时值守"))).to_be_visible()
    expect(page.get_by_text("共 3 个班次")).to_be_visible()
    desk.shot("event")

    # Text it to the team, urgently (flood duty goes out at night too).
    page.get_by_label("紧急（防汛等，夜间也发送）").check()
    page.get_by_role("button", name="发送短信通知").click()
    expect(page.get_by_text(re.compile("已通知 \\d+ 人"))).to_be_visible()
    desk.shot("broadcast-sent")

    # Members answer by text; the roster fills, the third for the early shift waits.
    event_id = int(re.search(r"/events/(\d+)", page.url).group(1))
    early = db.session.scalars(
        select(Shift.id).where(Shift.event_id == event_id).order_by(Shift.starts_at)
    ).first()
    for person_id in member_ids[:3]:
        signups.sign_up(early, person_id, SignupSource.SMS)
    db.session.commit()
    release_database()
    page.reload()
    early_card = page.locator(f"#shift-{early}")
    expect(early_card.get_by_text("王建国")).to_be_visible()
    expect(early_card.get_by_text("李卫东")).to_be_visible()
    waitlist = early_card.locator("section, div", has=page.get_by_role("heading", name="候补名单"))
    expect(waitlist.get_by_text("赵红梅").first).to_be_visible()
    desk.shot("roster-filled")

    # Last week's duty: everyone as planned, then one no-show and one late.
    page.goto(f"/shifts/{past_shift_id}/attendance")
    expect(page.get_by_role("heading", name=re.compile("出勤登记"))).to_be_visible()
    page.get_by_role("button", name="全部按计划出勤").click()
    expect(page.get_by_text("已登记 3 人")).to_be_visible()
    third = page.locator(f"#person-{member_ids[2]}")
    third.get_by_role("button", name="缺勤").click()
    second = page.locator(f"#person-{member_ids[1]}")
    second.get_by_label("到达时间").fill("09:30")
    second.get_by_role("button", name="迟到").click()
    expect(page.get_by_text("缺勤 1 人")).to_be_visible()
    desk.shot("attendance")

    # Verify the records: the no-show counts nothing, the late one from 09:30.
    page.goto(f"/teams/{team_id}/hours/records")
    for box in page.get_by_role("checkbox").all():
        box.check()
    page.get_by_role("button", name="审核通过所选记录").click()
    expect(page.get_by_text("已审核通过 3 条记录")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("李卫东.*2.5 小时"))).to_be_visible()
    desk.shot("records-verified")
    records = {
        r.person_id: (r.status, r.attendance, r.minutes)
        for r in db.session.scalars(select(ServiceRecord))
    }
    release_database()
    assert records == {
        member_ids[0]: (RecordStatus.VERIFIED, Attendance.PRESENT, 240),
        member_ids[1]: (RecordStatus.VERIFIED, Attendance.LATE, 150),
        member_ids[2]: (RecordStatus.VERIFIED, Attendance.ABSENT, 0),
    }
