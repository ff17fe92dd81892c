"""Scenario helpers for the report, export and hours API tests: verified service on
shifts in given months, and the figures as the raw records say them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select

from tests import factories as make
from tests.hours.support import HOUR, shift_with_people, viewer
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance, verification
from volunteer_hub.hours.models import ServiceRecord
from volunteer_hub.teams.models import Team
from volunteer_hub.units.models import Unit
from volunteer_hub.units.services import subtree_condition


def at(year: int, month: int, day: int = 10, hour_utc: int = 1) -> datetime:
    """09:00 in Shanghai on that day (01:00 UTC)."""
    return datetime(year, month, day, hour_utc, tzinfo=UTC)


def served(
    team,
    leader,
    *,
    when: datetime,
    hours_each: float = 2,
    people: int = 1,
    category: str = "防汛抗旱",
    verify: bool = True,
    title: str = "长江巡堤",
    existing=(),
):
    """A shift of ``hours_each`` hours at ``when`` in ``category``; ``people`` new members
    plus ``existing`` ones sign up, are marked present and (by default) verified.
    Returns the people."""
    _team, shift, members = shift_with_people(
        team, starts_at=when, hours=hours_each, people=people, category_name=category, title=title
    )
    from volunteer_hub.signups import services as signups
    from volunteer_hub.signups.models import SignupSource

    for person in existing:
        signups.sign_up(shift.id, person.id, SignupSource.WEB, now=when - 48 * HOUR)
    everyone = [*members, *existing]
    as_leader = viewer(leader)
    # Marked and verified once the shift is over, as the rules require.
    after = shift.ends_at + HOUR
    records = [
        attendance.mark_attendance(shift.id, person.id, "present", viewer=as_leader, now=after)
        for person in everyone
    ]
    if verify:
        verification.verify([r.id for r in records], viewer=as_leader, now=after)
    db.session.commit()
    return everyone


def settle(broker, worker) -> None:
    """Wait until the hours actors have recomputed every touched key. The test's own
    transaction ends first: on SQLite it would hold the write lock the actors need."""
    db.session.rollback()
    broker.join("hours")
    worker.join()
    db.session.rollback()  # read what the worker committed


def raw_by_team(unit_path: str, month_from: date, month_to: date) -> dict[int, tuple[int, int]]:
    """{team_id: (minutes, services)} by GROUP BY over the verified raw records."""
    rows = db.session.execute(
        select(ServiceRecord.team_id, func.sum(ServiceRecord.minutes), func.count())
        .join(Team, Team.id == ServiceRecord.team_id)
        .join(Unit, Unit.id == Team.unit_id)
        .where(
            subtree_condition(unit_path),
            ServiceRecord.counted_condition(),
            ServiceRecord.month >= month_from,
            ServiceRecord.month <= month_to,
        )
        .group_by(ServiceRecord.team_id)
    )
    return {team_id: (int(minutes), int(n)) for team_id, minutes, n in rows}


def tree():
    """湖北省 › 鄂州市 › 鄂城区 (two teams) and 华容区 (one team), each with a leader;
    a coordinator for 鄂城区. Returns a namespace."""
    from types import SimpleNamespace

    province = make.unit("湖北省")
    city = make.unit("鄂州市", province)
    echeng = make.unit("鄂城区", city)
    huarong = make.unit("华容区", city)
    t1 = make.team(echeng, name="莲花山社区戎马志愿服务队")
    t2 = make.team(echeng, name="凤凰街道老兵志愿服务队")
    t3 = make.team(huarong, name="华容区长江卫士服务队")
    return SimpleNamespace(
        province=province,
        city=city,
        echeng=echeng,
        huarong=huarong,
        t1=t1,
        t2=t2,
        t3=t3,
        l1=make.leader(t1),
        l2=make.leader(t2),
        l3=make.leader(t3),
        coordinator=make.coordinator(echeng),
        admin=make.admin(),
    )
