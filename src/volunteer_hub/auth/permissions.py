"""Who sees what.

Admins see everything. A coordinator sees every team in their unit's subtree and
nothing beside it. A leader sees the teams they lead. What a viewer cannot see does
not exist for them: views answer 404, never 403, so ids of other teams leak nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, false, or_, select, true

from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.teams.models import MemberRole, Membership, Team
from volunteer_hub.units.models import Unit
from volunteer_hub.units.services import is_within, subtree_condition


@dataclass(frozen=True)
class Viewer:
    person_id: int
    is_admin: bool = False
    #: the materialized path of the coordinator's unit, if they are one
    coordinator_path: str | None = None
    led_team_ids: frozenset[int] = field(default_factory=frozenset)

    @property
    def is_staff(self) -> bool:
        return self.is_admin or self.coordinator_path is not None or bool(self.led_team_ids)

    @property
    def is_coordinator(self) -> bool:
        return self.coordinator_path is not None

    def team_condition(self) -> ColumnElement[bool]:
        """SQL condition on ``Team`` for the teams this viewer may see and manage."""
        if self.is_admin:
            return true()
        clauses = []
        if self.led_team_ids:
            clauses.append(Team.id.in_(sorted(self.led_team_ids)))
        if self.coordinator_path:
            clauses.append(
                Team.unit_id.in_(select(Unit.id).where(subtree_condition(self.coordinator_path)))
            )
        return or_(*clauses) if clauses else false()

    def unit_condition(self) -> ColumnElement[bool]:
        """SQL condition on ``Unit`` for the units this viewer may read."""
        if self.is_admin:
            return true()
        if self.coordinator_path:
            return subtree_condition(self.coordinator_path)
        return false()

    def can_see_team(self, team: Team) -> bool:
        return self.can_see_team_at(team.id, team.unit.path)

    def can_see_team_at(self, team_id: int, unit_path: str) -> bool:
        """``can_see_team`` from plain values (the team's id, its unit's path), for a
        caller that read them in a row of its own: the rule of ``team_condition``."""
        if self.is_admin or team_id in self.led_team_ids:
            return True
        return bool(self.coordinator_path) and is_within(unit_path, self.coordinator_path)

    def can_see_unit(self, unit: Unit) -> bool:
        if self.is_admin:
            return True
        return bool(self.coordinator_path) and is_within(unit.path, self.coordinator_path)

    def people_with_full_phone(self, person_ids: Iterable[int]) -> set[int]:
        """Of ``person_ids``, those whose number this viewer may read in full: members of a
        team the viewer leads or oversees (one query whatever the number of people)."""
        ids = set(person_ids)
        if not ids:
            return set()
        if self.is_admin:
            return ids
        rows = db.session.scalars(
            select(Membership.person_id)
            .join(Team, Team.id == Membership.team_id)
            .where(Membership.person_id.in_(ids), self.team_condition())
            .distinct()
        )
        return set(rows) | ({self.person_id} & ids)


def viewer_for(person: Person | None) -> Viewer | None:
    if person is None:
        return None
    if person.login_scope == "volunteer":
        # Logged in with a texted code: whatever roles the person has wait for a password.
        return Viewer(
            person_id=person.id, is_admin=False, coordinator_path=None, led_team_ids=frozenset()
        )
    return staff_viewer(person)


def staff_viewer(person: Person) -> Viewer:
    """The person with every role they hold, however (or whether) they logged in."""
    led = db.session.scalars(
        select(Membership.team_id).where(
            Membership.person_id == person.id, Membership.role == MemberRole.LEADER
        )
    )
    coordinator_path = None
    if person.coordinator_unit_id is not None:
        coordinator_path = db.session.scalar(
            select(Unit.path).where(Unit.id == person.coordinator_unit_id)
        )
    return Viewer(
        person_id=person.id,
        is_admin=person.is_admin,
        coordinator_path=coordinator_path,
        led_team_ids=frozenset(led),
    )


def may_edit_identity(viewer: Viewer, person_id: int) -> bool:
    """Whether ``viewer`` may change the person's name, phone and skills.

    Identity is shared by every team the person belongs to and is what they log in
    with, so a team's staff may edit it only where no one else has a claim on it:
    - admins always, and everyone their own;
    - an admin account only by admins;
    - a staff account (leader of any team, coordinator) only by a coordinator above
      all of its teams and strictly above its coordinator unit: a peer coordinator or
      a leader of one of its teams could otherwise take it over;
    - anyone else by staff whose scope (teams led, coordinator subtree) holds every
      team the person is in.
    A person in no team has no one but an admin to vouch for a change.
    """
    if viewer.is_admin or viewer.person_id == person_id:
        return True
    person = db.session.get(Person, person_id)
    if person is None or person.is_admin:
        return False
    rows = db.session.execute(
        select(Membership.team_id, Membership.role, Unit.path)
        .join(Team, Team.id == Membership.team_id)
        .join(Unit, Unit.id == Team.unit_id)
        .where(Membership.person_id == person_id)
    ).all()
    if not rows and person.coordinator_unit_id is None:
        return False
    coordinator_path = viewer.coordinator_path

    def under_coordinator(path: str) -> bool:
        return bool(coordinator_path) and is_within(path, coordinator_path)

    leads = any(role == MemberRole.LEADER for _team_id, role, _path in rows)
    if leads or person.coordinator_unit_id is not None:
        if not coordinator_path or not all(under_coordinator(path) for *_rest, path in rows):
            return False
        if person.coordinator_unit_id is None:
            return True
        unit_path = db.session.scalar(
            select(Unit.path).where(Unit.id == person.coordinator_unit_id)
        )
        return unit_path != coordinator_path and under_coordinator(unit_path or "")
    return all(
        team_id in viewer.led_team_ids or under_coordinator(path) for team_id, _role, path in rows
    )
