"""A team's past events with the service recorded for them, for the team page: who came
and the hours they count, a page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, select

from volunteer_hub.events.models import Event, EventStatus, Shift
from volunteer_hub.extensions import db
from volunteer_hub.hours.models import Attendance, RecordStatus, ServiceRecord


@dataclass(frozen=True)
class PastEvent:
    """An event that is over, with the service recorded for it: people who came (a
    record not marked absent, rejected ones left out) and the minutes they count."""

    event: Event
    attended: int
    minutes: int
    verified_minutes: int


def past_events(team_id: int, now: datetime, *, limit: int, offset: int = 0) -> list[PastEvent]:
    """The team's published events over by ``now``, latest first, a page of ``limit``;
    two queries however many events."""
    events = list(
        db.session.scalars(
            select(Event)
            .where(
                Event.team_id == team_id,
                Event.ends_at <= now,
                Event.status == EventStatus.PUBLISHED,
            )
            .order_by(Event.starts_at.desc(), Event.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
    if not events:
        return []
    counted = and_(
        ServiceRecord.attendance != Attendance.ABSENT,
        ServiceRecord.status != RecordStatus.REJECTED,
    )
    verified = ServiceRecord.status == RecordStatus.VERIFIED
    sums = {
        row.event_id: row
        for row in db.session.execute(
            select(
                Shift.event_id,
                func.count(ServiceRecord.id).filter(counted).label("attended"),
                func.coalesce(func.sum(ServiceRecord.minutes).filter(counted), 0).label("minutes"),
                func.coalesce(func.sum(ServiceRecord.minutes).filter(verified), 0).label(
                    "verified"
                ),
            )
            .join(Shift, Shift.id == ServiceRecord.shift_id)
            .where(Shift.event_id.in_([event.id for event in events]))
            .group_by(Shift.event_id)
        )
    }
    return [
        PastEvent(
            event,
            sums[event.id].attended if event.id in sums else 0,
            sums[event.id].minutes if event.id in sums else 0,
            sums[event.id].verified if event.id in sums else 0,
        )
        for event in events
    ]
