"""Walk-ins (现场加入): someone who turns up at a shift that has started, without a seat.

Signing up closes when a shift starts (``signups.sign_up``), yet at flood duty people
come as they hear. A leader puts such a person on the roster of a running or finished
shift; their attendance is then marked as anyone's (``hours.attendance``). A member of
the event's team is picked from the team (``add_walk_in``); on an event open to all
(公开招募) anyone may come, and the leader gives their phone and name instead
(``add_walk_in_by_phone``), registering a number not known yet, as a leader's sign-up
of a new number does.

Capacity: a walk-in is someone who IS there, so the seat is never refused. A free seat
is taken as usual; on a full shift the capacity grows by one with the seat, in the same
conditional UPDATE, so ``filled <= capacity`` still holds and the roster shows what
happened (the signup's source is ``walk_in``; the leader is told the seat was added).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import case, select, update

from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.db import utcnow
from volunteer_hub.domain_events import SignupPlaced, publish
from volunteer_hub.errors import Conflict, DomainError
from volunteer_hub.events.models import Event, EventStatus, Shift
from volunteer_hub.extensions import db
from volunteer_hub.hours.attendance import OutsideWindow, shift_and_event
from volunteer_hub.signups.models import Signup, SignupSource, SignupStatus
from volunteer_hub.signups.services import active_signup, find_or_create_person
from volunteer_hub.teams.services import membership


class AlreadyOnShift(Conflict, code="already-on-shift"):
    """The person already holds a seat on the shift: mark their attendance instead."""


@dataclass(frozen=True)
class WalkIn:
    signup: Signup
    #: the shift was full: its capacity grew by one for this person
    seat_added: bool


def add_walk_in(
    shift_id: int, person_id: int, *, viewer: Viewer, now: datetime | None = None
) -> WalkIn:
    """Seat a member of the event's team who came to a shift that has started (one on
    its waitlist included). Raises OutsideWindow before the start, AlreadyOnShift for
    someone already confirmed, DomainError for a non-member or an unpublished event."""
    now = now or utcnow()
    shift, event = _started_shift(shift_id, viewer, now)
    member = membership(event.team_id, person_id)
    if member is None:
        raise DomainError(_("请从名单中选择本队队员"), field="person_id")
    return _seat(shift, person_id, member.person.name, viewer, now, field="person_id")


def add_walk_in_by_phone(
    shift_id: int, phone: str, name: str, *, viewer: Viewer, now: datetime | None = None
) -> WalkIn:
    """Seat whoever came to a started shift of an event open to all (公开招募), named by
    phone: a number nobody has registered becomes a new volunteer called ``name``.
    Raises what :func:`add_walk_in` does, DomainError on an event for its team only,
    and InvalidPhone or a missing name for a new number (``find_or_create_person``)."""
    now = now or utcnow()
    shift, event = _started_shift(shift_id, viewer, now)
    if not event.open_to_all:
        raise DomainError(_("该活动仅限本队队员：请从名单中选择"), field="phone")
    person, _created = find_or_create_person(name, phone)
    return _seat(shift, person.id, person.name, viewer, now, field="phone")


def _started_shift(shift_id: int, viewer: Viewer, now: datetime) -> tuple[Shift, Event]:
    shift, event = shift_and_event(shift_id, viewer)
    if event.status != EventStatus.PUBLISHED:
        raise DomainError(_("该活动尚未发布"), code="event-not-open")
    if shift.starts_at > now:
        raise OutsideWindow(_("班次尚未开始：开始前请用“代队员报名”"))
    return shift, event


def _seat(
    shift: Shift, person_id: int, name: str, viewer: Viewer, now: datetime, *, field: str
) -> WalkIn:
    """The walk-in's seat and confirmed signup on ``shift``; AlreadyOnShift for someone
    confirmed on it already (``field`` names the form field that chose them)."""
    shift_id = shift.id
    # The shift row first, then the signup (the order signups.services keeps).
    capacity = db.session.scalar(
        select(Shift.capacity).where(Shift.id == shift_id).with_for_update()
    )
    signup = active_signup(shift_id, person_id)
    if signup is not None and signup.status == SignupStatus.CONFIRMED:
        raise AlreadyOnShift(
            _("%(name)s 已在该班次的名单中，请直接登记出勤", name=name), field=field
        )
    # The seat, and on a full shift the capacity with it: one statement, so filled never
    # passes capacity, not even between two statements.
    seated = Shift.filled + 1
    grown = case((Shift.filled < Shift.capacity, Shift.capacity), else_=seated)
    seat = update(Shift).where(Shift.id == shift_id).values(filled=seated, capacity=grown)
    db.session.execute(seat, execution_options={"synchronize_session": False})
    db.session.expire(shift, ["filled", "capacity"])
    if signup is None:
        signup = Signup(shift_id=shift_id, person_id=person_id, source=SignupSource.WALK_IN)
        signup.created_at, signup.acted_by_id = now, viewer.person_id
        db.session.add(signup)
    # New, or on the waitlist and here after all: the seat is theirs.
    signup.status, signup.confirmed_at = SignupStatus.CONFIRMED, now
    db.session.flush()
    publish(SignupPlaced(signup.id, SignupSource.WALK_IN))
    return WalkIn(signup=signup, seat_added=shift.capacity > capacity)
