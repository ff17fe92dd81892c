"""Sign-up rules. Every channel (web, API, SMS) goes through these functions.

Capacity is never exceeded: a seat is claimed with one conditional UPDATE
(``filled = filled + 1 WHERE filled < capacity``), which the database serialises per
shift row on PostgreSQL and per file on SQLite. A stale read can never oversell.
The waitlist is ordered by signup id. Releasing a seat and promoting the first
waitlisted person happen in the same transaction, while the shift row is locked.

The waitlist position we tell is the true one at commit: a waitlisted signup is
inserted and counted while its transaction holds the shift row's lock, which every
change to the waitlist takes first (sign-up, cancel, a cancelled shift). So waitlisted
ids follow commit order, and the count, a statement begun after every earlier holder
committed, sees each of them (READ COMMITTED on PostgreSQL; on SQLite BEGIN IMMEDIATE
already serialises writers). Locks are always taken shift row first, then signup rows.

Who may be put on a shift is one rule, :func:`check_may_join`, for every channel.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import gettext as _
from sqlalchemy import bindparam, select, text, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import contains_eager

from volunteer_hub.db import utcnow
from volunteer_hub.domain_events import (
    ShiftCancelled,
    SignupCancelled,
    SignupPlaced,
    SignupPromoted,
    publish,
)
from volunteer_hub.errors import Conflict, DomainError, NotFound
from volunteer_hub.events.models import Event, EventStatus, Shift
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import get_or_create_person, normalize_phone
from volunteer_hub.signups.models import (
    ACTIVE_STATUSES,
    Signup,
    SignupSource,
    SignupStatus,
)
from volunteer_hub.teams.models import Membership, Team
from volunteer_hub.teams.services import ensure_open
from volunteer_hub.units.services import is_within

if TYPE_CHECKING:
    from volunteer_hub.auth.permissions import Viewer


class AlreadySignedUp(Conflict, code="already-signed-up"):
    """The person already holds a seat or a waitlist place on this shift."""


class ShiftStarted(Conflict, code="shift-started"):
    """Signing up closes when the shift starts."""


class EventNotOpen(Conflict, code="event-not-open"):
    """The event is a draft or cancelled; the message says which."""


class SignupNotActive(Conflict, code="signup-not-active"):
    """The signup was already cancelled (perhaps by a concurrent request)."""


class MembersOnly(DomainError, code="members-only"):
    """The event is for its team's members (not 公开招募) and the person is not one,
    or a leader named someone outside the team. ``team`` in details: the team's name."""

    status = 403


@dataclass
class SignupResult:
    signup: Signup
    #: 1-based place on the waitlist, None when confirmed
    waitlist_position: int | None = None

    @property
    def confirmed(self) -> bool:
        return self.signup.status == SignupStatus.CONFIRMED


@dataclass
class CancelResult:
    signup: Signup
    #: signups promoted from the waitlist by this cancellation
    promoted: list[Signup] = field(default_factory=list)


