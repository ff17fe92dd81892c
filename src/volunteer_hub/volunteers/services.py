"""What a volunteer sees and does on /me: their shifts, their teams' open shifts.

Signing up and cancelling are the rules of ``signups.services``; this module only adds
what a volunteer can reach: shifts of their own teams' events (listed here), of events
open to all (公开招募: not listed, but open to them as to 报名 CODE by text), and their
own signups. Anything else does not exist for them (NotFound, a 404 on the page).
Both page queries are single statements whatever the number of shifts and teams.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import or_, select

from volunteer_hub.db import utcnow
from volunteer_hub.errors import NotFound
from volunteer_hub.events.models import Event, EventStatus, Shift
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance
from volunteer_hub.hours.models import ServiceRecord
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import ACTIVE_STATUSES, Signup, SignupSource, SignupStatus
from volunteer_hub.teams.models import Membership, Team

#: open shifts listed on the page at most (the soonest first)
OPEN_SHIFT_LIMIT = 50


@dataclass(frozen=True)
class MyShift:
    signup_id: int
    status: SignupStatus
    #: 1-based place on the waitlist; None when confirmed
    position: int | None
    code: str
    event_title: str
    shift_title: str
    location: str
    starts_at: datetime
    ends_at: datetime
    #: when the person texted 确认 to a reminder (they will come)
    attendance_confirmed_at: datetime | None = None
    #: when the person texted 签到 for this shift, and 签退
    checked_in_at: datetime | None = None
    checked_out_at: datetime | None = None
    #: the shift is under way: listed until it ends, for the 签到 / 签退 code
    started: bool = False

    @property
    def confirmed(self) -> bool:
        return self.status == SignupStatus.CONFIRMED


@dataclass(frozen=True)
class OpenShift:
    shift_id: int
    code: str
    team_name: str
    event_title: str
    shift_title: str
    location: str
    starts_at: datetime
    ends_at: datetime
    seats_left: int


def my_shifts(person_id: int, now: datetime | None = None) -> list[MyShift]:
    """The person's active signups on shifts not yet over, soonest first, each with its
    place on the waitlist, their 确认 and their 签到 / 签退 (one query: the place and the
    check-in are correlated subqueries). A shift under way stays listed until its end:
    the person on site needs its code to text 签退."""
    now = now or utcnow()
    waiting_ahead = (
        Signup.waitlisted_ahead(Signup.shift_id, Signup.id).correlate(Signup).scalar_subquery()
    )
    # One record per person and shift (a unique constraint), so at most one row each.
    own_record = (
        ServiceRecord.person_id == Signup.person_id,
        ServiceRecord.shift_id == Signup.shift_id,
    )
    checked_in = select(ServiceRecord.checked_in_at).where(*own_record).correlate(Signup)
    checked_out = select(ServiceRecord.checked_out_at).where(*own_record).correlate(Signup)
    rows = db.session.execute(
        select(
            Signup.id,
            Signup.status,
            waiting_ahead.label("ahead"),
            Signup.attendance_confirmed_at,
            checked_in.scalar_subquery().label("checked_in_at"),
            checked_out.scalar_subquery().label("checked_out_at"),
            Shift.code,
            Shift.title,
            Shift.starts_at,
            Shift.ends_at,
            Event.title.label("event_title"),
            Event.location,
        )
        .join(Shift, Shift.id == Signup.shift_id)
        .join(Event, Event.id == Shift.event_id)
        .where(
            Signup.person_id == person_id,
            Signup.status.in_(ACTIVE_STATUSES),
            Shift.is_cancelled.is_(False),
            Event.status != EventStatus.CANCELLED,
            Shift.ends_at > now,
        )
        .order_by(Shift.starts_at, Shift.id)
    )
    return [
        MyShift(
            signup_id=row.id,
            status=SignupStatus(row.status),
            position=row.ahead + 1 if row.status == SignupStatus.WAITLISTED else None,
            code=row.code,
            event_title=row.event_title,
            shift_title=row.title,
            location=row.location,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            attendance_confirmed_at=row.attendance_confirmed_at,
            checked_in_at=row.checked_in_at,
            checked_out_at=row.checked_out_at,
            started=row.starts_at <= now,
        )
        for row in rows
    ]


def open_shifts(
    person_id: int, now: datetime | None = None, limit: int = OPEN_SHIFT_LIMIT
) -> list[OpenShift]:
    """Shifts ahead of published events of the person's teams that they are not on yet."""
    now = now or utcnow()
    my_teams = select(Membership.team_id).where(Membership.person_id == person_id)
    already_on = select(Signup.shift_id).where(
        Signup.person_id == person_id, Signup.status.in_(ACTIVE_STATUSES)
    )
    rows = db.session.execute(
        select(
            Shift.id,
            Shift.code,
            Shift.title,
            Shift.starts_at,
            Shift.ends_at,
            Shift.capacity,
            Shift.filled,
            Event.title.label("event_title"),
            Event.location,
            Team.name.label("team_name"),
        )
        .join(Event, Event.id == Shift.event_id)
        .join(Team, Team.id == Event.team_id)
        .where(
            Event.team_id.in_(my_teams),
            Event.status == EventStatus.PUBLISHED,
            Shift.is_cancelled.is_(False),
            Shift.starts_at > now,
            Shift.id.not_in(already_on),
        )
        .order_by(Shift.starts_at, Shift.id)
        .limit(limit)
    )
    return [
        OpenShift(
            shift_id=row.id,
            code=row.code,
            team_name=row.team_name,
            event_title=row.event_title,
            shift_title=row.title,
            location=row.location,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            seats_left=max(row.capacity - row.filled, 0),
        )
        for row in rows
    ]


def sign_up(person_id: int, shift_id: int, now: datetime | None = None) -> signups.SignupResult:
    """Sign the person up (source web) for a shift of one of their teams' events or of
    an event open to all (公开招募). A shift of another team's members-only event, or of
    an unpublished one, does not exist for them: NotFound. Who may join is still the
    rule of ``signups.sign_up``, as for every channel."""
    my_teams = select(Membership.team_id).where(Membership.person_id == person_id)
    reachable = db.session.scalar(
        select(Shift.id)
        .join(Event, Event.id == Shift.event_id)
        .where(
            Shift.id == shift_id,
            Event.status != EventStatus.DRAFT,
            or_(Event.open_to_all.is_(True), Event.team_id.in_(my_teams)),
        )
    )
    if reachable is None:
        raise NotFound(_("班次不存在"))
    return signups.sign_up(shift_id, person_id, SignupSource.WEB, now=now)


def cancel(person_id: int, signup_id: int, now: datetime | None = None) -> signups.CancelResult:
    """Cancel one of the person's own signups; anyone else's is NotFound, one they
    checked in on is CheckedInStays."""
    signup = db.session.execute(
        select(Signup.person_id, Signup.shift_id).where(Signup.id == signup_id)
    ).first()
    if signup is None or signup.person_id != person_id:
        raise NotFound(_("报名记录不存在"))
    attendance.ensure_cancellable_by_volunteer(signup.shift_id, person_id)
    return signups.cancel(signup_id, now=now)
