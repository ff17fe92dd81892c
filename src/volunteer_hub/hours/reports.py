"""Service-hour reports: what coordinators, leaders and volunteers read.

The unit and team reports read only the roll-ups kept by the workers
(``team_hours_rollup`` for team-level figures, ``hours_rollup`` per volunteer), never
the raw records, and run a fixed number of queries whatever the number of teams,
categories, months or people. A volunteer's own history lists their records.

Figures are minutes (integers, exact); ``hours`` is minutes / 60 at the edge.
``volunteers`` is 参与人次: the sum of ``team_hours_rollup.volunteers``, i.e. a person
counts once for each team, category and month they served in (exact for one month and
one category; across months a person who served in three counts three times). Distinct
people over a whole period would need a pass over ``hours_rollup`` for the subtree (on
the order of 100,000 rows a year at Ezhou scale): the team report gives them
(``people_served``), the unit report does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, TypeVar

from flask_babel import gettext as _
from sqlalchemy import (
    Select,
    case,
    func,
    literal,
    null,
    select,
    tuple_,
    union_all,
)

from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.errors import NotFound, ValidationFailed
from volunteer_hub.events.models import Category
from volunteer_hub.extensions import db
from volunteer_hub.hours.models import HoursRollup, ServiceRecord, TeamHoursRollup
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import display_phone, mask_phone
from volunteer_hub.teams.models import Membership, Team
from volunteer_hub.units.models import Unit
from volunteer_hub.units.services import subtree_condition

#: the longest period one report covers (by_month lists every month of it)
MAX_MONTHS = 120


# -- results ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    minutes: int = 0
    services: int = 0
    volunteers: int = 0

    @property
    def hours(self) -> float:
        return self.minutes / 60


@dataclass(frozen=True)
class TeamRow(Figures):
    team_id: int = 0
    name: str = ""
    unit_name: str = ""


@dataclass(frozen=True)
class CategoryRow(Figures):
    category_id: int = 0
    name: str = ""


@dataclass(frozen=True)
class MonthRow(Figures):
    month: date = date.min


@dataclass(frozen=True)
class PeriodReport:
    """What every report over a period has: the months it covers, the categories it was
    limited to (none: all), and its figures by category, by month and in total."""

    month_from: date
    month_to: date
    category_ids: tuple[int, ...]
    #: categories with service in the period, most minutes first
    by_category: tuple[CategoryRow, ...]
    #: every month of the period, oldest first, zeros included
    by_month: tuple[MonthRow, ...]
    totals: Figures


R = TypeVar("R", bound=PeriodReport)


@dataclass(frozen=True)
class UnitReport(PeriodReport):
    unit_path: str
    #: every team of the subtree, most minutes first (teams without service last)
    by_team: tuple[TeamRow, ...]


@dataclass(frozen=True)
class PersonRow(Figures):
    """One volunteer in a team report; ``services`` and ``minutes`` are theirs alone
    (``volunteers`` is 1 when they served in the period, else 0)."""

    person_id: int = 0
    name: str = ""
    #: in full for viewers who may read it, else masked (138****8000)
    phone: str = ""
    phone_masked: bool = True
    is_member: bool = True
    #: months of the period with service
    active_months: int = 0


@dataclass(frozen=True)
class TeamReport(PeriodReport):
    team_id: int
    team_name: str
    unit_name: str
    #: current members and anyone else with service in the period; most minutes first
    by_person: tuple[PersonRow, ...]
    #: distinct people with verified service for the team in the period
    people_served: int


@dataclass(frozen=True)
class HistoryRow:
    record_id: int
    team_id: int
    team_name: str
    category_name: str
    content: str
    started_at: datetime
    minutes: int
    status: str
    attendance: str
    is_unplanned: bool
    #: in the roll-ups: verified service that took place
    counts: bool

    @property
    def hours(self) -> float:
        return self.minutes / 60


@dataclass(frozen=True)
class PersonHistory:
    person_id: int
    name: str
    phone_masked: str
    #: newest first
    records: tuple[HistoryRow, ...]
    #: verified service only
    totals: Figures

    def verified(self) -> list[HistoryRow]:
        return [row for row in self.records if row.counts]


# -- periods ---------------------------------------------------------------------------


def first_of_month(day: date) -> date:
    return date(day.year, day.month, 1)


def parse_month(text: str | None, field: str) -> date | None:
    """``2031-03`` (what <input type="month"> sends) or ``2031-03-17`` as the first of its
    month; None when empty. Anything else raises ValidationFailed on ``field``."""
    text = (text or "").strip()
    if not text:
        return None
    parts = text.split("-")
    try:
        if len(parts) in (2, 3) and all(part.isdigit() for part in parts):
            return date(int(parts[0]), int(parts[1]), 1)
    except ValueError:
        pass
    raise ValidationFailed({field: _("月份不正确：请按 2026-03 这样的格式填写年和月")})


def months_between(month_from: date, month_to: date) -> list[date]:
    """Every first-of-month from ``month_from`` to ``month_to``, both included."""
    months = []
    year, month = month_from.year, month_from.month
    while (year, month) <= (month_to.year, month_to.month):
        months.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _period(month_from: date, month_to: date) -> tuple[date, date]:
    start, end = first_of_month(month_from), first_of_month(month_to)
    if end < start:
        raise ValidationFailed({"month_to": _("结束月份不能早于开始月份")})
    if (end.year - start.year) * 12 + end.month - start.month >= MAX_MONTHS:
        raise ValidationFailed({"month_to": _("一次最多统计 %(n)d 个月", n=MAX_MONTHS)})
    return start, end


# -- the coordinator: a unit and its subtree --------------------------------------------


def unit_report(
    unit_path: str,
    *,
    month_from: date,
    month_to: date,
    category_ids: Sequence[int] = (),
) -> UnitReport:
    """Hours and services of every team under the unit ``unit_path`` (its materialized
    path, e.g. "/1/4/"), by team, by category and by month, from ``month_from`` to
    ``month_to`` (their months, both included), optionally only some categories.

    Three queries, whatever the size of the subtree or the period.
    """
    start, end = _period(month_from, month_to)
    categories = tuple(sorted(set(category_ids)))
    teams = db.session.execute(
        select(Team.id, Team.name, Unit.name)
        .join(Unit, Unit.id == Team.unit_id)
        .where(subtree_condition(unit_path))
    ).all()
    subtree_teams = (
        select(Team.id).join(Unit, Unit.id == Team.unit_id).where(subtree_condition(unit_path))
    )
    per_team, per_category, per_month = (
        _sums_by_team_category_month(subtree_teams, start, end, categories)
        if teams
        else ({}, {}, {})
    )
    by_team = sorted(
        (
            TeamRow(team_id=team_id, name=name, unit_name=unit_name, **per_team.get(team_id, {}))
            for team_id, name, unit_name in teams
        ),
        key=lambda row: (-row.minutes, -row.services, row.name, row.team_id),
    )
    return _report(
        UnitReport,
        (start, end, categories),
        per_category,
        per_month,
        unit_path=unit_path,
        by_team=tuple(by_team),
    )


def _sums_by_team_category_month(
    team_ids: Select, start: date, end: date, categories: Sequence[int]
) -> tuple[dict, dict, dict]:
    """Sums of ``team_hours_rollup`` for the teams ``team_ids`` selects (a subtree's, or
    one team) and the period, three ways (by team, by category, by month) in one
    statement: one pass with GROUPING SETS on PostgreSQL (an index-only scan of the
    covering index), three GROUP BYs joined with UNION ALL elsewhere. The teams are a
    semi-join, not a join per row."""
    rollup = TeamHoursRollup
    where = [rollup.team_id.in_(team_ids), rollup.month >= start, rollup.month <= end]
    if categories:
        where.append(rollup.category_id.in_(categories))
    sums = (
        func.sum(rollup.minutes).label("minutes"),
        func.sum(rollup.services).label("services"),
        func.sum(rollup.volunteers).label("volunteers"),
    )
    dims = {"team": rollup.team_id, "category": rollup.category_id, "month": rollup.month}
    if db.session.get_bind().dialect.name == "postgresql":
        statement = (
            select(
                case(
                    (func.grouping(rollup.team_id) == 0, literal("team")),
                    (func.grouping(rollup.category_id) == 0, literal("category")),
                    else_=literal("month"),
                ).label("kind"),
                *(column.label(name) for name, column in dims.items()),
                *sums,
            )
            .where(*where)
            .group_by(func.grouping_sets(*(tuple_(column) for column in dims.values())))
        )
    else:
        statement = union_all(
            *(
                select(
                    literal(kind).label("kind"),
                    *(
                        (column if name == kind else null()).label(name)
                        for name, column in dims.items()
                    ),
                    *sums,
                )
                .where(*where)
                .group_by(dims[kind])
                for kind in dims
            )
        )
    grouped: dict[str, dict] = {"team": {}, "category": {}, "month": {}}
    for row in db.session.execute(statement):
        key = row.month if row.kind == "month" else getattr(row, row.kind)
        if row.kind == "month":
            key = _as_date(key)
        grouped[row.kind][key] = {
            "minutes": int(row.minutes),
            "services": int(row.services),
            "volunteers": int(row.volunteers),
        }
    return grouped["team"], grouped["category"], grouped["month"]


# -- the leader: one team, per volunteer -----------------------------------------------


def team_report(
    team_id: int,
    *,
    month_from: date,
    month_to: date,
    category_ids: Sequence[int] = (),
    viewer: Viewer | None = None,
) -> TeamReport:
    """One team's hours per volunteer (current members, and anyone else who served for
    it in the period), by category and by month. Phones are in full only for those
    ``viewer`` may read (``Viewer.people_with_full_phone``); masked without a viewer.

    Six queries at most (five without a viewer), whatever the number of members.
    """
    start, end = _period(month_from, month_to)
    categories = tuple(sorted(set(category_ids)))
    team = db.session.execute(
        select(Team.id, Team.name, Unit.name)
        .join(Unit, Unit.id == Team.unit_id)
        .where(Team.id == team_id)
    ).first()
    if team is None:
        raise NotFound(_("服务队不存在"))
    _per_team, per_category, per_month = _sums_by_team_category_month(
        select(Team.id).where(Team.id == team_id), start, end, categories
    )
    per_person = _sums_by_person(team_id, start, end, categories)
    return _report(
        TeamReport,
        (start, end, categories),
        per_category,
        per_month,
        team_id=team.id,
        team_name=team[1],
        unit_name=team[2],
        by_person=_person_rows(team_id, per_person, viewer),
        people_served=len(per_person),
    )


def _sums_by_person(
    team_id: int, start: date, end: date, categories: Sequence[int]
) -> dict[int, tuple[int, int, int]]:
    """{person id: (minutes, services, months with service)} from ``hours_rollup``, for
    everyone with service for the team in the period."""
    query = (
        select(
            HoursRollup.person_id,
            func.sum(HoursRollup.minutes),
            func.sum(HoursRollup.services),
            func.count(HoursRollup.month.distinct()),
        )
        .where(
            HoursRollup.team_id == team_id,
            HoursRollup.month >= start,
            HoursRollup.month <= end,
        )
        .group_by(HoursRollup.person_id)
    )
    if categories:
        query = query.where(HoursRollup.category_id.in_(categories))
    return {
        person_id: (int(minutes), int(services), int(active_months))
        for person_id, minutes, services, active_months in db.session.execute(query)
    }


def _person_rows(
    team_id: int, per_person: dict[int, tuple[int, int, int]], viewer: Viewer | None
) -> tuple[PersonRow, ...]:
    """A row for each current member and each other person in ``per_person``, most
    minutes first; phones in full only where ``viewer`` may read them."""
    member_ids = select(Membership.person_id).where(Membership.team_id == team_id)
    persons = db.session.execute(
        select(Person.id, Person.name, Person.phone, Person.id.in_(member_ids)).where(
            Person.id.in_(member_ids) | Person.id.in_(sorted(per_person) or [0])
        )
    ).all()
    full = viewer.people_with_full_phone(p.id for p in persons) if viewer else set()
    rows = []
    for person_id, name, phone, is_member in persons:
        minutes, services, active_months = per_person.get(person_id, (0, 0, 0))
        masked = person_id not in full
        rows.append(
            PersonRow(
                person_id=person_id,
                name=name,
                phone=mask_phone(phone) if masked else display_phone(phone),
                phone_masked=masked,
                is_member=bool(is_member),
                minutes=minutes,
                services=services,
                volunteers=1 if services else 0,
                active_months=active_months,
            )
        )
    rows.sort(key=lambda row: (-row.minutes, -row.services, row.name, row.person_id))
    return tuple(rows)


# -- the volunteer: their own records ---------------------------------------------------


def person_history(
    person_id: int,
    *,
    team_id: int | None = None,
    verified_only: bool = False,
) -> PersonHistory:
    """One volunteer's service records, newest first, with the team, content, date,
    hours and status of each; totals count verified service only. ``team_id`` keeps the
    records of one organizing team (a certificate is issued by the team that recorded
    the service). Two queries."""
    person = db.session.execute(
        select(Person.id, Person.name, Person.phone).where(Person.id == person_id)
    ).first()
    if person is None:
        raise NotFound(_("志愿者不存在"))
    query = (
        select(
            ServiceRecord.id,
            ServiceRecord.team_id,
            Team.name,
            Category.name,
            ServiceRecord.content,
            ServiceRecord.started_at,
            ServiceRecord.minutes,
            ServiceRecord.status,
            ServiceRecord.attendance,
            ServiceRecord.shift_id,
        )
        .join(Team, Team.id == ServiceRecord.team_id)
        .join(Category, Category.id == ServiceRecord.category_id)
        .where(ServiceRecord.person_id == person_id)
        .order_by(ServiceRecord.started_at.desc(), ServiceRecord.id.desc())
    )
    if team_id is not None:
        query = query.where(ServiceRecord.team_id == team_id)
    if verified_only:
        query = query.where(ServiceRecord.counted_condition())
    counted = ServiceRecord.counted_condition()
    rows = []
    for row in db.session.execute(query.add_columns(counted.label("counts"))):
        rows.append(
            HistoryRow(
                record_id=row[0],
                team_id=row[1],
                team_name=row[2],
                category_name=row[3],
                content=row[4],
                started_at=row[5],
                minutes=row[6],
                status=str(row[7]),
                attendance=str(row[8]),
                is_unplanned=row[9] is None,
                counts=bool(row.counts),
            )
        )
    verified = [row for row in rows if row.counts]
    return PersonHistory(
        person_id=person.id,
        name=person.name,
        phone_masked=mask_phone(person.phone),
        records=tuple(rows),
        totals=Figures(
            minutes=sum(row.minutes for row in verified),
            services=len(verified),
            volunteers=1 if verified else 0,
        ),
    )


# -- internals ---------------------------------------------------------------------------


def _as_date(value) -> date:
    # A date grouped on SQLite may come back as text.
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _report(
    kind: type[R],
    period: tuple[date, date, tuple[int, ...]],
    per_category: dict[int, dict[str, int]],
    per_month: dict[date, dict[str, int]],
    **own: Any,
) -> R:
    """A report of ``kind`` over ``period`` (first month, last month, categories): its
    figures by category, by month and in total from the sums; ``own`` are its own fields."""
    start, end, categories = period
    return kind(
        month_from=start,
        month_to=end,
        category_ids=categories,
        by_category=_by_category(per_category),
        by_month=_by_month(start, end, per_month),
        totals=_totals(per_month),
        **own,
    )


def _by_category(per_category: dict[int, dict[str, int]]) -> tuple[CategoryRow, ...]:
    """The categories' rows, named (one query), most minutes first."""
    names = dict(
        db.session.execute(
            select(Category.id, Category.name).where(Category.id.in_(sorted(per_category)))
        ).all()
    )
    return tuple(
        sorted(
            (
                CategoryRow(category_id=category_id, name=names.get(category_id, ""), **sums)
                for category_id, sums in per_category.items()
            ),
            key=lambda row: (-row.minutes, -row.services, row.category_id),
        )
    )


def _by_month(
    start: date, end: date, per_month: dict[date, dict[str, int]]
) -> tuple[MonthRow, ...]:
    """A row for every month from ``start`` to ``end``, zeros where nothing was served."""
    return tuple(
        MonthRow(month=month, **per_month.get(month, {})) for month in months_between(start, end)
    )


def _totals(per_month: dict[date, dict[str, int]]) -> Figures:
    return Figures(
        **{
            name: sum(sums[name] for sums in per_month.values())
            for name in ("minutes", "services", "volunteers")
        }
    )


__all__ = [
    "CategoryRow",
    "Figures",
    "HistoryRow",
    "MonthRow",
    "PeriodReport",
    "PersonHistory",
    "PersonRow",
    "TeamReport",
    "TeamRow",
    "UnitReport",
    "months_between",
    "person_history",
    "team_report",
    "unit_report",
]
