"""Attendance and service records (志愿服务记录): check-in and check-out, the leader's
marks, verification, corrections and unplanned service; and the hour roll-ups.

Every change writes a ``RecordChange`` (who, why, what) in the same transaction, and
names the roll-up keys it touched; after the commit the hours actors recompute exactly
those keys from the records (``recompute_key``), never by adding deltas. A key is
(person, team, category, local month). ``rebuild_all`` recomputes everything and says
what it had to change: nothing, on a healthy database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import func, select, text

from volunteer_hub import after_commit, signals
from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.db import dialect_insert, utcnow
from volunteer_hub.errors import Conflict, DomainError, NotFound, ValidationFailed
from volunteer_hub.events.models import Event, EventStatus, Shift
from volunteer_hub.extensions import db
from volunteer_hub.hours.models import (
    Attendance,
    HoursRollup,
    RecordChange,
    RecordStatus,
    ServiceRecord,
    TeamHoursRollup,
)
from volunteer_hub.i18n import to_local
from volunteer_hub.signups.models import Signup, SignupStatus
from volunteer_hub.signups.services import active_signup
from volunteer_hub.teams.models import Membership, Team

#: a check-in this long after the start is marked late
LATE_AFTER = timedelta(minutes=15)
#: longest service one record may count (a 24-hour flood watch, with a margin)
MAX_RECORD_MINUTES = 36 * 60
#: how far past the server's clock a time a leader types may be: times are typed to the
#: minute and a phone's clock may run a little fast; more than this has not happened yet
FUTURE_TOLERANCE = timedelta(minutes=5)
#: the name of the after-commit event that carries one touched roll-up key
KEY_TOUCHED = "hours_key_touched"

RollupKey = tuple[int, int, int, date]  # person, team, category, month


class NotSignedUp(DomainError):
    code = "not-signed-up"


class OutsideWindow(DomainError):
    code = "outside-window"


class AlreadyCheckedIn(Conflict):
    code = "already-checked-in"


class NotCheckedIn(DomainError):
    code = "not-checked-in"


class AlreadyCheckedOut(Conflict):
    code = "already-checked-out"


class RecordDecided(Conflict):
    """A verified or rejected record changes only through the leader."""

    code = "record-decided"


class StillOnSite(Conflict):
    """Checked in and not out yet: nothing to verify until the service is over."""

    code = "still-on-site"


class ServiceNotOver(Conflict):
    """The shift (or the service entered without one) has not ended yet: hours are
    verified only for time that has happened."""

    code = "service-not-over"


# -- time ------------------------------------------------------------------------------


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
    shift, event = _shift_and_event(shift_id)
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
        _audit(record, person_id, "checked_in", channel=channel, changes=_snapshot(record))
    else:
        _change(record, person_id, "checked_in", values, channel=channel, now=now)
    return record


def check_out(
    shift_id: int, person_id: int, *, now: datetime | None = None, channel: str = "sms"
) -> ServiceRecord:
    """签退: after a check-in, until CHECK_OUT_LATE_MINUTES after the shift's end.
    Raises NotSignedUp, NotCheckedIn, AlreadyCheckedOut, OutsideWindow."""
    now = now or utcnow()
    shift, _event = _shift_and_event(shift_id)
    record = _record_of(shift_id, person_id)
    if record is None:
        _require_seat(shift_id, person_id)
        raise NotCheckedIn(_("您还没有签到，不能签退"))
    if record.checked_in_at is None:
        raise NotCheckedIn(_("您还没有签到，不能签退"))
    if record.checked_out_at is not None or record.auto_closed:
        raise AlreadyCheckedOut(_("您已签退；如时间有误请联系队长更正"))
    late = timedelta(minutes=current_app.config["CHECK_OUT_LATE_MINUTES"])
    if now > shift.ends_at + late:
        raise OutsideWindow(_("签退时间已过，记录按班次结束时间计；如有出入请联系队长"))
    ended = max(now, record.started_at)
    _change(
        record,
        person_id,
        "checked_out",
        {"checked_out_at": now, "ended_at": ended},
        channel=channel,
        now=now,
    )
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
        _change(
            record,
            None,
            "auto_closed",
            {"auto_closed": True, "ended_at": max(shift_end, record.started_at)},
            channel="system",
            reason=_("未签退，按班次结束时间计"),
            now=now,
        )
    return len(rows)


# -- the leader: attendance, edits, verification -------------------------------------


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
    attendance = _attendance(attendance)
    shift, event = _shift_and_event(shift_id, viewer)
    if shift.starts_at > now:
        raise OutsideWindow(_("班次尚未开始，不能登记出勤"))
    if active_signup(shift_id, person_id) is None:
        raise NotSignedUp(_("该志愿者没有报名这个班次"))
    # Times typed must have happened; left out, the end is the plan's, which may still
    # lie ahead: such a record waits for the shift's end before it can be verified.
    _check_not_future(now, started_at=started_at, ended_at=ended_at)
    record = _record_of(shift_id, person_id)
    if attendance == Attendance.ABSENT:
        started_at, ended_at = shift.starts_at, shift.starts_at
    else:
        started_at = started_at or (record.checked_in_at if record else None) or shift.starts_at
        ended_at = ended_at or (record.checked_out_at if record else None) or shift.ends_at
    _check_span(started_at, ended_at)
    values = {"attendance": attendance, "started_at": started_at, "ended_at": ended_at}
    if record is None:
        record = _new_record(shift, event, person_id, **values)
        _audit(record, viewer.person_id, "created", reason=reason, changes=_snapshot(record))
    else:
        _change(record, viewer.person_id, "marked", values, reason=reason, now=now)
    return record


def mark_all_attended(shift_id: int, *, viewer: Viewer, now: datetime | None = None) -> int:
    """ "All confirmed attended as planned": a present record with the planned times for
    every confirmed person who has none yet; records already there are left alone."""
    now = now or utcnow()
    shift, event = _shift_and_event(shift_id, viewer)
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
        _audit(record, viewer.person_id, "created", reason=_("全部按计划出勤"))
    return len(person_ids)


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
        values["attendance"] = _attendance(attendance)
    if started_at is not None:
        values["started_at"] = started_at
    if ended_at is not None:
        values["ended_at"] = ended_at
    _check_not_future(now, started_at=started_at, ended_at=ended_at)
    _check_span(
        values.get("started_at", record.started_at), values.get("ended_at", record.ended_at)
    )
    if content is not None:
        content = content.strip()
        if not content or len(content) > 300:
            raise ValidationFailed({"content": _("请填写服务内容（不超过 300 字）")})
        values["content"] = content
    if over_shift_length is not None:
        values["over_shift_length"] = bool(over_shift_length)
    _change(record, viewer.person_id, "edited", values, reason=reason, now=now)
    return record


def verify(record_ids: Sequence[int], *, viewer: Viewer, now: datetime | None = None) -> int:
    """Verify pending records the viewer may manage; returns how many changed. A record
    still open on site (checked in, not out, not closed) waits, and so does one whose
    shift, or its own end, is still ahead of ``now``: nothing is verified before it
    happened."""
    now = now or utcnow()
    records = _records_for(record_ids, viewer)
    changed = 0
    for record, shift_end in records:
        if record.status == RecordStatus.VERIFIED:
            continue
        if _on_site(record):
            raise StillOnSite(_("%(name)s 尚未签退，暂不能审核", name=_person_name(record)))
        _require_over(record, shift_end, now)
        _change(
            record,
            viewer.person_id,
            "verified",
            {"status": RecordStatus.VERIFIED, "decided_by_id": viewer.person_id, "decided_at": now},
            now=now,
        )
        changed += 1
    return changed


def reject(
    record_id: int, *, viewer: Viewer, reason: str, now: datetime | None = None
) -> ServiceRecord:
    now = now or utcnow()
    record = record_for(record_id, viewer)
    if not (reason or "").strip():
        raise ValidationFailed({"reason": _("请说明不予认定的原因")})
    _change(
        record,
        viewer.person_id,
        "rejected",
        {"status": RecordStatus.REJECTED, "decided_by_id": viewer.person_id, "decided_at": now},
        reason=reason.strip(),
        now=now,
    )
    return record


def delete_record(
    record_id: int, *, viewer: Viewer, reason: str, now: datetime | None = None
) -> None:
    """Remove a record entered by mistake; the trail keeps what it was and why it went."""
    record = record_for(record_id, viewer)
    if not (reason or "").strip():
        raise ValidationFailed({"reason": _("请说明删除原因")})
    _touch_if_counted(record)
    _audit(record, viewer.person_id, "deleted", reason=reason.strip(), changes=_snapshot(record))
    db.session.delete(record)
    db.session.flush()


def add_unplanned(
    team_id: int,
    person_id: int,
    *,
    viewer: Viewer,
    category_id: int,
    content: str,
    started_at: datetime,
    ended_at: datetime,
    verified: bool = False,
    now: datetime | None = None,
) -> ServiceRecord:
    """Service not planned as a shift (a call-out at night, say), entered by the leader
    for a member of the team; marked as such (no shift)."""
    from volunteer_hub.events.services import find_category

    now = now or utcnow()
    team = db.session.scalar(select(Team).where(Team.id == team_id, viewer.team_condition()))
    if team is None:
        raise NotFound(_("服务队不存在"))
    errors: dict[str, str] = {}
    member = db.session.scalar(
        select(Membership.id).where(
            Membership.team_id == team_id, Membership.person_id == person_id
        )
    )
    if member is None:
        errors["person_id"] = _("该志愿者不是本队队员")
    category = find_category(category_id)
    if category is None:
        errors["category"] = _("请选择有效的服务类别")
    content = (content or "").strip()
    if not content or len(content) > 300:
        errors["content"] = _("请填写服务内容（不超过 300 字）")
    if ended_at <= started_at:
        errors["ended_at"] = _("结束时间必须晚于开始时间")
    elif started_at > now + FUTURE_TOLERANCE:
        errors["started_at"] = _("不能登记尚未发生的服务")
    elif ended_at > now + FUTURE_TOLERANCE:
        errors["ended_at"] = _future_message(now)
    elif ended_at - started_at > timedelta(minutes=MAX_RECORD_MINUTES):
        errors["ended_at"] = _("一条记录不能超过 36 小时")
    if errors:
        raise ValidationFailed(errors)
    record = ServiceRecord(
        person_id=person_id,
        team_id=team_id,
        shift_id=None,
        category_id=category.id,
        month=month_of(started_at),
        content=content,
        attendance=Attendance.PRESENT,
        started_at=started_at,
        ended_at=ended_at,
        minutes=counted_minutes(started_at, ended_at, None),
        status=RecordStatus.VERIFIED if verified else RecordStatus.PENDING,
        decided_by_id=viewer.person_id if verified else None,
        decided_at=now if verified else None,
    )
    db.session.add(record)
    db.session.flush()
    _audit(record, viewer.person_id, "created", reason=_("计划外服务"), changes=_snapshot(record))
    _touch_if_counted(record)
    return record


# -- corrections ---------------------------------------------------------------------


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
    _change(
        record,
        person_id,
        "correction_requested",
        {"correction_note": note, "correction_requested_at": now},
        reason=note,
        channel=channel,
        now=now,
    )
    return record


def resolve_correction(
    record_id: int,
    *,
    viewer: Viewer,
    reason: str,
    now: datetime | None = None,
    **edits: Any,
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
    _change(
        record,
        viewer.person_id,
        "correction_resolved",
        {"correction_note": None, "correction_requested_at": None},
        reason=reason.strip(),
        now=now,
    )
    return record


# -- an event moved to another category ------------------------------------------------


def _event_recategorized(event: Event, old_category_id: int, **_kwargs) -> None:
    """Records follow their event's category; both months' keys are recomputed."""
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


signals.event_recategorized.connect(_event_recategorized)


# -- roll-ups ------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyResult:
    """What recomputing one key did to the person row and to the team row above it."""

    person_row: str  # "inserted", "updated", "deleted", "unchanged"
    team_row: str


def recompute_key(person_id: int, team_id: int, category_id: int, month: date) -> KeyResult:
    """Make the roll-up rows of one key equal to what the records say: the person row
    from ``service_record``, then the team row from the person rows. Safe to run twice
    or at the same time as another: each key is recomputed under a lock."""
    _lock("person", person_id, team_id, category_id, month)
    counted = db.session.execute(
        select(func.count(), func.coalesce(func.sum(ServiceRecord.minutes), 0)).where(
            ServiceRecord.person_id == person_id,
            ServiceRecord.team_id == team_id,
            ServiceRecord.category_id == category_id,
            ServiceRecord.month == month,
            ServiceRecord.counted_condition(),
        )
    ).one()
    person_row = _store(
        HoursRollup,
        {"person_id": person_id, "team_id": team_id, "category_id": category_id, "month": month},
        {"services": counted[0], "minutes": int(counted[1])},
    )
    _lock("team", team_id, category_id, month)
    team_sum = db.session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(HoursRollup.services), 0),
            func.coalesce(func.sum(HoursRollup.minutes), 0),
        ).where(
            HoursRollup.team_id == team_id,
            HoursRollup.category_id == category_id,
            HoursRollup.month == month,
        )
    ).one()
    team_row = _store(
        TeamHoursRollup,
        {"team_id": team_id, "category_id": category_id, "month": month},
        {"volunteers": team_sum[0], "services": int(team_sum[1]), "minutes": int(team_sum[2])},
    )
    return KeyResult(person_row, team_row)


@dataclass(frozen=True)
class RebuildReport:
    person_rows: dict[str, int]
    team_rows: dict[str, int]

    @property
    def changed(self) -> int:
        return sum(
            n
            for name, n in (*self.person_rows.items(), *self.team_rows.items())
            if name != "unchanged"
        )


def rebuild_all() -> RebuildReport:
    """Recompute every roll-up row from the records (GROUP BY over all of them), and
    change only the rows that differ. Reports inserted / updated / deleted / unchanged."""
    if db.session.get_bind().dialect.name == "postgresql":
        # Roll-up actors wait meanwhile; the records themselves stay writable.
        db.session.execute(text("LOCK TABLE hours_rollup, team_hours_rollup IN EXCLUSIVE MODE"))
    key = (
        ServiceRecord.person_id,
        ServiceRecord.team_id,
        ServiceRecord.category_id,
        ServiceRecord.month,
    )
    expected = {
        tuple(row[:4]): (row[4], int(row[5]))
        for row in db.session.execute(
            select(*key, func.count(), func.sum(ServiceRecord.minutes))
            .where(ServiceRecord.counted_condition())
            .group_by(*key)
        )
    }
    person_rows = _sync(
        HoursRollup,
        ("person_id", "team_id", "category_id", "month"),
        ("services", "minutes"),
        expected,
    )
    db.session.flush()
    team_key = (HoursRollup.team_id, HoursRollup.category_id, HoursRollup.month)
    expected_teams = {
        tuple(row[:3]): (row[3], int(row[4]), int(row[5]))
        for row in db.session.execute(
            select(
                *team_key,
                func.count(),
                func.sum(HoursRollup.services),
                func.sum(HoursRollup.minutes),
            ).group_by(*team_key)
        )
    }
    team_rows = _sync(
        TeamHoursRollup,
        ("team_id", "category_id", "month"),
        ("volunteers", "services", "minutes"),
        expected_teams,
    )
    return RebuildReport(person_rows, team_rows)


def _sync(model, key_names: Sequence[str], value_names: Sequence[str], expected: dict) -> dict:
    columns = [getattr(model, name) for name in (*key_names, *value_names)]
    current = {
        tuple(row[: len(key_names)]): tuple(row[len(key_names) :])
        for row in db.session.execute(select(*columns))
    }
    counts = {"inserted": 0, "updated": 0, "deleted": 0, "unchanged": 0}
    inserts, updates = [], []
    for key, values in expected.items():
        row = dict(zip((*key_names, *value_names), (*key, *values), strict=True))
        if key not in current:
            inserts.append(row)
        elif current[key] != tuple(values):
            updates.append(row)
        else:
            counts["unchanged"] += 1
    stale = [key for key in current if key not in expected]
    table = model.__table__
    for chunk in _chunks(inserts, 2_000):
        db.session.execute(table.insert(), chunk)
    for row in updates:
        db.session.execute(
            table.update()
            .where(*(table.c[name] == row[name] for name in key_names))
            .values({name: row[name] for name in value_names})
        )
    for key in stale:
        db.session.execute(
            table.delete().where(
                *(table.c[name] == value for name, value in zip(key_names, key, strict=True))
            )
        )
    counts.update(inserted=len(inserts), updated=len(updates), deleted=len(stale))
    return counts


def _chunks(rows: list, size: int) -> Iterable[list]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def _store(model, key: dict, values: dict) -> str:
    """Insert, update or delete one roll-up row so that it holds ``values`` (no row when
    nothing is counted); says which it did."""
    table = model.__table__
    where = [table.c[name] == value for name, value in key.items()]
    current = db.session.execute(select(*(table.c[name] for name in values)).where(*where)).first()
    if not values["services"]:
        if current is None:
            return "unchanged"
        db.session.execute(table.delete().where(*where))
        return "deleted"
    if current is not None:
        if tuple(current) == tuple(values.values()):
            return "unchanged"
        db.session.execute(table.update().where(*where).values(values))
        return "updated"
    insert = dialect_insert(db.session, table).values({**key, **values})
    db.session.execute(insert.on_conflict_do_update(index_elements=list(key), set_=values))
    return "inserted"


def _lock(*key: Any) -> None:
    """A transaction-scoped lock on one roll-up key (PostgreSQL; SQLite writers are
    serialised by BEGIN IMMEDIATE already)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    db.session.execute(
        text("SELECT pg_advisory_xact_lock(:key)"),
        {"key": int.from_bytes(digest, "big", signed=True)},
    )


