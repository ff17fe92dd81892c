"""The call-out reaches the rest of the product: the scheduler tick fires its rings, and
an answer texted to the SMS webhook's handler takes a seat before the other commands."""

from sqlalchemy import select

from tests.callouts.helpers import member_with_an_open_callout
from tests.callouts.test_rings import MINUTE, _texted, _two_rings
from tests.sms.helpers import texted
from volunteer_hub.extensions import db
from volunteer_hub.scheduler import tick
from volunteer_hub.signups.models import Signup, SignupStatus
from volunteer_hub.sms.models import InboundSms


def test_the_tick_fires_each_due_ring_once(make):
    callout, now, people, _shift = _two_rings(make)
    assert tick(now + 5 * MINUTE).fired_rings == 0
    assert tick(now + 10 * MINUTE).fired_rings == 1
    assert tick(now + 11 * MINUTE).fired_rings == 0
    assert {p.id for p in people["b"]} <= _texted(callout)


def test_a_texted_1_takes_a_seat_through_the_webhook_handler(make):
    member, shift = member_with_an_open_callout(make)

    result = texted(member.phone, "1", "SM-callout-1")

    assert result.reply.startswith("【") and "已为您留位" in result.reply
    signup = db.session.scalar(select(Signup).where(Signup.person_id == member.id))
    assert signup.shift_id == shift.id and signup.status == SignupStatus.CONFIRMED
    recorded = db.session.scalar(select(InboundSms).where(InboundSms.message_sid == "SM-callout-1"))
    assert recorded.command == "callout_reply"


def test_without_an_open_callout_the_words_mean_what_they_meant(make):
    team = make.team()
    member = make.member(team)
    shift = make.shifts_of(make.event(team, capacity=3))[0]

    result = texted(member.phone, f"报名 {shift.code}", "SM-callout-2")

    assert "报名成功" in result.reply
    recorded = db.session.scalar(select(InboundSms).where(InboundSms.message_sid == "SM-callout-2"))
    assert recorded.command != "callout_reply"


def test_an_opt_out_is_never_read_as_a_callout_answer(make):
    member, _shift = member_with_an_open_callout(make)

    texted(member.phone, "TD", "SM-callout-3")

    db.session.refresh(member)
    assert member.sms_opted_out
    assert db.session.scalar(select(Signup).where(Signup.person_id == member.id)) is None
