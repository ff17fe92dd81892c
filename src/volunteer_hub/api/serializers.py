"""ORM rows into response models.

Relationships are ``raise_on_sql``: what a serialiser reads must already be loaded
(``queries`` preloads shifts, team and category) or be handed in, so a list costs the
same number of queries whatever its length.
"""

from __future__ import annotations

from collections.abc import Iterable

from volunteer_hub.api import schemas
from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import mask_phone
from volunteer_hub.signups.models import Signup, SignupStatus
from volunteer_hub.signups.one_read import PersonValues
from volunteer_hub.signups.services import PlacedSignup
from volunteer_hub.teams.models import Membership, Team
from volunteer_hub.units.models import Unit


def unit(row: Unit) -> schemas.UnitOut:
    return schemas.UnitOut(
        id=row.id, name=row.name, level=row.level, parent_id=row.parent_id, path=row.path
    )


def team(row: Team) -> schemas.TeamOut:
    # Team.unit is loaded with the team (lazy="joined").
    return schemas.TeamOut(
        id=row.id,
        unit=schemas.Ref(id=row.unit.id, name=row.unit.name),
        name=row.name,
        description=row.description,
        created_at=row.created_at,
    )


def full_phone_ids(viewer: Viewer, people: Iterable[Person]) -> set[int]:
    """Whose number the viewer may read in full (one query for the lot)."""
    return viewer.people_with_full_phone(p.id for p in people)


def person(row: Person | PersonValues, full_phone: set[int]) -> schemas.PersonOut:
    masked = row.id not in full_phone
    return schemas.PersonOut(
        id=row.id,
        name=row.name,
        phone=mask_phone(row.phone) if masked else row.phone,
        phone_masked=masked,
    )


def member(row: Membership, someone: Person, full_phone: set[int]) -> schemas.MemberOut:
    return schemas.MemberOut(
        person=person(someone, full_phone),
        role=row.role,
        skills=someone.skills,
        joined_at=row.joined_at,
    )


def shift(row: Shift) -> schemas.ShiftOut:
    # Every field of ShiftOut is the column of the same name.
    return schemas.ShiftOut.model_validate(row, from_attributes=True)


def event(row: Event) -> schemas.EventOut:
    """``row`` with shifts, team and category loaded (see ``queries``)."""
    return schemas.EventOut(
        id=row.id,
        team=schemas.Ref(id=row.team.id, name=row.team.name),
        category=schemas.Ref(id=row.category.id, name=row.category.name),
        title=row.title,
        description=row.description,
        location=row.location,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        status=row.status,
        open_to_all=row.open_to_all,
        revision=row.revision,
        cancelled_at=row.cancelled_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
        recurrence_rule=row.recurrence_rule,
        shifts=[shift(s) for s in row.shifts],
    )


def signup(
    row: Signup | PlacedSignup,
    someone: Person | PersonValues,
    full_phone: set[int],
    waitlist_position: int | None = None,
) -> schemas.SignupOut:
    return schemas.SignupOut(
        id=row.id,
        shift_id=row.shift_id,
        person=person(someone, full_phone),
        status=row.status,
        source=row.source,
        waitlist_position=waitlist_position if row.status == SignupStatus.WAITLISTED else None,
        created_at=row.created_at,
        confirmed_at=row.confirmed_at,
        cancelled_at=row.cancelled_at,
    )


def feed(row, url: str, webcal_url: str) -> schemas.FeedOut:
    return schemas.FeedOut(
        id=row.id,
        scope=row.scope,
        target_id=row.person_id or row.team_id or row.unit_id,
        categories=[schemas.Ref(id=c.id, name=c.name) for c in row.categories],
        url=url,
        webcal_url=webcal_url,
        created_at=row.created_at,
    )
