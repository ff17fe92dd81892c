"""A volunteer's own service records, read for them: totals, history, and the record an
SMS correction means. Read-only; the changes go through ``hours.records``.

Totals are summed from the person's raw records (a handful of indexed rows), so they
are right the moment a leader verifies, before the roll-up actor has run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import case, func, select

from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.hours.models import Attendance, RecordChange, RecordStatus, ServiceRecord
from volunteer_hub.i18n import to_local
from volunteer_hub.teams.models import Team

#: records listed on one page of the volunteer's history
HISTORY_PAGE = 30


@dataclass(frozen=True)
class HoursSummary:
    #: verified service that took place, all time and in the local calendar year
    verified_minutes: int
    year_minutes: int
    year: int
    #: records still waiting for the leader (no-shows not included)
    pending: int
    #: all records, whatever their status
    records: int


@dataclass(frozen=True)
class HistoryItem:
    record: ServiceRecord
    team_name: str
    #: the shift's code, when the record came from a shift
    code: str | None
    #: the leader's answer to the latest correction request, once resolved
    answer: RecordChange | None = None


def format_hours(minutes: int) -> str:
    """Minutes as hours the way people write them: "2", "1.5", "0.25"."""
    text = f"{minutes / 60:.2f}".rstrip("0").rstrip(".")
    return text or "0"


def summary(person_id: int, now: datetime) -> HoursSummary:
    """Totals of one person, in one statement."""
    year = to_local(now).year
    counted = ServiceRecord.counted_condition()
    this_year = counted & (ServiceRecord.month >= date(year, 1, 1))
    this_year &= ServiceRecord.month < date(year + 1, 1, 1)
    pending = (ServiceRecord.status == RecordStatus.PENDING) & (
        ServiceRecord.attendance != Attendance.ABSENT
    )
    row = db.session.execute(
        select(
            func.coalesce(func.sum(case((counted, ServiceRecord.minutes), else_=0)), 0),
            func.coalesce(func.sum(case((this_year, ServiceRecord.minutes), else_=0)), 0),
            func.coalesce(func.sum(case((pending, 1), else_=0)), 0),
            func.count(),
        ).where(ServiceRecord.person_id == person_id)
    ).one()
    return HoursSummary(
        verified_minutes=int(row[0]),
        year_minutes=int(row[1]),
        year=year,
        pending=int(row[2]),
        records=int(row[3]),
    )


def history(person_id: int, *, page: int = 1, per_page: int = HISTORY_PAGE) -> list[HistoryItem]:
    """The person's records, latest service first, with the team's name and the shift's
    code; one statement per page. Gives up to ``per_page + 1`` items: an extra one means
    there is another page."""
    rows = db.session.execute(
        select(ServiceRecord, Team.name, Shift.code)
        .join(Team, Team.id == ServiceRecord.team_id)
        .outerjoin(Shift, Shift.id == ServiceRecord.shift_id)
        .where(ServiceRecord.person_id == person_id)
        .order_by(ServiceRecord.started_at.desc(), ServiceRecord.id.desc())
        .limit(per_page + 1)
        .offset((max(page, 1) - 1) * per_page)
    ).all()
    answers = _correction_answers([record.id for record, _name, _code in rows])
    return [
        HistoryItem(record, team_name, code, answers.get(record.id))
        for record, team_name, code in rows
    ]


def _correction_answers(record_ids: list[int]) -> dict[int, RecordChange]:
    """The latest resolution of a correction request on each of the records; one query."""
    if not record_ids:
        return {}
    changes = db.session.scalars(
        select(RecordChange)
        .where(
            RecordChange.record_id.in_(record_ids),
            RecordChange.action == "correction_resolved",
        )
        .order_by(RecordChange.at, RecordChange.id)
    )
    return {change.record_id: change for change in changes}  # the latest wins


def record_by_code(person_id: int, code: str) -> ServiceRecord | None:
    """The person's record on a shift with this code. Codes are released a week after a
    shift and then given to new shifts, so this looks at every shift that ever had the
    code and takes the latest one the person has a record on."""
    return db.session.scalar(
        select(ServiceRecord)
        .join(Shift, Shift.id == ServiceRecord.shift_id)
        .where(ServiceRecord.person_id == person_id, Shift.code == code)
        .order_by(Shift.starts_at.desc(), ServiceRecord.id.desc())
        .limit(1)
    )


def latest_record(person_id: int) -> ServiceRecord | None:
    """The person's record of their latest service (planned or not)."""
    return db.session.scalar(
        select(ServiceRecord)
        .where(ServiceRecord.person_id == person_id)
        .order_by(ServiceRecord.started_at.desc(), ServiceRecord.id.desc())
        .limit(1)
    )


def record_on(shift_id: int, person_id: int) -> ServiceRecord | None:
    """The person's record on a shift, read without a lock (for a reply)."""
    return db.session.scalar(
        select(ServiceRecord).where(
            ServiceRecord.shift_id == shift_id, ServiceRecord.person_id == person_id
        )
    )
