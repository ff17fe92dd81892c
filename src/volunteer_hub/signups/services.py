"""Sign-up rules. Every channel (web, API, SMS) goes through these functions.

Capacity is never exceeded: a seat is claimed with one conditional UPDATE
(``filled = filled + 1 WHERE filled < capacity``), which the database serialises per
shift row on PostgreSQL and per file on SQLite. A stale read can never oversell.
The waitlist is ordered by signup id. Releasing a seat and promoting the first
waitlisted person happen in the same transaction, while the shift row is locked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import and_, func, select, text, update
from sqlalchemy.orm import contains_eager

from volunteer_hub import after_commit, signals
from volunteer_hub.db import dialect_insert, utcnow
from volunteer_hub.errors import Conflict, DomainError, NotFound
from volunteer_hub.events.models import Event, EventStatus, Shift
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.signups.models import (
    ACTIVE_STATUSES,
    Signup,
    SignupSource,
    SignupStatus,
)


class AlreadySignedUp(Conflict):
    code = "already-signed-up"


class ShiftStarted(DomainError):
    code = "shift-started"
    status = 409


class EventNotOpen(DomainError):
    code = "event-not-open"
    status = 409


class SignupNotActive(DomainError):
    code = "signup-not-active"
    status = 409


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
) -> SignupResult:
    """Put the person on the shift: confirmed if a seat is free, else at the end of the
    waitlist. Raises AlreadySignedUp, ShiftStarted, EventNotOpen, NotFound."""
    now = now or utcnow()
    shift, event = _shift_and_event(shift_id)
    if db.session.get(Person, person_id) is None:
        raise NotFound(_("志愿者不存在"), field="person_id")
    if event.status != EventStatus.PUBLISHED or shift.is_cancelled:
        if event.status == EventStatus.CANCELLED or shift.is_cancelled:
            raise EventNotOpen(_("该活动已取消"))
        raise EventNotOpen(_("该活动尚未发布"))
    if shift.starts_at <= now:
        raise ShiftStarted(_("该班次已经开始，不能再报名"))

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

    after_commit.emit("signup_created", signup.id)
    signals.signup_placed.send(signup, source=SignupSource(source))
    position = None if claimed else waitlist_position(signup)
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
    after_commit.emit("signup_cancelled", signup.id)
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
        after_commit.emit("signup_promoted", head.id)
        signals.signup_promoted.send(head)
    return promoted


def cancel_shift(
    shift_id: int, now: datetime | None = None, *, event_cancelled: bool = False, reason: str = ""
) -> int:
    """Cancel a shift and every active signup on it. Returns how many signups ended."""
    now = now or utcnow()
    shift = db.session.get(Shift, shift_id)
    if shift is None:
        raise NotFound(_("班次不存在"))
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
    for signup_id in ended_ids:
        after_commit.emit("signup_cancelled_by_organizer", signup_id)
    signals.shift_cancelled.send(
        shift, signup_ids=ended_ids, event_cancelled=event_cancelled, reason=reason
    )
    return len(ended_ids)


def waitlist_position(signup: Signup) -> int | None:
    if signup.status != SignupStatus.WAITLISTED:
        return None
    ahead = db.session.scalar(
        select(func.count())
        .select_from(Signup)
        .where(
            Signup.shift_id == signup.shift_id,
            Signup.status == SignupStatus.WAITLISTED,
            Signup.id < signup.id,
        )
    )
    return ahead + 1


def active_signup(shift_id: int, person_id: int) -> Signup | None:
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


def _insert_active_signup(**values) -> Signup | None:
    """INSERT the signup unless the person already has an active one on the shift, in
    which case the partial unique index turns it into no row (and None), not an error."""
    statement = (
        dialect_insert(db.session, Signup)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=[Signup.shift_id, Signup.person_id],
            # Spelled as in the index, so PostgreSQL can match the partial index to it.
            index_where=text("status <> 'cancelled'"),
        )
        .returning(Signup)
    )
    return db.session.scalar(statement)


def _claim_seat(shift_id: int) -> bool:
    result = db.session.execute(
        update(Shift)
        .where(and_(Shift.id == shift_id, Shift.filled < Shift.capacity))
        .values(filled=Shift.filled + 1)
        .execution_options(synchronize_session=False)
    )
    _expire_shift(shift_id)
    return result.rowcount == 1


def _release_seat(shift_id: int) -> None:
    db.session.execute(
        update(Shift)
        .where(Shift.id == shift_id, Shift.filled > 0)
        .values(filled=Shift.filled - 1)
        .execution_options(synchronize_session=False)
    )
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
