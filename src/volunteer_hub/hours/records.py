"""Service records (志愿服务记录): how one is counted, stored and changed, with its trail.

A record is stored through ``add_record`` and changed through ``apply_change``, by the
attendance and verification modules too: its month and minutes are recounted, and the
roll-up keys it touched, before and after, are announced (``_touch_if_counted``:
``RecordCounted``, which marks them in ``hours.marks``) for the hours actors to
recompute (``hours.rollups``). Every change, deletions and records
moved with their event's category included, writes a ``RecordChange`` (who, why, what)
in the same transaction. Here also: the leader's edits, deletions and unplanned service,
and the volunteer's correction requests and their resolution.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.db import utcnow
from volunteer_hub.domain_events import (
    CorrectionResolved,
    EventChanged,
    RecordCounted,
    publish,
)
from volunteer_hub.errors import Conflict, NotFound, ValidationFailed
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.hours.models import Attendance, RecordChange, RecordStatus, ServiceRecord
from volunteer_hub.i18n import to_local
from volunteer_hub.teams.models import Membership, Team

#: longest service one record may count (a 24-hour flood watch, with a margin)
MAX_RECORD_MINUTES = 36 * 60
#: how far past the server's clock a time a leader types may be: times are typed to the
#: minute and a phone's clock may run a little fast; more than this has not happened yet
FUTURE_TOLERANCE = timedelta(minutes=5)
#: the longest content a record holds (its column's length)
CONTENT_MAX = 300


# -- counting --------------------------------------------------------------------------


def month_of(at: datetime) -> date:
    """First day of the local month ``at`` falls in: the roll-up's month."""
    local = to_local(at)
    return date(local.year, local.month, 1)


