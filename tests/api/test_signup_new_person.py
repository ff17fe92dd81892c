"""A number nobody has registered, named by an overseer, is registered by ``place`` (a
``NewPerson``): on PostgreSQL the person's INSERT is the first part of the statement that
claims the seat and writes the signup, on SQLite the statements one after the other. The
person's row, the signup, the counter and the answer are what registering first gave;
a number another request registered after the read signs up that person, and leaks no
seat."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, insert, select

from tests.signups.checks import assert_seats_consistent
from tests.signups.test_concurrency import _run_together
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.signups import services
from volunteer_hub.signups.models import Signup, SignupStatus


def _on_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def _shift(make, team, capacity=3):
    return make.shifts_of(make.event(team, capacity=capacity))[0]


def _url(shift) -> str:
    return f"/api/v1/shifts/{shift.id}/signups"


def _person_by_phone(phone: str) -> Person:
    return db.session.scalar(select(Person).where(Person.phone == phone))


def _row(where) -> dict:
    """A person's row, every column, as stored."""
    return db.session.execute(select(Person.__table__).where(where)).one()._asdict()


@contextmanager
def _registered_elsewhere(phone: str, also=None):
    """Another request registers ``phone`` (and does ``also(connection, person_id)``)
    and commits, between this request's read and its INSERT of the person. Yields a
    dict whose "id" is that person's, once registered."""
    others: dict = {}

    def register_elsewhere(conn, cursor, statement, *args):
        if "INSERT INTO person" not in statement or others:
            return
        others["id"] = None  # once: the other request's own INSERT passes here too

        def write(other):
            others["id"] = other.scalar(
                insert(Person.__table__)
                .values(name="别人登记", phone=phone)
                .returning(Person.__table__.c.id)
            )
            if also is not None:
                also(other, others["id"])

        # The other request, on a connection of its own, committed before ours goes on.
        # On SQLite our transaction holds the write lock: the row is written in it instead
        # (SQLite cannot race here; the statement still meets a taken number).
        if _on_postgresql():
            with db.engine.begin() as other:
                write(other)
        else:
            write(conn)

    sa_event.listen(db.engine, "before_cursor_execute", register_elsewhere)
    try:
        yield others
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", register_elsewhere)


def _writes_person(statement: str) -> bool:
    return "INSERT INTO PERSON" in statement


def test_the_new_person_and_the_seat_are_one_statement_on_postgresql(api, make, statements):
    if not _on_postgresql():
        pytest.skip("one statement on PostgreSQL only (SQLite has no INSERT in a WITH)")
    team = make.team()
    shift = _shift(make, team)
    as_coordinator = api.as_(make.coordinator(team.unit))
    statements.clear()

    answer = as_coordinator.post(_url(shift), json={"phone": "13900006666", "name": "新人"})

    assert answer.status_code == 201, answer.get_json()
    on_person_or_seat = [
        s
        for s in statements
        if _writes_person(s) or "SHIFT SET FILLED" in s or "INSERT INTO SIGNUP" in s
    ]
    assert len(on_person_or_seat) == 1, statements
    [statement] = on_person_or_seat
    assert statement.startswith("WITH NEW_PERSON AS (INSERT INTO PERSON")
    assert "UPDATE SHIFT SET FILLED" in statement and "INSERT INTO SIGNUP" in statement
    assert not [s for s in statements if s.startswith("SELECT") and "FROM PERSON" in s]
    db.session.expire_all()
    person = _person_by_phone("+8613900006666")
    signup = db.session.scalar(select(Signup).where(Signup.shift_id == shift.id))
    assert (signup.person_id, signup.status) == (person.id, SignupStatus.CONFIRMED)
    assert db.session.get(Shift, shift.id).filled == 1


