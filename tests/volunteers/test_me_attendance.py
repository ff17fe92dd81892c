"""/me and /me/hours tell the volunteer what their texts did: 确认 and 签到 show on the
shift's card, with how to check in and out by text, and a shift under way is 进行中."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from tests.volunteers.conftest import me_login, page
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance
from volunteer_hub.i18n import to_local
from volunteer_hub.signups.models import Signup
from volunteer_hub.signups.services import sign_up


@pytest.fixture
def logged_in(client, teams):
    me_login(client, teams.volunteer)
    return client


def card(html: str, signup_id: int) -> str:
    return html.split(f'id="shift-signup-{signup_id}"')[1].split("</li>")[0]


def test_a_seat_ahead_says_how_to_check_in_and_shows_a_texted_confirm(logged_in, teams, make):
    first, _second = make.shifts_of(teams.event_a)
    signup = sign_up(first.id, teams.volunteer.id, "sms").placed
    db.session.commit()

    seat = card(page(logged_in.get("/me")), signup.id)
    assert f"到场后发短信“签到 {first.code}”签到" in seat
    assert "已确认参加" not in seat and "已签到" not in seat
    assert "取消报名" in seat and "加入手机日历" in seat

    # what a texted 确认 to the reminder stores
    db.session.execute(
        update(Signup).where(Signup.id == signup.id).values(attendance_confirmed_at=utcnow())
    )
    db.session.commit()
    assert "已确认参加" in card(page(logged_in.get("/me")), signup.id)


def test_a_checked_in_shift_under_way_shows_the_time_and_how_to_check_out(logged_in, teams, make):
    now = utcnow()
    running = make.event(teams.team_a, shifts=1, starts_at=now - timedelta(hours=1), title="巡堤")
    shift = make.shifts_of(running)[0]
    signup = sign_up(shift.id, teams.volunteer.id, "sms", now=now - timedelta(days=1)).placed
    record = attendance.check_in(shift.id, teams.volunteer.id, now=now)
    db.session.commit()

    # Under way, the shift is still on /me: the volunteer on site needs its code.
    seat = card(page(logged_in.get("/me")), signup.id)
    assert f"已签到 {to_local(record.checked_in_at):%H:%M}" in seat
    assert "进行中" in seat
    assert f"结束时发短信“签退 {shift.code}”" in seat
    # On site, the seat is no longer given back with a tap.
    assert "取消报名" not in seat and "您已签到，不能在网上取消" in seat

    hours = page(logged_in.get("/me/hours"))
    entry = hours.split(f'id="record-{record.id}"')[1].split("</li>")[0]
    assert "进行中" in entry and "待审核" not in entry
    assert f"{to_local(record.checked_in_at):%H:%M} 签到" in entry

    attendance.check_out(shift.id, teams.volunteer.id, now=now + timedelta(minutes=30))
    db.session.commit()
    entry = page(logged_in.get("/me/hours")).split(f'id="record-{record.id}"')[1]
    entry = entry.split("</li>")[0]
    assert "进行中" not in entry and "待审核" in entry
