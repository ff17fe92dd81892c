"""Attendance (出勤) at a shift: the volunteer's check-in and check-out (by SMS or on the
web), check-ins never checked out closed by the scheduler, and the leader's roster marks
(present, late, absent; everyone as planned).

Each of these creates or changes the person's service record for the shift through
``hours.records``, which counts it and writes the trail.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.db import utcnow
from volunteer_hub.errors import Conflict, DomainError, NotFound
from volunteer_hub.events.models import Event, EventStatus, Shift
from volunteer_hub.extensions import db
from volunteer_hub.hours.models import Attendance, RecordStatus, ServiceRecord
from volunteer_hub.hours.records import (
    CONTENT_MAX,
    add_record,
    apply_change,
    audit,
    check_not_future,
    check_span,
    parse_attendance,
    snapshot,
)
from volunteer_hub.i18n import to_local
from volunteer_hub.signups.models import Signup, SignupStatus
from volunteer_hub.signups.services import active_signup
from volunteer_hub.teams.models import Team

#: a check-in this long after the start is marked late
LATE_AFTER = timedelta(minutes=15)


class NotSignedUp(DomainError, code="not-signed-up"):
    """No confirmed seat on the shift (none at all, or only a waitlist place)."""


class OutsideWindow(DomainError, code="outside-window"):
    """Not now: check-in too early or after the end, check-out too late, marking before the start."""


class AlreadyCheckedIn(Conflict, code="already-checked-in"):
    """A second 签到; the message tells the time of the first."""


class CheckedInStays(DomainError, code="checked-in-stays"):
    """A volunteer's own cancellation of a shift they checked in on: they are there, the
    seat is theirs and their record counts; leaving early is 签退, not a cancellation."""


class NotCheckedIn(DomainError, code="not-checked-in"):
    """签退 without a 签到 first; an SMS sender is told to check in."""


class AlreadyCheckedOut(Conflict, code="already-checked-out"):
    """The record is closed (checked out, or auto-closed); the leader corrects a wrong time."""


class RecordDecided(Conflict, code="record-decided"):
    """A verified or rejected record changes only through the leader."""


def records_of_shift(shift_id: int) -> dict[int, ServiceRecord]:
    """The shift's records by person id; one query (the roster page)."""
    rows = db.session.scalars(select(ServiceRecord).where(ServiceRecord.shift_id == shift_id))
    return {record.person_id: record for record in rows}


# -- the volunteer: check-in and check-out ---------------------------------------------


def check_in(
    shift_id: int, person_id: int, *, now: datetime | None = None, channel: str = "sms"
) -> ServiceRecord:
    """签到: from CHECK_IN_EARLY_MINUTES before the shift to its end, for a person with a
    confirmed seat. Raises NotSignedUp, OutsideWindow, AlreadyCheckedIn, RecordDecided."""
    now = now or utcnow()
    shift, event = shift_and_event(shift_id)
    _require_seat(shift_id, person_id)
    early = timedelta(minutes=current_app.config["CHECK_IN_EARLY_MINUTES"])
    if now < shift.starts_at - early:
        raise OutsideWindow(
            _("签到时间未到：%(time)s 起可签到", time=f"{to_local(shift.starts_at - early):%H:%M}")
        )
    if now > shift.ends_at:
        raise OutsideWindow(_("该班次已结束，不能签到；如有出入请联系队长"))

    record = _record_of(shift_id, person_id)
    if record is not None and record.checked_in_at is not None:
        raise AlreadyCheckedIn(
            _("您已于 %(time)s 签到", time=f"{to_local(record.checked_in_at):%H:%M}")
        )
    if record is not None and record.status != RecordStatus.PENDING:
        raise RecordDecided(_("该班次的服务记录已审核，如有出入请联系队长"))
    attendance = Attendance.LATE if now > shift.starts_at + LATE_AFTER else Attendance.PRESENT
    values = {
        "attendance": attendance,
        "checked_in_at": now,
        "started_at": now,
        "ended_at": max(shift.ends_at, now),
    }
    if record is None:
        record = _new_record(shift, event, person_id, **values)
        audit(record, person_id, "checked_in", channel=channel, changes=snapshot(record))
    else:
        apply_change(record, person_id, "checked_in", values, channel=channel, now=now)
    return record