# -- internals -------------------------------------------------------------------------


def _shift_and_event(shift_id: int, viewer: Viewer | None = None) -> tuple[Shift, Event]:
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


def _records_for(
    record_ids: Sequence[int], viewer: Viewer
) -> list[tuple[ServiceRecord, datetime | None]]:
    """The records, locked, each with its shift's end (None for unplanned service)."""
    ids = sorted(set(record_ids))
    rows = [
        (record, shift_end)
        for record, shift_end in db.session.execute(
            select(ServiceRecord, Shift.ends_at)
            .join(Team, Team.id == ServiceRecord.team_id)
            .outerjoin(Shift, Shift.id == ServiceRecord.shift_id)
            .where(ServiceRecord.id.in_(ids), viewer.team_condition())
            .order_by(ServiceRecord.id)
            .with_for_update(of=ServiceRecord)
        )
    ]
    if len(rows) != len(ids):
        raise NotFound(_("服务记录不存在"))
    return rows


def _new_record(shift: Shift, event: Event, person_id: int, **values: Any) -> ServiceRecord:
    record = ServiceRecord(
        person_id=person_id,
        team_id=event.team_id,
        shift_id=shift.id,
        category_id=event.category_id,
        content=(f"{event.title}（{shift.title}）" if shift.title else event.title)[:300],
        status=RecordStatus.PENDING,
        **values,
    )
    record.shift = shift
    _recount(record)
    db.session.add(record)
    db.session.flush()
    _touch_if_counted(record)
    return record