def sign_up(
    shift_id: int,
    person_id: int,
    source: SignupSource | str,
    acted_by_id: int | None = None,
    now: datetime | None = None,
    *,
    overseer: bool = False,
) -> SignupResult:
    """Put the person on the shift: confirmed if a seat is free, else at the end of the
    waitlist. ``acted_by_id``: who signs them up, when not they themself; ``overseer``:
    that caller is an admin or a coordinator over the event's team (:func:`oversees`),
    who may sign up anyone. Raises MembersOnly (see :func:`check_may_join`),
    AlreadySignedUp, ShiftStarted, EventNotOpen, NotFound."""
    now = now or utcnow()
    shift, event = _shift_and_event(shift_id)
    if db.session.get(Person, person_id) is None:
        raise NotFound(_("志愿者不存在"), field="person_id")
    on_behalf = acted_by_id is not None and acted_by_id != person_id
    check_may_join(event, person_id, on_behalf=on_behalf, overseer=overseer)
    ensure_open(db.session.get(Team, event.team_id))
    if event.status != EventStatus.PUBLISHED or shift.is_cancelled:
        if event.status == EventStatus.CANCELLED or shift.is_cancelled:
            raise EventNotOpen(_("该活动已取消"))
        raise EventNotOpen(_("该活动尚未发布"))
    if shift.starts_at <= now:
        raise ShiftStarted(_("该班次已经开始，不能再报名"))

    claimed = _claim_seat(shift_id)
    if not claimed:
        # To the waitlist: queue on the shift row's lock first (see the module's
        # docstring), then try again, for a seat may have been freed while we waited.
        # The seat-claiming UPDATE above already holds that lock when it succeeds.
        _lock_shift(shift_id)
        claimed = _claim_seat(shift_id)
    signup = _insert_active_signup(
        shift_id=shift_id,
        person_id=person_id,
        status=SignupStatus.CONFIRMED if claimed else SignupStatus.WAITLISTED,
        source=SignupSource(source),
        created_at=now,
        confirmed_at=now if claimed else None,
        acted_by_id=acted_by_id,
    )
    if signup is None:
        # Already on the shift (a second click, or two channels at the same moment): the
        # unique index said so. Give back the seat; the shift row is still ours, locked.
        if claimed:
            _release_seat(shift_id)
        raise AlreadySignedUp(_("您已报名该班次"))

    # Counted once, while the shift row is ours: the answer and the notice both tell it.
    position = None if claimed else waitlist_position(signup)
    publish(SignupPlaced(signup.id, SignupSource(source), waitlist_position=position))
    return SignupResult(signup=signup, waitlist_position=position)


