"""Running teams from the web: create, rename, archive, appoint and remove leaders.

Who may do what: admins everything; a coordinator the teams under their unit's subtree;
a leader renames their own team and appoints or removes its leaders, but neither
creates nor archives teams. A team out of the viewer's scope does not exist for them
(NotFound). Every change is audited (audit_entry) in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select

from volunteer_hub.audit import services as audit
from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.calendar.services import revoke_feeds_out_of_reach
from volunteer_hub.db import utcnow
from volunteer_hub.errors import DomainError, NotFound, ValidationFailed
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import InvalidPhone, normalize_phone
from volunteer_hub.teams import services
from volunteer_hub.teams.models import MemberRole, Team, TeamInvitation
from volunteer_hub.units.models import Unit
from volunteer_hub.units.services import is_within, may_add_under

#: the longest team name the column holds
NAME_MAX = 100


@dataclass(frozen=True)
class LeaderOutcome:
    """What appointing a leader by phone did: ``promoted`` a member of the team, or
    ``invitation`` sent to a registered person who is not in it yet (they become a member
    when they accept, and can be appointed then)."""

    person_id: int
    promoted: bool
    invitation: TeamInvitation | None = None


def may_oversee(viewer: Viewer, team: Team) -> bool:
    """Admins, and coordinators above the team (archive, restore); not its leaders."""
    if viewer.is_admin:
        return True
    return bool(viewer.coordinator_path) and is_within(team.unit.path, viewer.coordinator_path)


def create_team(viewer: Viewer, unit_id: int | None, name: str, description: str = "") -> Team:
    unit = db.session.get(Unit, unit_id) if unit_id is not None else None
    if (
        unit is None
        or not (viewer.is_admin or viewer.is_coordinator)
        or not may_add_under(viewer, unit)
    ):
        raise ValidationFailed({"unit_id": _("请选择您辖区内的单位")})
    team = services.create_team(unit.id, name, description)
    audit.record(viewer.person_id, "team.created", "team", team.id, name=team.name, unit_id=unit.id)
    return team


def rename_team(viewer: Viewer, team_id: int, name: str) -> Team:
    team = _in_scope(viewer, team_id)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed({"name": _("请填写服务队名称")})
    if len(name) > NAME_MAX:
        raise ValidationFailed({"name": _("服务队名称不能超过 100 个字")})
    if name != team.name:
        audit.record(viewer.person_id, "team.renamed", "team", team.id, old=team.name, new=name)
        team.name = name
    return team


def archive_team(viewer: Viewer, team_id: int) -> Team:
    """Stop the team: no new events, sign-ups or members, gone from pickers. Its events,
    records and hours stay as they are. Archiving twice changes nothing."""
    team = _overseen(viewer, team_id)
    if team.archived_at is None:
        team.archived_at = utcnow()
        audit.record(viewer.person_id, "team.archived", "team", team.id)
    return team


def restore_team(viewer: Viewer, team_id: int) -> Team:
    team = _overseen(viewer, team_id)
    if team.archived_at is not None:
        team.archived_at = None
        audit.record(viewer.person_id, "team.restored", "team", team.id)
    return team


def appoint_leader(viewer: Viewer, team_id: int, phone: str, name_typed: str = "") -> LeaderOutcome:
    """Make the registered person with ``phone`` a leader of the team.

    Only people already registered: an unknown phone is refused. A member of the team is
    made a leader at once. Someone registered but not in the team is never enrolled
    without their consent (issue 11): they get the team's invitation, and the caller
    learns nothing of who they are (only the masked phone and the name typed).
    """
    team = _in_scope(viewer, team_id)
    services.ensure_open(team)
    try:
        e164 = normalize_phone(phone)
    except InvalidPhone as exc:
        raise ValidationFailed({"phone": exc.message}) from None
    person = db.session.scalar(select(Person).where(Person.phone == e164))
    if person is None:
        raise ValidationFailed({"phone": _("该手机号尚未登记。请先把此人添加为队员，再设为队长。")})
    membership = services.membership(team.id, person.id)
    if membership is None:
        invitation = services.add_member(team.id, name_typed, phone, invited_by_id=viewer.person_id)
        audit.record(viewer.person_id, "team.leader_invited", "team", team.id, person_id=person.id)
        return LeaderOutcome(person_id=person.id, promoted=False, invitation=invitation)
    if membership.role != MemberRole.LEADER:
        membership.role = MemberRole.LEADER
        audit.record(viewer.person_id, "team.leader_added", "team", team.id, person_id=person.id)
    return LeaderOutcome(person_id=person.id, promoted=True)


def remove_leader(viewer: Viewer, team_id: int, person_id: int) -> None:
    """The leader stays in the team as a member; a team keeps one leader at least."""
    team = _in_scope(viewer, team_id)
    membership = services.membership(team.id, person_id)
    if membership is None or membership.role != MemberRole.LEADER:
        raise NotFound(_("该队长不存在"))
    services.keep_one_leader(team.id, person_id)
    membership.role = MemberRole.MEMBER
    db.session.flush()
    revoke_feeds_out_of_reach(person_id)
    audit.record(viewer.person_id, "team.leader_removed", "team", team.id, person_id=person_id)


def _in_scope(viewer: Viewer, team_id: int) -> Team:
    team = db.session.scalar(select(Team).where(Team.id == team_id, viewer.team_condition()))
    if team is None:
        raise NotFound(_("服务队不存在"))
    return team


def _overseen(viewer: Viewer, team_id: int) -> Team:
    team = _in_scope(viewer, team_id)
    if not may_oversee(viewer, team):
        raise DomainError(_("只有协调员或管理员可以归档服务队"), code="not-allowed")
    return team
