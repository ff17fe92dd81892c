"""On PostgreSQL a seat is claimed and its signup written in one statement (a WITH of
the conditional UPDATE and the INSERT, ``seats.claim_seat_and_insert``); SQLite, which
allows no UPDATE or INSERT in a WITH, runs the two one after the other. Either way the
row, the counter and the answer are the same, and a duplicate the read did not see
gives its seat back."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.signups.test_concurrency import _run_together
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.signups import services
from volunteer_hub.signups.models import Signup, SignupStatus


def _writes(statements: list[str]) -> list[str]:
    """Of the statements sent (the ``statements`` fixture), those that write or lock."""
    return [
        s for s in statements if s.startswith(("UPDATE", "INSERT", "WITH")) or "FOR UPDATE" in s
    ]


@pytest.fixture
def on_postgresql(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("one statement on PostgreSQL only (SQLite has no UPDATE in a WITH)")


def _facts(make, team, capacity=3):
    shift = make.shifts_of(make.event(team, capacity=capacity))[0]
    return services.ShiftFacts.of(shift, db.session.get(Event, shift.event_id), team)


def _is_claim_and_insert(statement: str) -> bool:
    return statement.startswith("WITH") and (
        "UPDATE SHIFT SET FILLED" in statement and "INSERT INTO SIGNUP" in statement
    )


def _place(facts, person, **kwargs):
    return services.place(facts, person.id, person.phone, "api", None, services.utcnow(), **kwargs)


def test_a_free_seat_is_claimed_and_written_in_one_statement(make, statements, on_postgresql):
    team = make.team()
    facts = _facts(make, team)
    volunteer = make.member(team)
    statements.clear()

    result = _place(facts, volunteer)
    writes = _writes(statements)

    # the signup's own writes: the claim with the INSERT; then the notice and the feed
    on_seat_or_signup = ("WITH", "UPDATE SHIFT", "INSERT INTO SIGNUP", "SELECT SHIFT")
    seat_and_signup = [s for s in writes if s.startswith(on_seat_or_signup)]
    assert len(seat_and_signup) == 1 and _is_claim_and_insert(seat_and_signup[0]), writes
    assert (result.confirmed, result.waitlist_position) == (True, None)
    assert db.session.get(Shift, facts.shift_id).filled == 1


def test_a_duplicate_the_read_did_not_see_gives_its_seat_back(make, statements, on_postgresql):
    team = make.team()
    facts = _facts(make, team)
    volunteer = make.member(team)
    _place(facts, volunteer)
    db.session.commit()  # with the notice and feed change its sign-up held
    statements.clear()

    with pytest.raises(services.AlreadySignedUp):
        _place(facts, volunteer)
    writes = _writes(statements)

    # the claim with the INSERT the index refused, then the seat given back
    assert len(writes) == 2 and _is_claim_and_insert(writes[0]), writes
    assert writes[1].startswith("UPDATE SHIFT SET FILLED=(SHIFT.FILLED - "), writes
    assert db.session.get(Shift, facts.shift_id).filled == 1


def test_a_full_shift_is_tried_then_waitlisted_behind_its_lock(make, statements, on_postgresql):
    team = make.team()
    facts = _facts(make, team, capacity=1)
    first, second = make.member(team), make.member(team)
    _place(facts, first)
    db.session.commit()  # with the notice and feed change its sign-up held
    statements.clear()

    result = _place(facts, second)
    writes = _writes(statements)

    assert _is_claim_and_insert(writes[0]), writes
    assert "FOR UPDATE" in writes[1] and writes[2].startswith("INSERT INTO SIGNUP"), writes
    assert (result.confirmed, result.waitlist_position) == (False, 1)
    assert db.session.get(Shift, facts.shift_id).filled == 1


@pytest.mark.parametrize("full", [False, True])
def test_the_row_is_written_as_told(make, full):
    # both dialects: what the answer says is what the table holds
    team = make.team()
    facts = _facts(make, team, capacity=1)
    leader, volunteer = make.leader(team), make.member(team)
    if full:
        _place(facts, make.member(team))
    now = services.utcnow()

    result = services.place(facts, volunteer.id, volunteer.phone, "leader", leader.id, now)
    db.session.expire_all()

    row = db.session.get(Signup, result.placed.id)
    told = result.placed
    assert (row.shift_id, row.person_id, row.status, row.source) == (
        told.shift_id,
        told.person_id,
        told.status,
        told.source,
    )
    assert (row.created_at, row.confirmed_at, row.acted_by_id) == (
        now,
        None if full else now,
        leader.id,
    )
    assert row.status == (SignupStatus.WAITLISTED if full else SignupStatus.CONFIRMED)
    assert result.waitlist_position == (1 if full else None)
    assert db.session.get(Shift, facts.shift_id).filled == 1


def test_the_same_person_from_many_requests_at_once_holds_one_seat(app, make):
    """The unique index refuses every copy but one; each refused copy gives back the
    seat its claim took, so the counter stays the number of confirmed rows."""
    team = make.team()
    facts = _facts(make, team, capacity=5)
    volunteer = make.member(team)
    person_id, phone = volunteer.id, volunteer.phone

    def job():
        try:
            result = services.place(facts, person_id, phone, "sms", None, services.utcnow())
            db.session.commit()
            return result.placed.status
        except services.AlreadySignedUp:
            # committed all the same, like the SMS webhook's inbound row and reply: a
            # seat not given back would stay taken
            db.session.commit()
            return "refused"

    outcomes = _run_together(app, [job] * 8)

    assert sorted(outcomes) == ["confirmed"] + ["refused"] * 7
    assert db.session.get(Shift, facts.shift_id).filled == 1
    statuses = db.session.scalars(select(Signup.status).where(Signup.shift_id == facts.shift_id))
    assert list(statuses) == [SignupStatus.CONFIRMED]
