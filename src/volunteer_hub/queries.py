"""Read-side queries shared by the web pages and the API, scoped by what a viewer may see.

Every function here runs a fixed number of queries whatever the number of rows:
collections are loaded with ``selectinload`` or one extra IN query, never per row.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import Select, select
from sqlalchemy.orm import contains_eager, selectinload

from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.errors import NotFound
from volunteer_hub.events.models import Event, EventStatus, Shift
from volunteer_hub.extensions import db
from volunteer_hub.teams.models import Team
from volunteer_hub.units.models import Unit


def visible_teams(viewer: Viewer) -> Select:
    return select(Team).where(viewer.team_condition()).order_by(Team.name, Team.id)


def visible_team(viewer: Viewer, team_id: int) -> Team:
    """The team, or NotFound when it does not exist *or* the viewer may not see it."""
    query = select(Team).where(Team.id == team_id, viewer.team_condition())
    return _one_or_not_found(query, _("服务队不存在"))


def visible_unit(viewer: Viewer, unit_id: int) -> Unit:
    query = select(Unit).where(Unit.id == unit_id, viewer.unit_condition())
    return _one_or_not_found(query, _("单位不存在"))


def visible_event(viewer: Viewer, event_id: int) -> Event:
    """The event with its shifts, team and category loaded; NotFound if not visible."""
    query = (
        select(Event)
        .join(Team, Team.id == Event.team_id)
        .where(Event.id == event_id, viewer.team_condition())
        .options(*_EVENT_LOADS)
    )
    return _one_or_not_found(query, _("活动不存在"))


def visible_shift(viewer: Viewer, shift_id: int) -> Shift:
    """The shift with its event and the event's team (and unit) in the identity map, from
    the one query that checks the viewer may see it: a sign-up names the team and checks
    it is open, and would otherwise load it in a second round trip."""
    query = (
        select(Shift)
        .join(Event, Event.id == Shift.event_id)
        .join(Team, Team.id == Event.team_id)
        .where(Shift.id == shift_id, viewer.team_condition())
        .options(contains_eager(Shift.event).contains_eager(Event.team))
    )
    return _one_or_not_found(query, _("班次不存在"))


def _one_or_not_found(query: Select, message: str):
    # Missing and not visible are the same answer: an id one may not see reveals nothing.
    found = db.session.scalar(query)
    if found is None:
        raise NotFound(message)
    return found


#: what event lists and pages show of each event besides its own columns (one query each)
_EVENT_LOADS = (
    selectinload(Event.shifts),
    selectinload(Event.team),
    selectinload(Event.category),
)

#: events a team's page and the coordinator overview list: not yet decided to be off
UPCOMING_STATUSES = (EventStatus.PUBLISHED, EventStatus.DRAFT)


def events(
    viewer: Viewer,
    *,
    team_id: int | None = None,
    unit_path: str | None = None,
    category_id: int | None = None,
    ends_after: datetime | None = None,
    starts_before: datetime | None = None,
    statuses: tuple[str, ...] | None = None,
    limit: int | None = None,
    offset: int = 0,
    run: bool = True,
) -> list[Event] | Select:
    """Events the viewer may see, soonest first, with shifts, team and category loaded
    (three extra queries in all, however many events). Each argument left at None
    filters nothing: ``team_id`` one team, ``unit_path`` the teams of a unit's subtree,
    ``category_id`` one category, ``ends_after`` and ``starts_before`` a time window,
    ``statuses`` (e.g. UPCOMING_STATUSES) the events' statuses; ``limit`` and ``offset``
    a page. ``run=False`` gives the statement instead (to count what a page is of)."""
    from volunteer_hub.units.services import subtree_condition

    query = (
        select(Event)
        .join(Team, Team.id == Event.team_id)
        .where(viewer.team_condition())
        .order_by(Event.starts_at, Event.id)
        .options(*_EVENT_LOADS)
    )
    if team_id is not None:
        query = query.where(Event.team_id == team_id)
    if unit_path is not None:
        query = query.where(Team.unit_id.in_(select(Unit.id).where(subtree_condition(unit_path))))
    if category_id is not None:
        query = query.where(Event.category_id == category_id)
    if ends_after is not None:
        query = query.where(Event.ends_at > ends_after)
    if starts_before is not None:
        query = query.where(Event.starts_at < starts_before)
    if statuses:
        query = query.where(Event.status.in_(statuses))
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return list(db.session.scalars(query)) if run else query


def waitlist_counts(event_ids: list[int]) -> dict[int, int]:
    """Waitlisted signups per event, on shifts still running; one query."""
    from sqlalchemy import func

    from volunteer_hub.signups.models import Signup, SignupStatus

    if not event_ids:
        return {}
    rows = db.session.execute(
        select(Shift.event_id, func.count(Signup.id))
        .join(Signup, Signup.shift_id == Shift.id)
        .where(
            Shift.event_id.in_(event_ids),
            Shift.is_cancelled.is_(False),
            Signup.status == SignupStatus.WAITLISTED,
        )
        .group_by(Shift.event_id)
    )
    return {event_id: count for event_id, count in rows}


def upcoming_event_counts(team_ids: list[int], now: datetime) -> dict[int, int]:
    """Events not yet over (draft or published) per team; one query."""
    from sqlalchemy import func

    if not team_ids:
        return {}
    rows = db.session.execute(
        select(Event.team_id, func.count(Event.id))
        .where(
            Event.team_id.in_(team_ids),
            Event.ends_at > now,
            Event.status.in_(UPCOMING_STATUSES),
        )
        .group_by(Event.team_id)
    )
    return {team_id: count for team_id, count in rows}


def visible_units(viewer: Viewer) -> list[Unit]:
    """Units the viewer may filter by, parents before their subtree (path order)."""
    return list(db.session.scalars(select(Unit).where(viewer.unit_condition()).order_by(Unit.path)))
