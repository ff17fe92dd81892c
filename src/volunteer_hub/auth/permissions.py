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
        if self.is_admin or team.id in self.led_team_ids:
            return True
        return bool(self.coordinator_path) and is_within(team.unit.path, self.coordinator_path)

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
