"""Scenario helpers for the hours tests: a shift in the past or the future with people
holding seats on it, and the roll-up as the raw records say it should be."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from tests import factories as make
from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.extensions import db
from volunteer_hub.hours.models import HoursRollup, ServiceRecord, TeamHoursRollup
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import SignupSource

#: 08:00–10:00 in Shanghai on 1 July 2031
START = datetime(2031, 7, 1, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
#: an hour after the default shift (START, two hours) ended: when the leader marks and
#: verifies it, as hours are verified only for time that has happened
AFTER = START + 3 * HOUR


def shift_with_people(
    team=None, *, starts_at: datetime = START, hours: float = 2, people: int = 2, **event_kwargs
):
    """A published one-shift event and ``people`` members with confirmed seats.
    Returns (team, shift, [person, ...])."""
    team = team or make.team()
    event = make.event(
        team,
        shifts=[
            {"starts_at": starts_at, "ends_at": starts_at + hours * HOUR, "capacity": 10},
        ],
        **event_kwargs,
    )
    shift = make.shifts_of(event)[0]
    members = [make.member(team) for _ in range(people)]
    for person in members:
        signups.sign_up(shift.id, person.id, SignupSource.WEB, now=starts_at - 48 * HOUR)
    db.session.commit()
    return team, shift, members


def viewer(person):
    return viewer_for(person)


def rollup_rows() -> set[tuple]:
    return set(
        db.session.execute(
            select(
                HoursRollup.person_id,
                HoursRollup.team_id,
                HoursRollup.category_id,
                HoursRollup.month,
                HoursRollup.services,
                HoursRollup.minutes,
            )
        ).all()
    )


def expected_rollup_rows() -> set[tuple]:
    """GROUP BY over the raw verified records: what the roll-up must hold, row for row."""
    key = (
        ServiceRecord.person_id,
        ServiceRecord.team_id,
        ServiceRecord.category_id,
        ServiceRecord.month,
    )
    return set(
        db.session.execute(
            select(*key, func.count(), func.sum(ServiceRecord.minutes))
            .where(ServiceRecord.status == "verified", ServiceRecord.attendance != "absent")
            .group_by(*key)
        ).all()
    )


def team_rollup_rows() -> set[tuple]:
    return set(
        db.session.execute(
            select(
                TeamHoursRollup.team_id,
                TeamHoursRollup.category_id,
                TeamHoursRollup.month,
                TeamHoursRollup.volunteers,
                TeamHoursRollup.services,
                TeamHoursRollup.minutes,
            )
        ).all()
    )


def expected_team_rows() -> set[tuple]:
    key = (ServiceRecord.team_id, ServiceRecord.category_id, ServiceRecord.month)
    return set(
        db.session.execute(
            select(
                *key,
                func.count(ServiceRecord.person_id.distinct()),
                func.count(),
                func.sum(ServiceRecord.minutes),
            )
            .where(ServiceRecord.status == "verified", ServiceRecord.attendance != "absent")
            .group_by(*key)
        ).all()
    )
