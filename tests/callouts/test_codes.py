"""Codes of shifts and call-outs stay apart while a call-out takes replies, since
"报名 CODE" answers a call-out with that code before it signs up for a shift; an ended
call-out's code is free again, and then "报名 CODE" is the shift's."""

import secrets

import pytest
from sqlalchemy import select

from tests.callouts.helpers import data, member_with_an_open_callout, viewer
from tests.sms.helpers import inbound_row, texted
from volunteer_hub.callouts import answers, rings, services
from volunteer_hub.callouts.models import Callout, CalloutStatus
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.signups.models import Signup

#: with every random draw 234, the first code offered is 1234 and the next one 10234
DRAW = 234


def _draw_always(monkeypatch):
    monkeypatch.setattr(secrets, "randbelow", lambda _bound: DRAW)


def _callout_with_code(make, code: str, status: CalloutStatus) -> Callout:
    _member, shift = member_with_an_open_callout(make)
    shift.code = "555555"  # not in the way of the codes drawn
    callout = db.session.scalar(select(Callout))
    callout.code = code
    if status != CalloutStatus.ACTIVE:
        rings.end_callout(callout.id, status, callout.created_at)
    db.session.commit()
    return callout


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (CalloutStatus.ACTIVE, "10234"),
        (CalloutStatus.FULL, "10234"),  # still takes replies: they are waitlisted
        (CalloutStatus.STOPPED, "1234"),
    ],
)
def test_a_new_shift_takes_no_code_of_a_call_out_that_takes_replies(
    make, monkeypatch, status, expected
):
    _callout_with_code(make, "1234", status)
    team = make.team()
    _draw_always(monkeypatch)
    (shift,) = make.shifts_of(make.event(team))
    assert shift.code == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [(CalloutStatus.FULL, "10234"), (CalloutStatus.STOPPED, "1234")],
)
def test_a_new_call_out_takes_no_code_of_one_that_takes_replies(
    make, monkeypatch, status, expected
):
    _callout_with_code(make, "1234", status)
    team = make.team()
    shifts = make.shifts_of(make.event(team))
    shifts[0].code = "777777"
    leader = make.leader(team)
    db.session.commit()
    _draw_always(monkeypatch)
    callout, _found = services.start(viewer(leader), data(shifts, teams=[team]))
    assert callout.code == expected


def test_an_ended_call_outs_code_now_a_shifts_signs_up_for_the_shift(make):
    member, _callout_shift = member_with_an_open_callout(make)
    callout = db.session.scalar(select(Callout))
    services.stop(viewer(db.session.get(Person, callout.created_by_id)), callout.id)
    other = make.shifts_of(make.event(make.team(), capacity=3, open_to_all=True))[0]
    other.code = callout.code  # free again once the call-out ended
    db.session.commit()

    assert answers.answer(member.id, callout.code, True) is None
    result = texted(member.phone, f"报名 {callout.code}", "SM-codes-1")

    assert "报名成功" in result.reply, result.reply
    assert inbound_row("SM-codes-1").command == "sign_up"
    signup = db.session.scalar(select(Signup).where(Signup.person_id == member.id))
    assert signup.shift_id == other.id


def test_an_ended_call_outs_code_no_shift_has_still_says_it_ended(make):
    member, _callout_shift = member_with_an_open_callout(make)
    callout = db.session.scalar(select(Callout))
    services.stop(viewer(db.session.get(Person, callout.created_by_id)), callout.id)
    db.session.commit()

    result = texted(member.phone, f"报名 {callout.code}", "SM-codes-2")

    assert "召集已结束" in result.reply, result.reply
    assert inbound_row("SM-codes-2").command == "callout_reply"
