"""The seat counter and the signup INSERT: the prebuilt Core statements that every
sign-up, cancellation and promotion runs on the shift row and the signup table.

Apart from ``signups.services`` because they are how a seat is written, not when: the
rules there decide which to run, in what order (the shift row's lock first, then the
signup rows, as that module's docstring tells) and what a result means. Built once at
import (the INSERT once per dialect), since a statement built anew costs more CPU than
its round trip; none of them raises.
"""

from __future__ import annotations

import functools

from sqlalchemy import (
    Integer,
    bindparam,
    exists,
    inspect,
    literal_column,
    null,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.signups.models import Signup, SignupStatus

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
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
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


def _claim_and_insert():
    """``WITH claimed AS (UPDATE shift … RETURNING), inserted AS (INSERT INTO signup …
    SELECT … FROM claimed ON CONFLICT DO NOTHING RETURNING id) SELECT claimed?, id``:
    a SELECT outside, so the answer is one row whether or not a seat was claimed and a
    row inserted. Every sub-statement runs to completion, read or not; so a duplicate's
    claimed seat stays claimed, and the caller gives it back.

    No waitlisted INSERT here: that one must follow the shift row's lock in a statement
    of its own (its count of those ahead needs a snapshot begun after the lock was
    ours, and a CTE's is taken before its UPDATE waits), and a failed conditional
    UPDATE locks nothing."""
    signup = Signup.__table__
    claimed = (
        update(_shift)
        .where(_shift.c.id == bindparam("shift_id"), _shift.c.filled < _shift.c.capacity)
        .values(filled=_shift.c.filled + 1)
        .returning(_shift.c.id)
        .cte("claimed")
    )
    # Typed parameters: PostgreSQL cannot tell a bare parameter's type in a SELECT list.
    given = [bindparam(name, type_=signup.c[name].type) for name in _NEW_SIGNUP_COLUMNS]
    inserted = (
        postgresql_insert(signup)
        .from_select(list(_NEW_SIGNUP_COLUMNS), select(*given).select_from(claimed))
        .on_conflict_do_nothing(
            index_elements=[signup.c.shift_id, signup.c.person_id],
            index_where=text("status <> 'cancelled'"),
        )
        .returning(signup.c.id)
        .cte("inserted")
    )
    return select(
        exists(claimed.select()),
        select(inserted.c.id).scalar_subquery(),
    )


_CLAIM_AND_INSERT = _claim_and_insert()


def claim_seat(shift_id: int) -> bool:
    result = db.session.execute(_CLAIM_SEAT, {"shift_id": shift_id})
    _expire_shift(shift_id)
    return result.rowcount == 1


def lock_shift_free_seat(shift_id: int) -> bool:
    """Lock the shift row (like ``lock_shift``) and say whether it has a free seat:
    read from the row as locked, which on PostgreSQL is its latest committed version
    even when we had to wait for it (and SQLite's writer lock is ours already)."""
    return db.session.scalar(_LOCK_SHIFT_FREE_SEAT, {"shift_id": shift_id})


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