def test_the_new_person_s_row_is_the_one_registering_first_made(api, make):
    # Registering first was a Core INSERT of the name and the phone, which took every
    # Python-side default of Person; the INSERT inside WITH gets none of them.
    team = make.team()
    shift = _shift(make, team)
    as_coordinator = api.as_(make.coordinator(team.unit))
    before = services.utcnow()
    answer = as_coordinator.post(_url(shift), json={"phone": "13900007777", "name": "新人"})
    assert answer.status_code == 201, answer.get_json()
    old_way_id = db.session.scalar(
        insert(Person.__table__)
        .values(name="旧法", phone="+8613900008888")
        .returning(Person.__table__.c.id)
    )
    db.session.commit()
    after = services.utcnow()

    new = _row(Person.__table__.c.phone == "+8613900007777")
    old = _row(Person.__table__.c.id == old_way_id)

    for column in ("created_at", "updated_at"):
        assert before <= new[column] <= after, column
    apart = {"id", "name", "phone", "created_at", "updated_at"}
    assert {k: v for k, v in new.items() if k not in apart} == {
        k: v for k, v in old.items() if k not in apart
    }
    assert (new["name"], new["is_veteran"], new["is_active"]) == ("新人", True, True)
    # The answer: the new row, its number masked (it belongs to no team yet).
    body = answer.get_json()
    assert body["person"] == {
        "id": new["id"],
        "name": "新人",
        "phone": "139****7777",
        "phone_masked": True,
    }
    assert (body["status"], body["waitlist_position"]) == ("confirmed", None)


def test_a_full_shift_waitlists_the_new_person(api, make):
    team = make.team()
    shift = _shift(make, team, capacity=1)
    as_coordinator = api.as_(make.coordinator(team.unit))
    for phone in ("13900001001", "13900001002"):
        as_coordinator.post(_url(shift), json={"phone": phone, "name": "先来"})

    answer = as_coordinator.post(_url(shift), json={"phone": "13900001003", "name": "后到"})

    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert (body["status"], body["waitlist_position"]) == ("waitlisted", 2)
    person = _person_by_phone("+8613900001003")
    assert (body["person"]["id"], person.name) == (person.id, "后到")
    assert_seats_consistent(shift.id, confirmed=1, waitlisted=2)


def test_on_a_shift_read_full_the_new_person_and_the_lock_are_one_statement(api, make, statements):
    # The read saw no free seat (seen_full): no claim is tried; the person's INSERT rides
    # in the statement that locks the shift row for the waitlist's count.
    team = make.team()
    shift = _shift(make, team, capacity=1)
    as_coordinator = api.as_(make.coordinator(team.unit))
    as_coordinator.post(_url(shift), json={"phone": "13900004001", "name": "先来"})
    statements.clear()

    answer = as_coordinator.post(_url(shift), json={"phone": "13900004002", "name": "后到"})

    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert (body["status"], body["waitlist_position"]) == ("waitlisted", 1)
    assert body["person"]["id"] == _person_by_phone("+8613900004002").id
    assert not [s for s in statements if "SHIFT SET FILLED" in s]
    if _on_postgresql():  # SQLite's writer lock is the lock: no FOR UPDATE there
        [lock] = [s for s in statements if "FOR UPDATE" in s]
        assert lock.startswith("WITH NEW_PERSON AS (INSERT INTO PERSON"), lock
        assert sum(_writes_person(s) for s in statements) == 1
    assert_seats_consistent(shift.id, confirmed=1, waitlisted=1)


def test_a_number_registered_after_a_full_read_waitlists_that_person(api, make):
    team = make.team()
    shift = _shift(make, team, capacity=1)
    as_coordinator = api.as_(make.coordinator(team.unit))
    as_coordinator.post(_url(shift), json={"phone": "13900005001", "name": "先来"})
    phone = "+8613900005002"

    with _registered_elsewhere(phone) as others:
        answer = as_coordinator.post(_url(shift), json={"phone": phone, "name": "新人"})
    db.session.expire_all()

    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert (body["person"]["id"], body["status"]) == (others["id"], "waitlisted")
    assert body["waitlist_position"] == 1
    assert [p.id for p in db.session.scalars(select(Person).where(Person.phone == phone))] == [
        others["id"]
    ]
    assert_seats_consistent(shift.id, confirmed=1, waitlisted=1)


def test_a_shift_full_when_the_statement_runs_waitlists_the_new_person(make, statements):
    # The read saw a free seat (seen_full False): the statement registers the person,
    # claims nothing, and the waitlist's lock and INSERT follow.
    team = make.team()
    shift = _shift(make, team, capacity=1)
    facts = services.ShiftFacts.of(shift, db.session.get(Event, shift.event_id), team)
    services.sign_up(shift.id, make.member(team).id, "web")
    statements.clear()

    result = services.place(
        facts,
        services.NewPerson("新人", "+8613900002001"),
        "+8613900002001",
        "api",
        None,
        services.utcnow(),
    )

    assert (result.confirmed, result.waitlist_position, result.registered) == (False, 1, True)
    assert result.placed.person_id == _person_by_phone("+8613900002001").id
    assert sum(_writes_person(s) for s in statements) == 1
    assert_seats_consistent(shift.id, confirmed=1, waitlisted=1)


