"""A person as admins see them: teams, roles, consent history, sessions.

Admins see everyone; a coordinator sees the people in the teams of their subtree and the
coordinators appointed inside it. Everyone else, and everyone out of scope, gets NotFound.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import contains_eager

from volunteer_hub.audit import services as audit
from volunteer_hub.audit.models import AuditEntry
from volunteer_hub.auth.models import ApiToken
from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.auth.services import end_all_sessions
from volunteer_hub.errors import NotFound
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.sms.models import ConsentChange
from volunteer_hub.teams.models import Membership, Team
from volunteer_hub.units.models import Unit
from volunteer_hub.units.services import subtree_ids


@dataclass(frozen=True)
class PersonPage:
    person: Person
    memberships: list[Membership]
    coordinator_unit: Unit | None
    consent: list[ConsentChange]
    live_tokens: int
    changes: list[AuditEntry]


def visible_person(viewer: Viewer, person_id: int) -> Person:
    """The person if ``viewer`` may open their page; NotFound otherwise (as for missing)."""
    query = select(Person).where(Person.id == person_id)
    if not viewer.is_admin:
        if not viewer.coordinator_path:
            raise NotFound(_("志愿者不存在"))
        in_scope = subtree_ids(viewer.coordinator_path)
        in_teams = (
            select(Membership.person_id)
            .join(Team, Team.id == Membership.team_id)
            .where(Team.unit_id.in_(in_scope))
        )
        query = query.where(or_(Person.id.in_(in_teams), Person.coordinator_unit_id.in_(in_scope)))
    person = db.session.scalar(query)
    if person is None:
        raise NotFound(_("志愿者不存在"))
    return person


def person_page(person: Person) -> PersonPage:
    memberships = list(
        db.session.scalars(
            select(Membership)
            .join(Team, Team.id == Membership.team_id)
            .where(Membership.person_id == person.id)
            .order_by(Team.name, Team.id)
            .options(contains_eager(Membership.team))
        )
    )
    consent = list(
        db.session.scalars(
            select(ConsentChange)
            .where(ConsentChange.person_id == person.id)
            .order_by(ConsentChange.changed_at.desc(), ConsentChange.id.desc())
        )
    )
    live_tokens = db.session.scalar(
        select(func.count())
        .select_from(ApiToken)
        .where(ApiToken.person_id == person.id, ApiToken.revoked_at.is_(None))
    )
    unit = db.session.get(Unit, person.coordinator_unit_id) if person.coordinator_unit_id else None
    return PersonPage(
        person=person,
        memberships=memberships,
        coordinator_unit=unit,
        consent=consent,
        live_tokens=live_tokens or 0,
        changes=audit.entries_about("person", person.id),
    )


def log_out_everywhere(viewer: Viewer, person_id: int) -> Person:
    """End every session and remember cookie of the person (audited)."""
    person = visible_person(viewer, person_id)
    end_all_sessions(person)
    audit.record(viewer.person_id, "person.sessions_ended", "person", person.id)
    return person