def _change(
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
    before = _snapshot(record)
    for name, value in values.items():
        setattr(record, name, value)
    _recount(record)
    after = _snapshot(record)
    changes = {name: [before[name], after[name]] for name in after if before[name] != after[name]}
    record.updated_at = now
    db.session.flush()
    _audit(record, actor_id, action, reason=reason, channel=channel, changes=changes, at=now)
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
    """Name the record's roll-up key for recomputing after commit, if the record is in
    the roll-ups (records that are not change nothing there)."""
    if not record.counts:
        return
    after_commit.emit(
        KEY_TOUCHED, record.person_id, record.team_id, record.category_id, record.month.isoformat()
    )


def _audit(
    record: ServiceRecord,
    actor_id: int | None,
    action: str,
    *,
    reason: str = "",
    channel: str = "web",
    changes: dict | None = None,
    at: datetime | None = None,
) -> None:
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


def _snapshot(record: ServiceRecord) -> dict[str, Any]:
    """The record's fields in JSON-friendly form, for the trail."""
    out = {}
    for name in _SNAPSHOT_FIELDS:
        value = getattr(record, name)
        out[name] = value.isoformat() if isinstance(value, datetime | date) else value
    return out


def _attendance(value: Attendance | str) -> Attendance:
    try:
        return Attendance(value)
    except ValueError:
        raise ValidationFailed({"attendance": _("出勤状态不正确")}) from None


def _check_span(started_at: datetime, ended_at: datetime) -> None:
    if ended_at < started_at:
        raise ValidationFailed({"ended_at": _("结束时间不能早于开始时间")})
    if ended_at - started_at > timedelta(minutes=MAX_RECORD_MINUTES):
        raise ValidationFailed({"ended_at": _("一条记录不能超过 36 小时")})


def _check_not_future(now: datetime, **times: datetime | None) -> None:
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


def _require_over(record: ServiceRecord, shift_end: datetime | None, now: datetime) -> None:
    """Raise ServiceNotOver unless the record's shift has ended and so has the record
    (an end typed within FUTURE_TOLERANCE of the clock counts as reached)."""
    if shift_end is not None and now < shift_end:
        raise ServiceNotOver(
            _(
                "%(name)s 的班次 %(time)s 结束，结束后才能审核",
                name=_person_name(record),
                time=f"{to_local(shift_end):%Y-%m-%d %H:%M}",
            )
        )
    if record.ended_at > now + FUTURE_TOLERANCE:
        raise ServiceNotOver(
            _(
                "%(name)s 的服务 %(time)s 结束，结束后才能审核",
                name=_person_name(record),
                time=f"{to_local(record.ended_at):%Y-%m-%d %H:%M}",
            )
        )


def _on_site(record: ServiceRecord) -> bool:
    return (
        record.checked_in_at is not None
        and record.checked_out_at is None
        and not record.auto_closed
        and record.attendance != Attendance.ABSENT
    )


def _person_name(record: ServiceRecord) -> str:
    from volunteer_hub.people.models import Person

    return db.session.scalar(select(Person.name).where(Person.id == record.person_id)) or ""