def cancel(
    signup_id: int, acted_by_id: int | None = None, now: datetime | None = None
) -> CancelResult:
    """Take the person off the shift; a freed seat goes to the first on the waitlist."""
    now = now or utcnow()
    signup = db.session.get(Signup, signup_id)
    if signup is None:
        raise NotFound(_("报名记录不存在"))
    previous = signup.status
    if previous not in ACTIVE_STATUSES:
        raise SignupNotActive(_("该报名已取消"))

    # The shift row first, like every change to the waitlist: a waitlisted signup that
    # leaves moves those behind it up, and a position told meanwhile must count it.
    _lock_shift(signup.shift_id)
    # Conditional, so two cancellations of the same signup release one seat only.
    changed = db.session.execute(
        update(Signup)
        .where(Signup.id == signup_id, Signup.status == previous)
        .values(status=SignupStatus.CANCELLED, cancelled_at=now, acted_by_id=acted_by_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(signup)
    if changed != 1:
        raise SignupNotActive(_("该报名已取消"))
    publish(SignupCancelled(signup.id))

    promoted: list[Signup] = []
    if previous == SignupStatus.CONFIRMED:
        _release_seat(signup.shift_id)
        shift, event = _shift_and_event(signup.shift_id)
        if (
            event.status == EventStatus.PUBLISHED
            and not shift.is_cancelled
            and shift.starts_at > now
        ):
            promoted = promote_waitlist(signup.shift_id, now=now)
    return CancelResult(signup=signup, promoted=promoted)


def promote_waitlist(shift_id: int, now: datetime | None = None) -> list[Signup]:
    """Fill free seats from the head of the waitlist, in order. Returns who moved up."""
    now = now or utcnow()
    promoted: list[Signup] = []
    while True:
        head = db.session.scalar(
            select(Signup)
            .where(Signup.shift_id == shift_id, Signup.status == SignupStatus.WAITLISTED)
            .order_by(Signup.id)
            .limit(1)
            .with_for_update()
        )
        if head is None or not _claim_seat(shift_id):
            break
        head.status = SignupStatus.CONFIRMED
        head.confirmed_at = now
        db.session.flush()
        promoted.append(head)
        publish(SignupPromoted(head.id))
    return promoted


def cancel_shift(
    shift_id: int, now: datetime | None = None, *, event_cancelled: bool = False, reason: str = ""
) -> int:
    """Cancel a shift and every active signup on it. Returns how many signups ended."""
    now = now or utcnow()
    shift = db.session.get(Shift, shift_id)
    if shift is None:
        raise NotFound(_("班次不存在"))
    _lock_shift(shift_id)  # before the signup rows, in the order cancel() takes them
    ended_ids = list(
        db.session.scalars(
            select(Signup.id).where(Signup.shift_id == shift_id, Signup.status.in_(ACTIVE_STATUSES))
        )
    )
    db.session.execute(
        update(Signup)
        .where(Signup.id.in_(ended_ids))
        .values(status=SignupStatus.CANCELLED, cancelled_at=now, cancelled_with_shift=True)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Shift)
        .where(Shift.id == shift_id)
        .values(
            is_cancelled=True,
            filled=0,
            code_is_current=False,
            revision=Shift.revision + 1,
            changed_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.expire(shift)
    publish(ShiftCancelled(shift_id, tuple(ended_ids), event_cancelled, reason))
    return len(ended_ids)


def check_may_join(event: Event, person_id: int, *, on_behalf: bool, overseer: bool) -> None:
    """Who may be put on an event's shifts, whatever the channel (SMS, /me, a leader's
    page, the API): a member of the event's team always; anyone else only when the
    event is open to all (公开招募) and they sign themselves up, or when an overseer
    (an admin, a coordinator over the team) acts. A leader acting for someone signs up
    members only, open event or not: nobody is put on another team's rota unasked.
    Raises MembersOnly, naming the team."""
    if overseer or (event.open_to_all and not on_behalf):
        return
    if _is_member(event.team_id, person_id):
        return
    raise _members_only(event, on_behalf=on_behalf)


def oversees(viewer: Viewer, team: Team) -> bool:
    """An admin, or a coordinator whose unit's subtree holds the team: may sign up any
    phone for the team's events (``overseer`` of :func:`sign_up`)."""
    if viewer.is_admin:
        return True
    return viewer.coordinator_path is not None and is_within(
        team.unit.path, viewer.coordinator_path
    )


def person_to_sign_up(
    shift_id: int, phone: str, name: str, *, overseer: bool
) -> tuple[Person, bool]:
    """The person a leader or staff names by phone, and whether they were created. An
    overseer may name any phone (a new number is registered with ``name``); anyone else
    only a member of the event's team: any other phone, registered or not, gets the same
    MembersOnly, so the answer tells nothing about who is registered, and nobody is
    created. Raises InvalidPhone for a number that is not one."""
    if overseer:
        return _find_or_create_person(name, phone)
    _shift, event = _shift_and_event(shift_id)
    person = db.session.scalar(select(Person).where(Person.phone == normalize_phone(phone)))
    if person is None or not _is_member(event.team_id, person.id):
        raise _members_only(event, on_behalf=True)
    return person, False


def _find_or_create_person(name: str, phone: str) -> tuple[Person, bool]:
    """``get_or_create_person`` in prebuilt statements, for the API's sign-up of a new
    phone on every request: the SELECT, then an ``INSERT … ON CONFLICT DO NOTHING
    RETURNING`` rather than a unit-of-work flush; a number another request registered
    meanwhile is found, not a unique-index error. Without a name, a new number gets
    ``get_or_create_person``'s own error."""
    e164 = normalize_phone(phone)
    name = (name or "").strip()[: Person.__table__.c.name.type.length]
    person = db.session.scalar(_PERSON_BY_PHONE, {"phone": e164})
    if person is None and name:
        dialect = db.session.get_bind().dialect.name
        person = db.session.scalar(_new_person_statement(dialect), {"name": name, "phone": e164})
        if person is not None:
            return person, True
        person = db.session.scalar(_PERSON_BY_PHONE, {"phone": e164})
    if person is None:
        return get_or_create_person(name, phone)
    return person, False


_PERSON_BY_PHONE = select(Person).where(Person.phone == bindparam("phone"))


@functools.cache
def _new_person_statement(dialect: str):
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(Person)
        .values(name=bindparam("name"), phone=bindparam("phone"))
        .on_conflict_do_nothing(index_elements=[Person.phone])
        .returning(Person)
    )


def waitlist_position(signup: Signup) -> int | None:
    if signup.status != SignupStatus.WAITLISTED:
        return None
    return db.session.scalar(Signup.waitlisted_ahead(signup.shift_id, signup.id)) + 1


def active_signup(shift_id: int, person_id: int) -> Signup | None:
    """The person's signup on the shift that holds a seat or a waitlist place, if any."""
    return db.session.scalar(
        select(Signup).where(
            Signup.shift_id == shift_id,
            Signup.person_id == person_id,
            Signup.status.in_(ACTIVE_STATUSES),
        )
    )


def roster(shift_ids: list[int]) -> dict[int, list[Signup]]:
    """Active signups per shift, confirmed first then the waitlist in order; one query."""
    result: dict[int, list[Signup]] = {shift_id: [] for shift_id in shift_ids}
    if not shift_ids:
        return result
    rows = db.session.scalars(
        select(Signup)
        .join(Person, Person.id == Signup.person_id)
        .where(Signup.shift_id.in_(shift_ids), Signup.status.in_(ACTIVE_STATUSES))
        .order_by(Signup.shift_id, Signup.status, Signup.id)
        .options(contains_eager(Signup.person))
    )
    for signup in rows:
        result[signup.shift_id].append(signup)
    return result


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


@functools.cache
def _insert_signup_statement(dialect: str):
    """The signup INSERT, built once per dialect: every sign-up runs it, and a statement
    built anew costs more CPU (construction and its cache key) than the round trip."""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return (
        insert(Signup)
        .values({name: bindparam(name) for name in _NEW_SIGNUP_COLUMNS})
        .on_conflict_do_nothing(
            index_elements=[Signup.shift_id, Signup.person_id],
            # Spelled as in the index, so PostgreSQL can match the partial index to it.
            index_where=text("status <> 'cancelled'"),
        )
        .returning(Signup)
    )


def _insert_active_signup(**values) -> Signup | None:
    """INSERT the signup unless the person already has an active one on the shift, in
    which case the partial unique index turns it into no row (and None), not an error."""
    dialect = db.session.get_bind().dialect.name
    return db.session.scalar(_insert_signup_statement(dialect), values)


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


def _claim_seat(shift_id: int) -> bool:
    result = db.session.execute(_CLAIM_SEAT, {"shift_id": shift_id})
    _expire_shift(shift_id)
    return result.rowcount == 1


def _lock_shift(shift_id: int) -> None:
    """Hold the shift row until commit (FOR UPDATE; SQLite's writer lock already does)."""
    db.session.execute(_LOCK_SHIFT, {"shift_id": shift_id})


def _is_member(team_id: int, person_id: int) -> bool:
    return (
        db.session.scalar(
            select(Membership.id).where(
                Membership.team_id == team_id, Membership.person_id == person_id
            )
        )
        is not None
    )


def _members_only(event: Event, *, on_behalf: bool) -> MembersOnly:
    team = db.session.get(Team, event.team_id)
    if on_behalf:
        message = _("只能为“%(team)s”的队员报名", team=team.name)
    else:
        message = _("该活动仅限“%(team)s”的队员报名", team=team.name)
    return MembersOnly(message, field="phone" if on_behalf else None, team=team.name)


def _release_seat(shift_id: int) -> None:
    db.session.execute(_RELEASE_SEAT, {"shift_id": shift_id})
    _expire_shift(shift_id)


def _expire_shift(shift_id: int) -> None:
    shift = db.session.identity_map.get(db.session.identity_key(Shift, shift_id))
    if shift is not None:
        db.session.expire(shift, ["filled"])


def _shift_and_event(shift_id: int) -> tuple[Shift, Event]:
    # From the identity map when the caller already loaded them (no query), else two
    # primary-key loads. ``filled`` may be stale here; only the conditional UPDATE reads it.
    shift = db.session.get(Shift, shift_id)
    if shift is None:
        raise NotFound(_("班次不存在"), field="shift_id")
    return shift, db.session.get(Event, shift.event_id)