def counted_minutes(
    started_at: datetime,
    ended_at: datetime,
    shift_length: timedelta | None,
    over_shift_length: bool = False,
) -> int:
    """Time on site rounded to the nearest half hour (HOURS_ROUNDING_MINUTES), and no
    more than the shift's length unless the leader allowed it."""
    step = current_app.config.get("HOURS_ROUNDING_MINUTES", 30) or 1
    raw = max((ended_at - started_at).total_seconds(), 0) / 60
    rounded = int(raw / step + 0.5) * step
    if shift_length is not None and not over_shift_length:
        rounded = min(rounded, int(shift_length.total_seconds() // 60))
    return min(rounded, MAX_RECORD_MINUTES)


# -- reading ---------------------------------------------------------------------------


def record_for(record_id: int, viewer: Viewer | None = None) -> ServiceRecord:
    """The record, if ``viewer`` may manage it (leaders of its team, coordinators above,
    admins); NotFound otherwise, as for a record that does not exist."""
    query = select(ServiceRecord).where(ServiceRecord.id == record_id)
    if viewer is not None:
        query = query.join(Team, Team.id == ServiceRecord.team_id).where(viewer.team_condition())
    record = db.session.scalar(query)
    if record is None:
        raise NotFound(_("服务记录不存在"))
    return record


# -- the leader: edits, deletions, unplanned service -----------------------------------


def edit_record(
    record_id: int,
    *,
    viewer: Viewer,
    reason: str,
    started_at: datetime | None = None,
    ended_at: datetime | None = None,
    over_shift_length: bool | None = None,
    attendance: Attendance | str | None = None,
    content: str | None = None,
    now: datetime | None = None,
) -> ServiceRecord:
    """The leader corrects a record, saying why: the times on site, attendance, content,
    or counting beyond the shift's length (``over_shift_length``). New times must have
    happened (no later than ``now``, give or take FUTURE_TOLERANCE)."""
    now = now or utcnow()
    record = record_for(record_id, viewer)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed({"reason": _("请说明修改原因")})
    values: dict[str, Any] = {}
    if attendance is not None:
        values["attendance"] = parse_attendance(attendance)
    if started_at is not None:
        values["started_at"] = started_at
    if ended_at is not None:
        values["ended_at"] = ended_at
    check_not_future(now, started_at=started_at, ended_at=ended_at)
    check_span(values.get("started_at", record.started_at), values.get("ended_at", record.ended_at))
    if content is not None:
        content = content.strip()
        if error := _content_error(content):
            raise ValidationFailed({"content": error})
        values["content"] = content
    if over_shift_length is not None:
        values["over_shift_length"] = bool(over_shift_length)
    apply_change(record, viewer.person_id, "edited", values, reason=reason, now=now)
    return record


def delete_record(
    record_id: int, *, viewer: Viewer, reason: str, now: datetime | None = None
) -> None:
    """Remove a record entered by mistake; the trail keeps what it was and why it went."""
    record = record_for(record_id, viewer)
    if not (reason or "").strip():
        raise ValidationFailed({"reason": _("请说明删除原因")})
    _touch_if_counted(record)
    audit(record, viewer.person_id, "deleted", reason=reason.strip(), changes=snapshot(record))
    db.session.delete(record)
    db.session.flush()


def add_unplanned(team_id: int, person_id: int, **service: Any) -> ServiceRecord:
    """One member's unplanned service; see ``add_unplanned_service``."""
    return add_unplanned_service(team_id, [person_id], person_field="person_id", **service)[0]


def add_unplanned_service(
    team_id: int,
    person_ids: list[int],
    *,
    viewer: Viewer,
    category_id: int,
    content: str,
    started_at: datetime,
    ended_at: datetime,
    verified: bool = False,
    now: datetime | None = None,
    person_field: str = "person_ids",
) -> list[ServiceRecord]:
    """Service not planned as a shift (a call-out at night, say), entered by the leader
    for members of the team who served together: one record each, the same span and
    content, marked as such (no shift). All or none: one non-member refuses them all."""
    from volunteer_hub.events.services import find_category

    now = now or utcnow()
    team = db.session.scalar(select(Team).where(Team.id == team_id, viewer.team_condition()))
    if team is None:
        raise NotFound(_("服务队不存在"))
    person_ids = list(dict.fromkeys(person_ids))
    errors: dict[str, str] = {}
    members = set(
        db.session.scalars(
            select(Membership.person_id).where(
                Membership.team_id == team_id, Membership.person_id.in_(person_ids)
            )
        )
    )
    if not person_ids:
        errors[person_field] = _("请选择队员")
    elif members != set(person_ids):
        errors[person_field] = _("该志愿者不是本队队员")
    category = find_category(category_id)
    if category is None:
        errors["category"] = _("请选择有效的服务类别")
    content = (content or "").strip()
    if error := _content_error(content):
        errors["content"] = error
    if error := _unplanned_span_error(started_at, ended_at, now):
        errors[error[0]] = error[1]
    if errors:
        raise ValidationFailed(errors)
    made = []
    for person_id in person_ids:
        record = add_record(
            ServiceRecord(
                person_id=person_id,
                team_id=team_id,
                shift_id=None,
                category_id=category.id,
                content=content,
                attendance=Attendance.PRESENT,
                started_at=started_at,
                ended_at=ended_at,
                status=RecordStatus.VERIFIED if verified else RecordStatus.PENDING,
                decided_by_id=viewer.person_id if verified else None,
                decided_at=now if verified else None,
            )
        )
        audit(record, viewer.person_id, "created", reason=_("计划外服务"), changes=snapshot(record))
        made.append(record)
    return made


def _unplanned_span_error(
    started_at: datetime, ended_at: datetime, now: datetime
) -> tuple[str, str] | None:
    """The field and message of what is wrong with an unplanned service's span, if any."""
    if ended_at <= started_at:
        return "ended_at", _("结束时间必须晚于开始时间")
    if started_at > now + FUTURE_TOLERANCE:
        return "started_at", _("不能登记尚未发生的服务")
    if ended_at > now + FUTURE_TOLERANCE:
        return "ended_at", _future_message(now)
    if ended_at - started_at > timedelta(minutes=MAX_RECORD_MINUTES):
        return "ended_at", _("一条记录不能超过 36 小时")
    return None


# -- corrections -----------------------------------------------------------------------


def request_correction(
    record_id: int, person_id: int, note: str, *, channel: str = "web", now: datetime | None = None
) -> ServiceRecord:
    """The volunteer asks for a correction of their own record; the leader resolves it."""
    now = now or utcnow()
    record = db.session.get(ServiceRecord, record_id)
    if record is None or record.person_id != person_id:
        raise NotFound(_("服务记录不存在"))
    note = (note or "").strip()
    if not note:
        raise ValidationFailed({"note": _("请写明需要更正的内容")})
    if len(note) > 500:
        raise ValidationFailed({"note": _("更正说明不能超过 500 字")})
    asked = {"correction_note": note, "correction_requested_at": now}
    apply_change(
        record, person_id, "correction_requested", asked, reason=note, channel=channel, now=now
    )
    return record


def resolve_correction(
    record_id: int, *, viewer: Viewer, reason: str, now: datetime | None = None, **edits: Any
) -> ServiceRecord:
    """Close the volunteer's request, with the edits it called for (if any) and why."""
    now = now or utcnow()
    record = record_for(record_id, viewer)
    if record.correction_requested_at is None:
        raise Conflict(_("这条记录没有待处理的更正申请"))
    if not (reason or "").strip():
        raise ValidationFailed({"reason": _("请写明处理结果")})
    if edits:
        edit_record(record_id, viewer=viewer, reason=reason, now=now, **edits)
    requested_at = record.correction_requested_at
    apply_change(
        record,
        viewer.person_id,
        "correction_resolved",
        {"correction_note": None, "correction_requested_at": None},
        reason=reason.strip(),
        now=now,
    )
    publish(CorrectionResolved(record.id, requested_at, reason.strip()))
    return record


# -- an event moved to another category ------------------------------------------------


def follow_event_category(changed: EventChanged) -> None:
    """Handler of ``EventChanged``: records follow their event's category; the keys on
    both sides are recomputed."""
    if changed.old_category_id is None:
        return
    event, old_category_id = db.session.get(Event, changed.event_id), changed.old_category_id
    records = db.session.scalars(
        select(ServiceRecord)
        .join(Shift, Shift.id == ServiceRecord.shift_id)
        .where(Shift.event_id == event.id, ServiceRecord.category_id == old_category_id)
    ).all()
    for record in records:
        _touch_if_counted(record)
        record.category_id = event.category_id
        _touch_if_counted(record)
    if records:
        db.session.execute(
            RecordChange.__table__.insert(),
            [
                {
                    "record_id": record.id,
                    "person_id": record.person_id,
                    "at": utcnow(),
                    "actor_id": None,
                    "action": "edited",
                    "reason": _("活动改为其他服务类别"),
                    "changes": {"category_id": [old_category_id, event.category_id]},
                    "channel": "system",
                }
                for record in records
            ],
        )
    db.session.flush()


# -- storing and changing a record (for attendance and verification too) ---------------


def add_record(record: ServiceRecord) -> ServiceRecord:
    """Count a new record (month, minutes), store it and name its roll-up key; the
    caller writes the trail entry that says why it was made."""
    _recount(record)
    db.session.add(record)
    db.session.flush()
    _touch_if_counted(record)
    return record


def apply_change(
    record: ServiceRecord,
    actor_id: int | None,
    action: str,
    values: dict[str, Any],
    *,
    reason: str = "",
    channel: str = "web",
    now: datetime,
) -> None:
    """Apply ``values`` to the record, recount its time, write the trail and name the
    roll-up keys before and after (a move of month or status touches both)."""
    _touch_if_counted(record)
    before = snapshot(record)
    for name, value in values.items():
        setattr(record, name, value)
    _recount(record)
    after = snapshot(record)
    changes = {name: [before[name], after[name]] for name in after if before[name] != after[name]}
    record.updated_at = now
    db.session.flush()
    audit(record, actor_id, action, reason=reason, channel=channel, changes=changes, at=now)
    _touch_if_counted(record)


def _recount(record: ServiceRecord) -> None:
    record.month = month_of(record.started_at)
    if record.attendance == Attendance.ABSENT:
        record.minutes = 0
        return
    length = None
    if record.shift_id is not None:
        shift = (
            record.shift if "shift" in record.__dict__ else db.session.get(Shift, record.shift_id)
        )
        length = shift.ends_at - shift.starts_at
    record.minutes = counted_minutes(
        record.started_at, record.ended_at, length, record.over_shift_length
    )


def _touch_if_counted(record: ServiceRecord) -> None:
    """Announce the record's roll-up key as owed a recompute, if the record is in the
    roll-ups (records that are not change nothing there)."""
    if not record.counts:
        return
    publish(RecordCounted(record.person_id, record.team_id, record.category_id, record.month))


# -- the trail -------------------------------------------------------------------------


def audit(
    record: ServiceRecord,
    actor_id: int | None,
    action: str,
    *,
    reason: str = "",
    channel: str = "web",
    changes: dict | None = None,
    at: datetime | None = None,
) -> None:
    """Write one ``RecordChange``: who did what to the record, why, by which channel."""
    db.session.add(
        RecordChange(
            record_id=record.id,
            person_id=record.person_id,
            at=at or utcnow(),
            actor_id=actor_id,
            action=action,
            reason=reason,
            changes=changes or {},
            channel=channel,
        )
    )


_SNAPSHOT_FIELDS = (
    "team_id",
    "shift_id",
    "category_id",
    "month",
    "content",
    "attendance",
    "started_at",
    "ended_at",
    "checked_in_at",
    "checked_out_at",
    "minutes",
    "over_shift_length",
    "auto_closed",
    "status",
    "decided_by_id",
    "correction_note",
)


def snapshot(record: ServiceRecord) -> dict[str, Any]:
    """The record's fields in JSON-friendly form, for the trail."""
    out = {}
    for name in _SNAPSHOT_FIELDS:
        value = getattr(record, name)
        out[name] = value.isoformat() if isinstance(value, datetime | date) else value
    return out


# -- checking what is typed --------------------------------------------------------------


def parse_attendance(value: Attendance | str) -> Attendance:
    try:
        return Attendance(value)
    except ValueError:
        raise ValidationFailed({"attendance": _("出勤状态不正确")}) from None


def check_span(started_at: datetime, ended_at: datetime) -> None:
    """Refuse an end before the start, or a record longer than MAX_RECORD_MINUTES."""
    if ended_at < started_at:
        raise ValidationFailed({"ended_at": _("结束时间不能早于开始时间")})
    if ended_at - started_at > timedelta(minutes=MAX_RECORD_MINUTES):
        raise ValidationFailed({"ended_at": _("一条记录不能超过 36 小时")})


def check_not_future(now: datetime, **times: datetime | None) -> None:
    """Refuse typed times (by field) later than ``now`` and its FUTURE_TOLERANCE."""
    limit = now + FUTURE_TOLERANCE
    errors = {
        field: _future_message(now)
        for field, value in times.items()
        if value is not None and value > limit
    }
    if errors:
        raise ValidationFailed(errors)


def _future_message(now: datetime) -> str:
    return _(
        "不能晚于现在（%(time)s）：尚未发生的时间不能登记",
        time=f"{to_local(now):%H:%M}",
    )


def _content_error(content: str) -> str | None:
    """Why ``content`` (stripped) will not do as a record's content; None if it will."""
    if not content or len(content) > CONTENT_MAX:
        return _("请填写服务内容（不超过 300 字）")
    return None