def check_out(
    shift_id: int, person_id: int, *, now: datetime | None = None, channel: str = "sms"
) -> ServiceRecord:
    """签退: after a check-in, until CHECK_OUT_LATE_MINUTES after the shift's end.
    Raises NotSignedUp, NotCheckedIn, AlreadyCheckedOut, OutsideWindow."""
    now = now or utcnow()
    shift, _event = shift_and_event(shift_id)
    record = _record_of(shift_id, person_id)
    if record is None:
        # No record at all: say first if the person has no seat here.
        _require_seat(shift_id, person_id)
    if record is None or record.checked_in_at is None:
        raise NotCheckedIn(_("您还没有签到，不能签退"))
    if record.checked_out_at is not None or record.auto_closed:
        raise AlreadyCheckedOut(_("您已签退；如时间有误请联系队长更正"))
    late = timedelta(minutes=current_app.config["CHECK_OUT_LATE_MINUTES"])
    if now > shift.ends_at + late:
        raise OutsideWindow(_("签退时间已过，记录按班次结束时间计；如有出入请联系队长"))
    values = {"checked_out_at": now, "ended_at": max(now, record.started_at)}
    apply_change(record, person_id, "checked_out", values, channel=channel, now=now)
    return record


def close_forgotten_check_outs(now: datetime | None = None) -> int:
    """Close check-ins never checked out once the check-out window is over: the record
    ends at the shift's end and is flagged (``auto_closed``) for the leader."""
    now = now or utcnow()
    late = timedelta(minutes=current_app.config["CHECK_OUT_LATE_MINUTES"])
    rows = db.session.execute(
        select(ServiceRecord, Shift.ends_at)
        .join(Shift, Shift.id == ServiceRecord.shift_id)
        .where(
            ServiceRecord.checked_in_at.is_not(None),
            ServiceRecord.checked_out_at.is_(None),
            ServiceRecord.auto_closed.is_(False),
            Shift.ends_at < now - late,
        )
        .with_for_update(of=ServiceRecord, skip_locked=True)
    ).all()
    for record, shift_end in rows:
        apply_change(
            record,
            None,
            "auto_closed",
            {"auto_closed": True, "ended_at": max(shift_end, record.started_at)},
            channel="system",
            reason=_("未签退，按班次结束时间计"),
            now=now,
        )
    return len(rows)


# -- the leader: the roster --------------------------------------------------------------


