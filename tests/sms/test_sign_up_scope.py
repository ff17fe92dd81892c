"""报名 CODE by text: a members-only event takes its team's members only; every answer
names the team and the place (a code of another team, or one digit wrong, shows at once)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from volunteer_hub.config import DEFAULT_SMS_SIGNATURE
from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.signups.models import Signup
from volunteer_hub.sms.models import OutgoingSms
from volunteer_hub.sms.segments import count_segments


@pytest.fixture
def wuhan(make):
    return make.team(make.unit("武汉市"), name="长江卫士应急救援队")


@pytest.fixture
def ezhou_member(make):
    return make.member(make.team(make.unit("鄂州市"), name="鄂城区退役军人志愿服务队"))


def _event(make, team, **kwargs):
    kwargs.setdefault("title", "江滩防汛巡查")
    kwargs.setdefault("location", "汉阳江滩")
    event = make.event(team, **kwargs)
    return event, make.shifts_of(event)[0]


def _counts():
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Signup, OutgoingSms)
    )


def test_another_teams_code_is_refused_and_named(client, sms_webhook, make, wuhan, ezhou_member):
    _event_row, shift = _event(make, wuhan)
    before = _counts()

    reply = sms_webhook(client, ezhou_member.phone, f"报名 {shift.code}")

    assert "长江卫士应急救援队" in reply and "江滩防汛巡查" in reply and "汉阳江滩" in reply
    assert "仅限该队队员报名" in reply and "未为您报名" in reply
    assert _counts() == (before[0], before[1] + 1)  # the reply is the only new row
    assert db.session.get(Shift, shift.id).filled == 0


def test_an_open_event_takes_anyone_and_the_reply_names_team_and_place(
    client, sms_webhook, make, wuhan, ezhou_member
):
    _event_row, shift = _event(make, wuhan, open_to_all=True)

    reply = sms_webhook(client, ezhou_member.phone, f"报名{shift.code}")

    assert reply.startswith(DEFAULT_SMS_SIGNATURE + "报名成功：长江卫士应急救援队“江滩防汛巡查”")
    assert "地点：汉阳江滩" in reply and f"取消 {shift.code}" in reply
    assert count_segments(reply) == 1
    signup = db.session.scalar(select(Signup).where(Signup.shift_id == shift.id))
    assert (signup.person_id, signup.status, signup.source) == (ezhou_member.id, "confirmed", "sms")


def test_members_sign_up_and_the_waitlist_reply_names_team_place_and_position(
    client, sms_webhook, make, wuhan
):
    _event_row, shift = _event(make, wuhan, capacity=1)
    first, second = make.member(wuhan), make.member(wuhan)

    confirmed = sms_webhook(client, first.phone, f"报名 {shift.code}")
    waitlisted = sms_webhook(client, second.phone, f"BM {shift.code}")
    again = sms_webhook(client, second.phone, f"报名 {shift.code}")

    assert "报名成功" in confirmed and "长江卫士应急救援队" in confirmed
    assert "候补第1位" in waitlisted
    for reply in (confirmed, waitlisted, again):
        assert "长江卫士应急救援队“江滩防汛巡查”" in reply and "地点：汉阳江滩" in reply, reply
        assert count_segments(reply) == 1, reply
    assert "无需重复报名" in again


def test_a_long_team_name_and_place_still_fit_one_segment(client, sms_webhook, make):
    team = make.team(name="鄂州市梁子湖区涂家垴镇退役军人志愿服务队（第三分队）")
    _event_row, shift = _event(
        make,
        team,
        title="汛期江堤夜间巡查与险情报告",
        location="鄂州市鄂城区莲花山社区党群服务中心",
    )
    reply = sms_webhook(client, make.member(team).phone, f"报名 {shift.code}")
    assert reply.startswith(DEFAULT_SMS_SIGNATURE + "报名成功：鄂州市")
    assert "地点：鄂州市" in reply and f"取消 {shift.code}" in reply
    assert count_segments(reply) == 1
