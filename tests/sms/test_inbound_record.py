"""The inbound row as the sender's read records it (on PostgreSQL in the same statement):
who wrote (nobody for an unknown number) and what, written once whoever wrote, and a
redelivered text finding it and doing nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.sms.helpers import inbound_row, texted
from volunteer_hub.extensions import db
from volunteer_hub.signups.models import Signup
from volunteer_hub.sms.models import InboundSms, OutgoingSms


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_text_from_an_unknown_number_is_recorded_without_a_person_and_once(make):
    shift = make.shifts_of(make.event(make.team(), capacity=3))[0]
    db.session.commit()

    first = texted("+8613904999001", f"报名 {shift.code}", "SM-record-1")
    again = texted("+8613904999001", f"报名 {shift.code}", "SM-record-1")

    assert first.reply is not None and not first.duplicate
    assert again.reply is None and again.duplicate
    recorded = inbound_row("SM-record-1")
    assert (recorded.person_id, recorded.command, recorded.from_phone) == (
        None,
        "sign_up",
        "+8613904999001",
    )
    assert db.session.get(OutgoingSms, recorded.reply_id).body == first.reply
    assert (_count(InboundSms), _count(OutgoingSms), _count(Signup)) == (1, 1, 0)


def test_a_sign_up_text_delivered_twice_signs_up_once(make):
    team = make.team()
    member = make.member(team)
    shift = make.shifts_of(make.event(team, capacity=3))[0]
    db.session.commit()

    first = texted(member.phone, f"报名 {shift.code}", "SM-record-2")
    again = texted(member.phone, f"报名 {shift.code}", "SM-record-2")

    assert "报名成功" in first.reply and again.duplicate and again.reply is None
    recorded = inbound_row("SM-record-2")
    assert (recorded.person_id, recorded.command) == (member.id, "sign_up")
    assert (_count(InboundSms), _count(OutgoingSms), _count(Signup)) == (1, 1, 1)


def test_each_text_of_a_person_has_its_own_row_with_its_command(make):
    member = make.member(make.team())
    db.session.commit()

    texted(member.phone, "帮助", "SM-record-3")
    texted(member.phone, "TD", "SM-record-4")

    assert inbound_row("SM-record-3").command == "help"
    assert inbound_row("SM-record-4").command == "opt_out"
    assert inbound_row("SM-record-4").person_id == member.id
