"""Verification (审核) of service records by the leader: verified records count in the
roll-ups, rejected ones do not.

Nothing is verified before it has happened: a record still open on site, or whose
shift or own end is still ahead, waits. The change itself goes through
``hours.records.apply_change`` (trail, roll-up keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select

from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.db import utcnow
from volunteer_hub.errors import Conflict, NotFound, ValidationFailed
from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.hours.models import Attendance, RecordStatus, ServiceRecord
from volunteer_hub.hours.records import FUTURE_TOLERANCE, apply_change, record_for
from volunteer_hub.i18n import to_local
from volunteer_hub.people.models import Person
from volunteer_hub.teams.models import Team


class StillOnSite(Conflict, code="still-on-site"):
    """Checked in and not out yet: nothing to verify until the service is over."""


class ServiceNotOver(Conflict, code="service-not-over"):
    """The shift (or the service entered without one) has not ended yet: hours are
    verified only for time that has happened."""


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
        apply_change(
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
    """Reject a record the viewer may manage, saying why; it leaves the roll-ups."""
    now = now or utcnow()
    record = record_for(record_id, viewer)
    if not (reason or "").strip():
        raise ValidationFailed({"reason": _("请说明不予认定的原因")})
    apply_change(
        record,
        viewer.person_id,
        "rejected",
        {"status": RecordStatus.REJECTED, "decided_by_id": viewer.person_id, "decided_at": now},
        reason=reason.strip(),
        now=now,
    )
    return record


# -- internals -------------------------------------------------------------------------


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
    return db.session.scalar(select(Person.name).where(Person.id == record.person_id)) or ""