@pytest.mark.parametrize("signed_up_too", [False, True])
def test_a_number_registered_after_the_read_signs_up_that_person(
    api, make, statements, signed_up_too
):
    """Another request registers the number (and perhaps signs them up) and commits
    between this request's read and its INSERT of the person: that INSERT makes no row,
    so no seat is claimed with it; the sign-up goes on as the person found."""
    if signed_up_too and not _on_postgresql():
        pytest.skip("SQLite writes the other's rows in this transaction, which the 409 ends")
    team = make.team()
    shift = _shift(make, team)
    as_coordinator = api.as_(make.coordinator(team.unit))
    phone = "+8613900003001"

    def sign_up_too(other, person_id):
        other.execute(
            insert(Signup.__table__).values(
                shift_id=shift.id,
                person_id=person_id,
                status=SignupStatus.WAITLISTED,
                source="web",
                created_at=services.utcnow(),
            )
        )

    with _registered_elsewhere(phone, sign_up_too if signed_up_too else None) as others:
        answer = as_coordinator.post(_url(shift), json={"phone": phone, "name": "新人"})
    db.session.expire_all()

    people = db.session.scalars(select(Person).where(Person.phone == phone)).all()
    assert [p.id for p in people] == [others["id"]]
    assert people[0].name == "别人登记"
    if signed_up_too:
        assert answer.status_code == 409, answer.get_json()
        assert answer.get_json()["code"] == "already-signed-up"
        assert_seats_consistent(shift.id, confirmed=0, waitlisted=1)
    else:
        assert answer.status_code == 201, answer.get_json()
        body = answer.get_json()
        assert (body["person"]["id"], body["person"]["name"]) == (others["id"], "别人登记")
        assert body["status"] == "confirmed"
        assert_seats_consistent(shift.id, confirmed=1, waitlisted=0)
    # The shift's counter is its confirmed rows: the first statement claimed nothing.
    confirmed = db.session.scalar(
        select(func.count()).where(Signup.shift_id == shift.id, Signup.status == "confirmed")
    )
    assert db.session.get(Shift, shift.id).filled == confirmed


def test_a_closed_shift_registers_nobody(api, make):
    # The rules come first, as when the person was registered before them: the error
    # answer writes nothing.
    team = make.team()
    shift = _shift(make, team)
    shift.starts_at = services.utcnow() - timedelta(minutes=1)
    db.session.commit()
    as_coordinator = api.as_(make.coordinator(team.unit))

    answer = as_coordinator.post(_url(shift), json={"phone": "13900004001", "name": "新人"})

    assert (answer.status_code, answer.get_json()["code"]) == (409, "shift-started")
    assert _person_by_phone("+8613900004001") is None


def test_without_a_name_a_new_number_is_refused_before_the_shift_s_rules(api, make):
    team = make.team()
    shift = _shift(make, team)
    shift.starts_at = services.utcnow() - timedelta(minutes=1)  # closed, and said later
    db.session.commit()
    as_coordinator = api.as_(make.coordinator(team.unit))

    answer = as_coordinator.post(_url(shift), json={"phone": "13900004002", "name": "  "})

    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["detail"] == "请填写姓名"
    assert _person_by_phone("+8613900004002") is None


def test_many_new_numbers_at_once_never_oversell(app, make):
    team = make.team()
    shift = _shift(make, team, capacity=5)
    facts = services.ShiftFacts.of(shift, db.session.get(Event, shift.event_id), team)
    phones = [f"+86139000050{index:02d}" for index in range(30)]

    def sign_up(phone):
        def job():
            new = services.NewPerson(f"新人{phone[-2:]}", phone)
            result = services.place(facts, new, phone, "api", None, services.utcnow())
            db.session.commit()
            return result.placed.status, result.waitlist_position, result.registered

        return job

    outcomes = _run_together(app, [sign_up(phone) for phone in phones])

    assert all(registered for _status, _position, registered in outcomes)
    statuses = [status for status, _position, _registered in outcomes]
    assert statuses.count(SignupStatus.CONFIRMED) == 5
    told = sorted(p for status, p, _r in outcomes if status == SignupStatus.WAITLISTED)
    assert told == list(range(1, 26))
    assert_seats_consistent(shift.id, confirmed=5, waitlisted=25)
