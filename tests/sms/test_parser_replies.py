"""What the webhook answers to the texts of tests/sms/test_parser.py (issue 16, items 1–4):
traditional and polite forms act like the plain ones, several codes get one text, 好的
confirms only right after a reminder (an open call-out first), 签到 without a code finds
the one shift open for it, 我的 2 shows the next page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from tests.callouts.helpers import data, viewer
from volunteer_hub.callouts import services as callouts
from volunteer_hub.db import utcnow
from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.hours.models import ServiceRecord
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import Signup, SignupSource, SignupStatus
from volunteer_hub.sms.models import SmsKind
from volunteer_hub.sms.services import queue_text
from volunteer_hub.sms.templates import render

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
SIGNATURE = "【退役军人志愿服务】"


def _now():
    return utcnow().replace(second=0, microsecond=0)


def _shift(make, team, code: str, *, starts_in=48 * HOUR, capacity=10, title="长江巡堤"):
    """A published one-shift event starting ``starts_in`` from now, its code ``code``."""
    event = make.event(
        team,
        shifts=[{"starts_at": _now() + starts_in, "ends_at": _now() + starts_in + 2 * HOUR,
                 "capacity": capacity}],
        title=title,
    )  # fmt: skip
    shift = make.shifts_of(event)[0]
    db.session.execute(update(Shift).where(Shift.id == shift.id).values(code=code))
    db.session.commit()
    return shift


def _seated(shift, person, *, at=None):
    signups.sign_up(shift.id, person.id, SignupSource.WEB, now=at or _now() - 72 * HOUR)
    db.session.commit()


def _signups(person) -> list[tuple[str, str]]:
    db.session.expire_all()
    rows = db.session.execute(
        select(Shift.code, Signup.status)
        .join(Shift, Shift.id == Signup.shift_id)
        .where(Signup.person_id == person.id)
        .order_by(Shift.code)
    )
    return [tuple(row) for row in rows]


@pytest.fixture
def team(make):
    return make.team()


# -- item 1: forms of a sign-up --------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["報名 7503", "我要报名7503", "报名一下 7503", "报名 75O3", "请帮我报名 75o3，谢谢"]
)
def test_every_form_signs_up(client, sms_webhook, make, team, text):
    shift = _shift(make, team, "7503")
    person = make.member(team)
    reply = sms_webhook(client, person.phone, text)
    assert reply.startswith(SIGNATURE + "报名成功：")
    assert _signups(person) == [(shift.code, SignupStatus.CONFIRMED)]


def test_several_codes_get_one_reply_covering_each(client, sms_webhook, make, team):
    _shift(make, team, "7503", title="防汛巡堤")
    full = _shift(make, team, "7290", capacity=1)
    _seated(full, make.member(team))
    person = make.member(team)

    reply = sms_webhook(client, person.phone, "报名 7503 7290 7311")

    assert reply == SIGNATURE + (
        "报名结果：7503 防汛巡堤 成功；7290 长江巡堤 候补第1位；7311 无此编号。回复“我的”查看安排。"
    )
    assert _signups(person) == [("7290", SignupStatus.WAITLISTED), ("7503", SignupStatus.CONFIRMED)]

    again = sms_webhook(client, person.phone, "取消 7503、7290")
    assert (
        again
        == SIGNATURE + "取消结果：7503 防汛巡堤 已取消；7290 长江巡堤 已取消。回复“我的”查看安排。"
    )
    assert {status for _code, status in _signups(person)} == {SignupStatus.CANCELLED}


def test_too_many_codes_change_nothing(client, sms_webhook, make, team):
    for code in ("7501", "7502", "7503", "7504", "7505"):
        _shift(make, team, code)
    person = make.member(team)
    reply = sms_webhook(client, person.phone, "报名 7501 7502 7503 7504 7505")
    assert reply == SIGNATURE + "一条短信最多4个编号，请分几次发送。"
    assert _signups(person) == []


# -- item 2: 好的 after a reminder -----------------------------------------------------


def _reminded(person, shift, *, sent_ago):
    """The reminder of the person's seat on ``shift``, sent ``sent_ago``."""
    signup = signups.active_signup(shift.id, person.id)
    row = queue_text(
        to_phone=person.phone,
        text=render("reminder", title="长江巡堤", when="明天", place="江堤", code=shift.code),
        kind=SmsKind.REMINDER,
        dedupe_key=f"reminder:{signup.id}:test",
        person_id=person.id,
        signup_id=signup.id,
    )
    row.sent_at = _now() - sent_ago
    db.session.commit()
    return signup


