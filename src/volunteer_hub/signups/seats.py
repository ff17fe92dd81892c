"""The seat counter and the signup INSERT: the prebuilt Core statements that every
sign-up, cancellation and promotion runs on the shift row and the signup table; and the
INSERT of a person a sign-up registers, which on PostgreSQL rides in the seat's statement.

Apart from ``signups.services`` because they are how a seat is written, not when: the
rules there decide which to run, in what order (the shift row's lock first, then the
signup rows, as that module's docstring tells) and what a result means. Built once at
import (the INSERT once per dialect), since a statement built anew costs more CPU than
its round trip; none of them raises.
"""

from __future__ import annotations

import functools
from datetime import datetime

from sqlalchemy import (
    Integer,
    bindparam,
    exists,
    inspect,
    literal_column,
    null,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert

from volunteer_hub.db import insert_for
from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.signups.models import Signup, SignupStatus
from volunteer_hub.sms import number_opt_outs

#: the columns a new signup is given (the rest take their defaults)
_NEW_SIGNUP_COLUMNS = (
    "shift_id",
    "person_id",
    "status",
    "source",
    "created_at",
    "confirmed_at",
    "acted_by_id",
)


#: ``Signup.waitlisted_ahead`` of the row being inserted, in its RETURNING. Spelled in
#: SQL: SQLAlchemy neither correlates a subquery there to the INSERT's table nor, on
#: SQLite, keeps the table names that tell the alias from the new row.
_WAITLISTED_AHEAD_OF_NEW = literal_column(
    "(SELECT count(*) FROM signup AS ahead WHERE ahead.shift_id = signup.shift_id"
    f" AND ahead.status = '{SignupStatus.WAITLISTED}' AND ahead.id < signup.id)",
    Integer,
)


@functools.cache
def _insert_signup_statement(dialect: str, count_ahead: bool):
    """The signup INSERT, built once per dialect: every sign-up runs it, and a statement
    built anew costs more CPU (construction and its cache key) than the round trip.
    ``count_ahead``: it returns, beside the id, how many waitlisted signups of the
    shift have a smaller id (``Signup.waitlisted_ahead``), a count begun once the
    shift row is locked like the statement that would otherwise follow."""
    insert = insert_for(dialect)
    signup = Signup.__table__  # Core: no entity is built
    ahead = _WAITLISTED_AHEAD_OF_NEW if count_ahead else null()
    return (
        insert(signup)
        .values({name: bindparam(name) for name in _NEW_SIGNUP_COLUMNS})
        .on_conflict_do_nothing(
            index_elements=[signup.c.shift_id, signup.c.person_id],
            # Spelled as in the index, so PostgreSQL can match the partial index to it.
            index_where=text("status <> 'cancelled'"),
        )
        .returning(signup.c.id, ahead)
    )


def insert_active_signup(*, count_ahead: bool, **values) -> tuple[int | None, int | None]:
    """INSERT the signup unless the person already has an active one on the shift, in
    which case the partial unique index turns it into no row (and None), not an error.
    Returns the new id (the caller knows every other value) and, if ``count_ahead``,
    the waitlisted signups ahead of it."""
    dialect = db.session.get_bind().dialect.name
    row = db.session.execute(_insert_signup_statement(dialect, count_ahead), values).first()
    return (None, None) if row is None else tuple(row)


def claim_seat_and_insert(**values) -> tuple[bool, int | None]:
    """Claim a seat on the shift and, if that took one, INSERT the signup as ``values``
    give it (confirmed); the partial unique index turns a duplicate into no row, as in
    :func:`insert_active_signup`. Returns whether a seat was claimed and the new id
    (None: no seat, or a duplicate, whose seat the caller gives back).

    On PostgreSQL one statement (``_CLAIM_AND_INSERT``): the INSERT reads the UPDATE's
    RETURNING, so the shift row is locked before the signup row is written. SQLite
    allows no UPDATE or INSERT in a WITH: there, the two statements one after the other.
    """
    shift_id = values["shift_id"]
    if db.session.get_bind().dialect.name != "postgresql":
        if not claim_seat(shift_id):
            return False, None
        return True, insert_active_signup(count_ahead=False, **values)[0]
    claimed, signup_id = db.session.execute(_CLAIM_AND_INSERT, values).one()
    _expire_shift(shift_id)
    return claimed, signup_id


def register_person(name: str, phone: str, now: datetime) -> int | None:
    """INSERT a person with this name and phone (E.164), unless someone has the phone
    already: then no row, and None. Returns the new id; the row is as ``_person_values``
    gives it."""
    dialect = db.session.get_bind().dialect.name
    row = db.session.execute(
        _insert_person_statement(dialect), _person_values(name, phone, now)
    ).first()
    if row is None:
        return None
    person_id, opted_out_at = row
    _number_opted_out(person_id, opted_out_at)
    return person_id


def _number_opted_out(person_id: int | None, opted_out_at: datetime | None) -> None:
    """The new person's number had opted out before they had it, so they start opted
    out (their INSERT took the time, ``number_opt_outs.since``): their consent record
    tells it. A statement only then."""
    if person_id is not None and opted_out_at is not None:
        number_opt_outs.record_consent([person_id])


def register_claim_and_insert(
    name: str, phone: str, now: datetime, **values
) -> tuple[int | None, bool, int | None]:
    """:func:`register_person`, then, if that made the row, :func:`claim_seat_and_insert`
    for the new person (``values`` without the person's id). Returns the new person's id
    (None: the phone was someone's already, and nothing was written: no seat is claimed
    without the person's row), whether a seat was claimed, and the signup's id.

    On PostgreSQL one statement (``_REGISTER_CLAIM_AND_INSERT``): the person's INSERT in
    front of ``_CLAIM_AND_INSERT``'s, its RETURNING the UPDATE's condition and the
    signup's person. SQLite: the statements one after the other."""
    shift_id = values["shift_id"]
    if db.session.get_bind().dialect.name != "postgresql":
        person_id = register_person(name, phone, now)
        if person_id is None:
            return None, False, None
        return person_id, *claim_seat_and_insert(person_id=person_id, **values)
    params = values | _person_values(name, phone, now)
    person_id, claimed, signup_id, opted_out_at = db.session.execute(
        _REGISTER_CLAIM_AND_INSERT, params
    ).one()
    _expire_shift(shift_id)
    _number_opted_out(person_id, opted_out_at)
    return person_id, claimed, signup_id


_person = Person.__table__
#: A new person's columns that have a Python-side default, and that default (is_veteran,
#: skills, is_active, session_version …): an INSERT inside WITH gets none of them, so
#: ours give them all, as the ORM's INSERT of a Person would.
_PERSON_DEFAULTS = {
    column.name: column.default.arg
    for column in _person.c
    if column.default is not None and column.default.is_scalar
}
#: the columns whose Python-side default is the clock: the sign-up's time
_PERSON_CLOCK = ("created_at", "updated_at")
_NEW_PERSON_COLUMNS = ("name", "phone", *_PERSON_DEFAULTS, *_PERSON_CLOCK)


def _person_values(name: str, phone: str, now: datetime) -> dict:
    # Named apart from the signup's columns, which share a statement with them.
    given = {"name": name, "phone": phone, **_PERSON_DEFAULTS}
    given.update((column, now) for column in _PERSON_CLOCK)
    return {f"person_{column}": value for column, value in given.items()}


@functools.cache
def _insert_person_statement(dialect: str):
    # Core on the table, RETURNING the id (and whether the number had opted out): the
    # ORM's INSERT builds and reads back a whole Person. ON CONFLICT: a phone registered
    # meanwhile is no row, not an error. A number that opted out before anyone had it
    # makes the person opted out since then, in this statement.
    insert = insert_for(dialect)
    values = {name: bindparam(f"person_{name}") for name in _NEW_PERSON_COLUMNS}
    values["sms_opted_out_at"] = number_opt_outs.since(values["phone"])
    return (
        insert(_person)
        .values(values)
        .on_conflict_do_nothing(index_elements=[_person.c.phone])
        .returning(_person.c.id, _person.c.sms_opted_out_at)
    )


# The seat counter's statements, prebuilt in Core (the ORM adds nothing to an UPDATE
# whose objects are expired by hand): run on every sign-up and cancellation.
_shift = Shift.__table__
_CLAIM_SEAT = (
    update(_shift)
    .where(_shift.c.id == bindparam("shift_id"), _shift.c.filled < _shift.c.capacity)
    .values(filled=_shift.c.filled + 1)
)
_RELEASE_SEAT = (
    update(_shift)
    .where(_shift.c.id == bindparam("shift_id"), _shift.c.filled > 0)
    .values(filled=_shift.c.filled - 1)
)
_LOCK_SHIFT = select(_shift.c.id).where(_shift.c.id == bindparam("shift_id")).with_for_update()
_LOCK_SHIFT_FREE_SEAT = (
    select(_shift.c.filled < _shift.c.capacity)
    .where(_shift.c.id == bindparam("shift_id"))
    .with_for_update()
)


def _claim_and_insert(new_person=None):
    """``WITH claimed AS (UPDATE shift … RETURNING), inserted AS (INSERT INTO signup …
    SELECT … FROM claimed ON CONFLICT DO NOTHING RETURNING id) SELECT claimed?, id``:
    a SELECT outside, so the answer is one row whether or not a seat was claimed and a
    row inserted. Every sub-statement runs to completion, read or not; so a duplicate's
    claimed seat stays claimed, and the caller gives it back.

    ``new_person``: the person's INSERT as a CTE (``new_person AS (INSERT INTO person …
    RETURNING id)``). The UPDATE then claims a seat only if that made the row, the
    signup is that row's, and the answer begins with its id (NULL: the phone was
    someone's already, and nothing was written).

    No waitlisted INSERT here: that one must follow the shift row's lock in a statement
    of its own (its count of those ahead needs a snapshot begun after the lock was
    ours, and a CTE's is taken before its UPDATE waits), and a failed conditional
    UPDATE locks nothing."""
    signup = Signup.__table__
    claimed = update(_shift).where(
        _shift.c.id == bindparam("shift_id"), _shift.c.filled < _shift.c.capacity
    )
    if new_person is not None:
        claimed = claimed.where(exists(new_person.select()))
    claimed = claimed.values(filled=_shift.c.filled + 1).returning(_shift.c.id).cte("claimed")
    # Typed parameters: PostgreSQL cannot tell a bare parameter's type in a SELECT list.
    given = [bindparam(name, type_=signup.c[name].type) for name in _NEW_SIGNUP_COLUMNS]
    rows = claimed
    if new_person is not None:
        given[_NEW_SIGNUP_COLUMNS.index("person_id")] = new_person.c.id
        # one row of each, or none: no signup without both the seat and the person
        rows = claimed.join(new_person, true())
    inserted = (
        postgresql_insert(signup)
        .from_select(list(_NEW_SIGNUP_COLUMNS), select(*given).select_from(rows))
        .on_conflict_do_nothing(
            index_elements=[signup.c.shift_id, signup.c.person_id],
            index_where=text("status <> 'cancelled'"),
        )
        .returning(signup.c.id)
        .cte("inserted")
    )
    answer = (exists(claimed.select()), select(inserted.c.id).scalar_subquery())
    if new_person is not None:
        person_id = select(new_person.c.id).scalar_subquery()
        answer = (person_id, *answer, select(new_person.c.sms_opted_out_at).scalar_subquery())
    return select(*answer)


_CLAIM_AND_INSERT = _claim_and_insert()
_REGISTER_CLAIM_AND_INSERT = _claim_and_insert(
    _insert_person_statement("postgresql").cte("new_person")
)


def claim_seat(shift_id: int) -> bool:
    result = db.session.execute(_CLAIM_SEAT, {"shift_id": shift_id})
    _expire_shift(shift_id)
    return result.rowcount == 1


def lock_shift_free_seat(shift_id: int) -> bool:
    """Lock the shift row (like ``lock_shift``) and say whether it has a free seat:
    read from the row as locked, which on PostgreSQL is its latest committed version
    even when we had to wait for it (and SQLite's writer lock is ours already)."""
    return db.session.scalar(_LOCK_SHIFT_FREE_SEAT, {"shift_id": shift_id})


def register_and_lock_shift(
    name: str, phone: str, now: datetime, shift_id: int
) -> tuple[int | None, bool]:
    """:func:`register_person`, then :func:`lock_shift_free_seat`: for a new person on a
    shift the sign-up's read saw full. Returns the new person's id (None: the phone was
    someone's already) and whether the locked row has a free seat. On PostgreSQL one
    statement (``_REGISTER_AND_LOCK``); the shift row is locked either way."""
    if db.session.get_bind().dialect.name != "postgresql":
        return register_person(name, phone, now), lock_shift_free_seat(shift_id)
    params = _person_values(name, phone, now) | {"shift_id": shift_id}
    person_id, free, opted_out_at = db.session.execute(_REGISTER_AND_LOCK, params).one()
    _number_opted_out(person_id, opted_out_at)
    return person_id, free


# The person's INSERT beside the lock of ``lock_shift_free_seat``: FOR UPDATE OF the
# shift alone, and its row read as locked (the latest committed version), as there.
_new_person = _insert_person_statement("postgresql").cte("new_person")
_REGISTER_AND_LOCK = (
    select(
        select(_new_person.c.id).scalar_subquery(),
        _shift.c.filled < _shift.c.capacity,
        select(_new_person.c.sms_opted_out_at).scalar_subquery(),
    )
    .where(_shift.c.id == bindparam("shift_id"))
    .with_for_update(of=_shift)
)


def lock_shift(shift_id: int) -> None:
    """Hold the shift row until commit (FOR UPDATE; SQLite's writer lock already does)."""
    db.session.execute(_LOCK_SHIFT, {"shift_id": shift_id})


def release_seat(shift_id: int) -> None:
    db.session.execute(_RELEASE_SEAT, {"shift_id": shift_id})
    _expire_shift(shift_id)


#: the shift's mapper, looked up once: ``Session.identity_key`` inspects the class anew
#: on every call, and every seat claimed or released asks for a key
_SHIFT_MAPPER = inspect(Shift)


def _expire_shift(shift_id: int) -> None:
    key = _SHIFT_MAPPER.identity_key_from_primary_key((shift_id,))
    shift = db.session.identity_map.get(key)
    if shift is not None:
        db.session.expire(shift, ["filled"])
