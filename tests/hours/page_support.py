"""Helpers for the tests of the leader's hours pages: shifts that have already run, and
enough of the tables to see that a refused request changed nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from tests.hours.support import shift_with_people
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.hours.models import RecordChange, ServiceRecord

HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


def past_shift(team, *, started_ago: float = 3, hours: float = 2, people: int = 2):
    """A shift that started ``started_ago`` hours ago (on the minute), with ``people``
    members holding confirmed seats. Returns (shift, [person, ...])."""
    start = utcnow().replace(second=0, microsecond=0) - started_ago * HOUR
    _team, shift, members = shift_with_people(team, starts_at=start, hours=hours, people=people)
    return shift, members


def tables() -> tuple:
    """Every service record and the size of the trail: equal before and after means
    nothing changed."""
    db.session.expire_all()
    records = tuple(
        db.session.execute(
            select(
                ServiceRecord.id,
                ServiceRecord.person_id,
                ServiceRecord.status,
                ServiceRecord.attendance,
                ServiceRecord.started_at,
                ServiceRecord.ended_at,
                ServiceRecord.minutes,
                ServiceRecord.content,
                ServiceRecord.over_shift_length,
                ServiceRecord.correction_note,
                ServiceRecord.decided_by_id,
            ).order_by(ServiceRecord.id)
        )
    )
    changes = db.session.scalar(select(func.count()).select_from(RecordChange))
    return records, changes


def record_of(person_id: int) -> ServiceRecord | None:
    db.session.expire_all()
    return db.session.scalar(select(ServiceRecord).where(ServiceRecord.person_id == person_id))


def page(response) -> str:
    return response.get_data(as_text=True)