@pytest.mark.parametrize("word", ["好的", "收到", "是", "嗯", "1", "OK", "好的，谢谢"])
def test_acknowledgement_after_a_reminder_confirms(client, sms_webhook, make, team, word):
    shift = _shift(make, team, "7503", starts_in=20 * HOUR)
    person = make.member(team)
    _seated(shift, person)
    signup = _reminded(person, shift, sent_ago=2 * HOUR)

    reply = sms_webhook(client, person.phone, word)

    assert reply.startswith(SIGNATURE + "已确认参加长江巡堤（")
    db.session.expire_all()
    assert db.session.get(Signup, signup.id).attendance_confirmed_at is not None


@pytest.mark.parametrize("sent_ago", [None, 30 * HOUR])
def test_acknowledgement_without_a_recent_reminder_gets_the_help(
    client, sms_webhook, make, team, sent_ago
):
    shift = _shift(make, team, "7503", starts_in=20 * HOUR)
    person = make.member(team)
    _seated(shift, person)
    signup = signups.active_signup(shift.id, person.id)
    if sent_ago is not None:
        signup = _reminded(person, shift, sent_ago=sent_ago)

    reply = sms_webhook(client, person.phone, "好的")

    assert reply == SIGNATURE + render("help").text
    db.session.expire_all()
    assert db.session.get(Signup, signup.id).attendance_confirmed_at is None


def test_an_open_call_out_takes_the_1_before_a_reminder(client, sms_webhook, make, team):
    reminded_shift = _shift(make, team, "7503", starts_in=20 * HOUR)
    person = make.member(team)
    _seated(reminded_shift, person)
    signup = _reminded(person, reminded_shift, sent_ago=HOUR)
    duty = _shift(make, team, "4821", starts_in=3 * HOUR, title="防汛值守")
    callouts.start(viewer(make.leader(team)), data([duty], teams=[team], urgent=True))
    db.session.commit()

    reply = sms_webhook(client, person.phone, "1")

    assert reply.startswith(SIGNATURE + "已为您留位：防汛值守")
    assert ("4821", SignupStatus.CONFIRMED) in _signups(person)
    assert db.session.get(Signup, signup.id).attendance_confirmed_at is None


# -- item 3: 签到 / 签退 without a code ------------------------------------------------


def test_check_in_and_out_without_a_code_with_one_shift_open(client, sms_webhook, make, team):
    shift = _shift(make, team, "7503", starts_in=10 * MINUTE)
    _shift(make, team, "7290", starts_in=5 * HOUR)  # not open yet: no choice to make
    person = make.member(team)
    _seated(shift, person)

    checked_in = sms_webhook(client, person.phone, "簽到")
    assert checked_in.startswith(SIGNATURE + "签到成功：长江巡堤，")
    assert checked_in.endswith("结束时请回复 签退 7503")
    checked_out = sms_webhook(client, person.phone, "我要签退")
    assert checked_out.startswith(SIGNATURE + "签退成功：长江巡堤，")
    record = db.session.scalar(select(ServiceRecord))
    assert record.checked_in_at is not None and record.checked_out_at is not None


def test_check_in_without_a_code_lists_the_open_shifts(client, sms_webhook, make, team):
    person = make.member(team)
    for code, title in (("7503", "防汛巡堤"), ("7290", "江滩清洁")):
        _seated(_shift(make, team, code, starts_in=10 * MINUTE, title=title), person)

    reply = sms_webhook(client, person.phone, "签到")

    assert reply == SIGNATURE + "您有2个班次可签到，请回复 签到+编号：防汛巡堤 7503；江滩清洁 7290"
    assert db.session.scalar(select(func.count()).select_from(ServiceRecord)) == 0


def test_check_in_without_a_code_and_nothing_open_gets_the_format(client, sms_webhook, make, team):
    person = make.member(team)
    _seated(_shift(make, team, "7503", starts_in=5 * HOUR), person)
    reply = sms_webhook(client, person.phone, "签到")
    assert reply == SIGNATURE + "请回复 签到+编号，如：签到 1234"


# -- item 4: 我的 in pages -------------------------------------------------------------


def test_my_shifts_pages(client, sms_webhook, make, team):
    person = make.member(team)
    for day in range(1, 6):
        _seated(_shift(make, team, f"750{day}", starts_in=day * 24 * HOUR), person)

    first = sms_webhook(client, person.phone, "我的")
    assert first.endswith("另有2个，回复“我的 2”看下一页，或登录志愿者页面查看。")
    assert all(f"750{day}" in first for day in (1, 2, 3))
    second = sms_webhook(client, person.phone, "我的 2")
    assert "7504" in second and "7505" in second and "7501" not in second
    assert "另有" not in second
