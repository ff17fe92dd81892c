"""Read-side queries of the leader's hours pages: a fixed number of queries per page,
however many records, people and changes there are."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import case, func, select
from sqlalchemy.orm import aliased, contains_eager

from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.errors import NotFound
from volunteer_hub.events.models import Category, Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.hours.models import RecordChange, RecordStatus, ServiceRecord
from volunteer_hub.people.models import Person
from volunteer_hub.teams.models import Team


def _with_person_and_category():
    return (
        select(ServiceRecord)
        .join(Person, Person.id == ServiceRecord.person_id)
        .join(Category, Category.id == ServiceRecord.category_id)
        .options(contains_eager(ServiceRecord.person), contains_eager(ServiceRecord.category))
    )


def team_records(
    team_id: int, status: str | None, *, limit: int, offset: int = 0
) -> list[ServiceRecord]:
    """The team's records, pending first, then the latest service first; person and
    category loaded in the same query."""
    query = (
        _with_person_and_category()
        .where(ServiceRecord.team_id == team_id)
        .order_by(
            case((ServiceRecord.status == RecordStatus.PENDING, 0), else_=1),
            ServiceRecord.started_at.desc(),
            ServiceRecord.id.desc(),
        )
        .limit(limit)
        .offset(offset)
    )
    if status:
        query = query.where(ServiceRecord.status == status)
    return list(db.session.scalars(query))


def status_counts(team_id: int) -> dict[str, int]:
    """Records per status, for the filter; one query."""
    rows = db.session.execute(
        select(ServiceRecord.status, func.count())
        .where(ServiceRecord.team_id == team_id)
        .group_by(ServiceRecord.status)
    )
    counts = {status.value: 0 for status in RecordStatus}
    counts.update({str(status): count for status, count in rows})
    return counts


def open_corrections(team_id: int, limit: int = 50) -> list[ServiceRecord]:
    """Records with a correction request waiting for the leader, oldest request first."""
    return list(
        db.session.scalars(
            _with_person_and_category()
            .where(
                ServiceRecord.team_id == team_id,
                ServiceRecord.correction_requested_at.is_not(None),
            )
            .order_by(ServiceRecord.correction_requested_at, ServiceRecord.id)
            .limit(limit)
        )
    )


def team_record_ids(team_id: int, record_ids: list[int]) -> set[int]:
    """Of ``record_ids``, those of the team."""
    if not record_ids:
        return set()
    return set(
        db.session.scalars(
            select(ServiceRecord.id).where(
                ServiceRecord.team_id == team_id, ServiceRecord.id.in_(record_ids)
            )
        )
    )


@dataclass
class RecordPage:
    record: ServiceRecord
    person: Person
    team: Team
    category: Category
    shift: Shift | None
    event: Event | None
    decided_by: Person | None


def record_page(viewer: Viewer, record_id: int) -> RecordPage:
    """One record with everything its page shows, if the viewer manages its team."""
    decider = aliased(Person)
    row = db.session.execute(
        select(ServiceRecord, Person, Team, Category, Shift, Event, decider)
        .join(Person, Person.id == ServiceRecord.person_id)
        .join(Team, Team.id == ServiceRecord.team_id)
        .join(Category, Category.id == ServiceRecord.category_id)
        .outerjoin(Shift, Shift.id == ServiceRecord.shift_id)
        .outerjoin(Event, Event.id == Shift.event_id)
        .outerjoin(decider, decider.id == ServiceRecord.decided_by_id)
        .where(ServiceRecord.id == record_id, viewer.team_condition())
    ).first()
    if row is None:
        raise NotFound(_("服务记录不存在"))
    return RecordPage(*row)


def trail(record_id: int) -> list[tuple[RecordChange, str | None]]:
    """The record's changes in order, each with the name of who made it (None: the
    system); one query."""
    rows = db.session.execute(
        select(RecordChange, Person.name)
        .outerjoin(Person, Person.id == RecordChange.actor_id)
        .where(RecordChange.record_id == record_id)
        .order_by(RecordChange.at, RecordChange.id)
    )
    return [(change, name) for change, name in rows]


def people_by_id(person_ids: set[int]) -> dict[int, Person]:
    if not person_ids:
        return {}
    return {
        person.id: person
        for person in db.session.scalars(select(Person).where(Person.id.in_(sorted(person_ids))))
    }