def mark_attendance(
    shift_id: int,
    person_id: int,
    attendance: Attendance | str,
    *,
    viewer: Viewer,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> ServiceRecord:
    """The roster: present, late or absent (a no-show, counted as nothing), with the
    times on site if the leader adjusts them (default: check-in/out, else the plan).
    Only once the shift has started; typed times no later than ``now`` (give or take
    FUTURE_TOLERANCE)."""
    now = now or utcnow()
    attendance = parse_attendance(attendance)
    shift, event = shift_and_event(shift_id, viewer)
    if shift.starts_at > now:
        raise OutsideWindow(_("班次尚未开始，不能登记出勤"))
    if active_signup(shift_id, person_id) is None:
        raise NotSignedUp(_("该志愿者没有报名这个班次"))
    # Times typed must have happened; left out, the end is the plan's, which may still
    # lie ahead: such a record waits for the shift's end before it can be verified.
    check_not_future(now, started_at=started_at, ended_at=ended_at)
    record = _record_of(shift_id, person_id)
    if attendance == Attendance.ABSENT:
        started_at, ended_at = shift.starts_at, shift.starts_at
    else:
        started_at = started_at or (record.checked_in_at if record else None) or shift.starts_at
        ended_at = ended_at or (record.checked_out_at if record else None) or shift.ends_at
    check_span(started_at, ended_at)
    values = {"attendance": attendance, "started_at": started_at, "ended_at": ended_at}
    if record is None:
        record = _new_record(shift, event, person_id, **values)
        audit(record, viewer.person_id, "created", reason=reason, changes=snapshot(record))
    else:
        apply_change(record, viewer.person_id, "marked", values, reason=reason, now=now)
    return record


def mark_all_attended(shift_id: int, *, viewer: Viewer, now: datetime | None = None) -> int:
    """ "All confirmed attended as planned": a present record with the planned times for
    every confirmed person who has none yet; records already there are left alone."""
    now = now or utcnow()
    shift, event = shift_and_event(shift_id, viewer)
    if shift.starts_at > now:
        raise OutsideWindow(_("班次尚未开始，不能登记出勤"))
    have = select(ServiceRecord.person_id).where(ServiceRecord.shift_id == shift_id)
    person_ids = list(
        db.session.scalars(
            select(Signup.person_id).where(
                Signup.shift_id == shift_id,
                Signup.status == SignupStatus.CONFIRMED,
                Signup.person_id.not_in(have),
            )
        )
    )
    for person_id in person_ids:
        record = _new_record(
            shift,
            event,
            person_id,
            attendance=Attendance.PRESENT,
            started_at=shift.starts_at,
            ended_at=shift.ends_at,
        )
        audit(record, viewer.person_id, "created", reason=_("全部按计划出勤"))
    return len(person_ids)


# -- internals -------------------------------------------------------------------------


def shift_and_event(shift_id: int, viewer: Viewer | None = None) -> tuple[Shift, Event]:
    query = select(Shift, Event).join(Event, Event.id == Shift.event_id).where(Shift.id == shift_id)
    if viewer is not None:
        query = query.join(Team, Team.id == Event.team_id).where(viewer.team_condition())
    row = db.session.execute(query).first()
    if row is None:
        raise NotFound(_("班次不存在"))
    shift, event = row
    if shift.is_cancelled or event.status == EventStatus.CANCELLED:
        raise DomainError(_("该班次已取消"), code="shift-cancelled")
    return shift, event


def has_checked_in(shift_id: int, person_id: int) -> bool:
    return (
        db.session.scalar(
            select(ServiceRecord.id).where(
                ServiceRecord.shift_id == shift_id,
                ServiceRecord.person_id == person_id,
                ServiceRecord.checked_in_at.is_not(None),
            )
        )
        is not None
    )


def ensure_cancellable_by_volunteer(shift_id: int, person_id: int) -> None:
    """Raise CheckedInStays once the person checked in on the shift: a cancellation then
    would give their seat away while they are on site (a leader can still correct it)."""
    if has_checked_in(shift_id, person_id):
        raise CheckedInStays(_("您已签到，不能取消报名。提前离开请发短信“签退 编号”。"))


def _require_seat(shift_id: int, person_id: int) -> None:
    signup = active_signup(shift_id, person_id)
    if signup is None:
        raise NotSignedUp(_("您没有报名这个班次"))
    if signup.status != SignupStatus.CONFIRMED:
        raise NotSignedUp(_("您在这个班次的候补名单上，尚未确认名额"))


def _record_of(shift_id: int, person_id: int) -> ServiceRecord | None:
    return db.session.scalar(
        select(ServiceRecord)
        .where(ServiceRecord.shift_id == shift_id, ServiceRecord.person_id == person_id)
        .with_for_update()
    )


def _new_record(shift: Shift, event: Event, person_id: int, **values) -> ServiceRecord:
    """A pending record of the shift, its content from the event and shift titles."""
    record = ServiceRecord(
        person_id=person_id,
        team_id=event.team_id,
        shift_id=shift.id,
        category_id=event.category_id,
        content=(f"{event.title}（{shift.title}）" if shift.title else event.title)[:CONTENT_MAX],
        status=RecordStatus.PENDING,
        **values,
    )
    record.shift = shift
    return add_record(record)
