"""报名 with one code signs up on what the sender's statement read (``_sender`` with
``one_read.SIGN_UP_COLUMNS``, then ``one_read.sign_up_as_read``, the API's core), plain
values and no entity: the rules decide as they did on entities, and a duplicate is
refused before it takes a seat."""

from __future__ import annotations

from sqlalchemy import event as sa_event
from sqlalchemy import select

from tests.sms.helpers import inbound_row, texted
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.signups.models import Signup
from volunteer_hub.sms.models import OutgoingSms
from volunteer_hub.teams.models import Team


def _reply_key(sid):
    return db.session.get(OutgoingSms, inbound_row(sid).reply_id).template_key


def test_a_second_sign_up_by_text_is_refused_before_it_takes_a_seat(make, count_queries):
    team = make.team()
    member = make.member(team)
    shift = make.shifts_of(make.event(team, capacity=3))[0]
    db.session.commit()
    phone, code, shift_id = member.phone, shift.code, shift.id
    texted(phone, f"报名 {code}", "SM-read-1")

    with count_queries() as counter:
        texted(phone, f"报名 {code}", "SM-read-2")

    assert _reply_key("SM-read-2") == "already_signed_up"
    statements = [" ".join(s.split()).lower() for s in counter.statements]
    seat = [s for s in statements if s.startswith("update shift") or "for update" in s]
    assert seat == [], "the seat was claimed and given back, or the shift locked"
    assert not [s for s in statements if s.startswith("insert into signup")], statements
    assert db.session.get(Shift, shift_id).filled == 1
    assert len(db.session.scalars(select(Signup).where(Signup.shift_id == shift_id)).all()) == 1


def test_a_sign_up_by_text_loads_no_entity(make):
    team = make.team()
    member = make.member(team)
    shift = make.shifts_of(make.event(team, capacity=1))[0]
    db.session.commit()
    phone, code = member.phone, shift.code
    db.session.expunge_all()
    loaded = []

    def record(target, context):
        loaded.append(type(target).__name__)

    for entity in (Person, Shift, Event, Team, Signup):
        sa_event.listen(entity, "load", record)
    try:
        result = texted(phone, f"报名 {code}", "SM-read-3")
    finally:
        for entity in (Person, Shift, Event, Team, Signup):
            sa_event.remove(entity, "load", record)

    assert "报名成功" in result.reply
    assert loaded == []


def test_a_non_member_is_told_members_only_and_nothing_is_written(make):
    team = make.team()
    stranger = make.person()
    shift = make.shifts_of(make.event(team, capacity=3, open_to_all=False))[0]
    db.session.commit()
    shift_id = shift.id

    texted(stranger.phone, f"报名 {shift.code}", "SM-read-4")

    assert _reply_key("SM-read-4") == "members_only"
    assert db.session.get(Shift, shift_id).filled == 0
    assert db.session.scalars(select(Signup).where(Signup.shift_id == shift_id)).all() == []
