"""Staff accounts from the web: team leaders and coordinators made, switched off and
given a new password by those above them, every change audited.

Who may do what:
- an admin, anywhere; a coordinator, within their unit's subtree only: leaders of the
  teams in it, and coordinators of the units strictly below their own (a coordinator of
  their own unit would be a peer, whom ``may_edit_identity`` does not let them manage
  afterwards); leaders manage no accounts;
- an account is switched off or given a new password by whoever ``may_edit_identity``
  allows to change that person, never by the person (that is /account);
- the page lists the accounts the viewer oversees; others do not exist for them (404).

A new account gets a temporary password, shown once to whoever made it, who passes it
on; at the first login the person must choose their own (``must_set_password``). A
phone that is already someone's is never turned into a new account here, nor is its
owner's name shown: only an admin may give such a person a role, and then their
password stays as it is (a person without one sets it by "forgot password", which
proves they hold the phone).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, false, or_, select, true, union

from volunteer_hub.audit import services as audit
from volunteer_hub.auth.permissions import Viewer, may_edit_identity
from volunteer_hub.auth.services import (
    check_role,
    deactivate,
    end_all_sessions,
    grant_role,
    revoke_tokens,
    set_temporary_password,
)
from volunteer_hub.errors import DomainError, NotFound, ValidationFailed
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import (
    InvalidPhone,
    add_person,
    is_erased_phone,
    normalize_phone,
)
from volunteer_hub.teams.models import MemberRole, Membership, Team
from volunteer_hub.units.models import Unit
from volunteer_hub.units.services import is_within, subtree_condition

#: the roles made here; admins are made on the command line
ROLES = ("leader", "coordinator")


@dataclass(frozen=True)
class NewAccount:
    person_id: int
    #: the temporary password to pass on; None when an existing account got the role
    temporary_password: str | None


@dataclass
class StaffAccount:
    """One row of the staff list: the person and what they are in the viewer's eyes."""

    person: Person
    led_teams: list[Team] = field(default_factory=list)
    coordinator_unit: Unit | None = None


def may_manage_accounts(viewer: Viewer | None) -> bool:
    return viewer is not None and (viewer.is_admin or viewer.is_coordinator)


def assignable_teams(viewer: Viewer) -> list[Team]:
    """The teams whose leaders this viewer may appoint, by unit then name."""
    if not may_manage_accounts(viewer):
        return []
    return list(
        db.session.scalars(
            select(Team)
            .join(Unit, Unit.id == Team.unit_id)
            .where(_team_scope(viewer))
            .order_by(Unit.path, Team.name)
        )
    )


def assignable_units(viewer: Viewer) -> list[Unit]:
    """The units this viewer may give a coordinator, in tree order."""
    if not may_manage_accounts(viewer):
        return []
    return list(db.session.scalars(select(Unit).where(_unit_scope(viewer)).order_by(Unit.path)))


def create_account(
    viewer: Viewer,
    *,
    name: str,
    phone: str,
    role: str,
    team_ids: list[int] | None = None,
    unit_id: int | None = None,
) -> NewAccount:
    """A new leader (of ``team_ids``) or coordinator (of ``unit_id``) with a temporary
    password. Raises ValidationFailed with the form's fields, NotFound for a viewer who
    manages no accounts. The caller commits."""
    if not may_manage_accounts(viewer):
        raise NotFound(_("未找到"))
    team_ids = sorted(set(team_ids or [])) if role == "leader" else []
    unit_id = unit_id if role == "coordinator" else None
    name = (name or "").strip()
    errors = _scope_errors(viewer, role, team_ids, unit_id)
    if not name or len(name) > 50:
        errors["name"] = _("请填写姓名") if not name else _("姓名不能超过 50 个字")
    e164, existing = _phone_and_owner(phone, errors)
    if existing is not None and not (viewer.is_admin and existing.is_active):
        errors["phone"] = _(
            "该手机号已注册，不能新建账号。已是您服务队队员的，请在队员名单中设为队长；"
            "其他情况请联系管理员。"
        )
    if errors:
        raise ValidationFailed(errors)
    check_role(role, unit_id, team_ids)
    person, temporary = existing, None
    if person is None:
        person = add_person(name, e164)
        temporary = set_temporary_password(person)
    grant_role(person, role, unit_id, team_ids)
    audit.record(
        viewer.person_id,
        "account.created" if existing is None else "account.role_granted",
        "person",
        person.id,
        role=role,
        team_ids=team_ids,
        unit_id=unit_id,
    )
    return NewAccount(person_id=person.id, temporary_password=temporary)


def deactivate_account(viewer: Viewer, person_id: int) -> Person:
    """Switch the account off: no login, every session and API token dead. Raises
    NotFound for an account the viewer may not manage. The caller commits."""
    person = _manageable(viewer, person_id)
    if not person.is_active:
        raise DomainError(_("该账号已停用"))
    deactivate(person)
    audit.record(viewer.person_id, "account.deactivated", "person", person.id)
    return person


def reactivate_account(viewer: Viewer, person_id: int) -> str:
    """Switch a deactivated account back on, with a new temporary password returned once
    (whatever got it switched off, the old password is not trusted again): the person
    must choose their own at the next login. An erased person stays erased. Raises
    NotFound for an account the viewer may not manage. The caller commits."""
    person = _manageable(viewer, person_id)
    if person.is_active:
        raise DomainError(_("该账号没有停用"))
    if is_erased_phone(person.phone):
        raise DomainError(_("个人信息已删除的账号不能重新启用"))
    person.is_active = True
    temporary = set_temporary_password(person)
    audit.record(viewer.person_id, "account.reactivated", "person", person.id)
    return temporary


def reset_account_password(viewer: Viewer, person_id: int) -> str:
    """A new temporary password for the account, returned once: every session and API
    token of the person ends, and they must choose their own password at the next
    login. Raises NotFound for an account the viewer may not manage. The caller commits."""
    person = _manageable(viewer, person_id)
    if not person.is_active:
        raise DomainError(_("该账号已停用，不能重置密码"))
    temporary = set_temporary_password(person)
    end_all_sessions(person)
    # A token outlives any password; whoever reset it wants the account back in hand.
    revoke_tokens(person.id)
    audit.record(viewer.person_id, "account.password_reset", "person", person.id)
    return temporary


def staff_accounts(viewer: Viewer) -> list[StaffAccount]:
    """The leaders and coordinators the viewer oversees (admins: every staff account),
    by name; with their teams led and coordinator unit within the viewer's scope. Three
    queries whatever the number of accounts."""
    if not may_manage_accounts(viewer):
        return []
    return _accounts(viewer, Person.id.in_(_overseen_ids(viewer)))


def staff_account(viewer: Viewer, person_id: int) -> StaffAccount:
    """One account of ``staff_accounts``; NotFound if the viewer does not oversee it."""
    if may_manage_accounts(viewer):
        found = _accounts(viewer, Person.id.in_(_overseen_ids(viewer)), Person.id == person_id)
        if found:
            return found[0]
    raise NotFound(_("未找到"))


def may_manage(viewer: Viewer, person_id: int) -> bool:
    """Whether the viewer may switch this account off or reset its password."""
    return (
        may_manage_accounts(viewer)
        and person_id != viewer.person_id
        and may_edit_identity(viewer, person_id)
    )


def _accounts(viewer: Viewer, *conditions: ColumnElement[bool]) -> list[StaffAccount]:
    people = db.session.scalars(
        select(Person).where(*conditions).order_by(Person.name, Person.id)
    ).all()
    accounts = {person.id: StaffAccount(person) for person in people}
    led = db.session.execute(
        select(Membership.person_id, Team)
        .join(Team, Team.id == Membership.team_id)
        .join(Unit, Unit.id == Team.unit_id)
        .where(
            Membership.person_id.in_(list(accounts)),
            Membership.role == MemberRole.LEADER,
            _team_scope(viewer),
        )
        .order_by(Team.name)
    )
    for person_id, team in led:
        accounts[person_id].led_teams.append(team)
    unit_ids = defaultdict(list)
    for person in people:
        if person.coordinator_unit_id is not None:
            unit_ids[person.coordinator_unit_id].append(person.id)
    for unit in db.session.scalars(select(Unit).where(Unit.id.in_(list(unit_ids)))):
        for person_id in unit_ids[unit.id]:
            accounts[person_id].coordinator_unit = unit
    return list(accounts.values())


def _manageable(viewer: Viewer, person_id: int) -> Person:
    person = db.session.get(Person, person_id)
    if person is None or not may_manage(viewer, person_id):
        raise NotFound(_("未找到"))
    return person


def _phone_and_owner(phone: str, errors: dict[str, str]) -> tuple[str | None, Person | None]:
    """The phone in E.164 and the person who has it, if anyone; a malformed phone goes
    into ``errors`` (and gives (None, None))."""
    try:
        e164 = normalize_phone(phone)
    except InvalidPhone as exc:
        errors["phone"] = exc.message
        return None, None
    return e164, db.session.scalar(select(Person).where(Person.phone == e164))


def _scope_errors(
    viewer: Viewer, role: str, team_ids: list[int], unit_id: int | None
) -> dict[str, str]:
    """The role and its scope, checked against what the viewer may give (a team or unit
    out of their reach is as unknown as one that does not exist)."""
    if role not in ROLES:
        return {"role": _("请选择角色：队长或协调员")}
    if role == "leader":
        allowed = db.session.scalars(
            select(Team.id)
            .join(Unit, Unit.id == Team.unit_id)
            .where(Team.id.in_(team_ids), _team_scope(viewer))
        ).all()
        if not team_ids or len(allowed) != len(team_ids):
            return {"team_ids": _("请选择队长所在的服务队")}
        return {}
    unit = db.session.get(Unit, unit_id) if unit_id is not None else None
    if unit is None or not _unit_allowed(viewer, unit):
        return {"unit_id": _("请选择协调员所属的单位（须在您的管辖范围以下）")}
    return {}


def _unit_allowed(viewer: Viewer, unit: Unit) -> bool:
    if viewer.is_admin:
        return True
    path = viewer.coordinator_path or ""
    return bool(path) and unit.path != path and is_within(unit.path, path)


def _team_scope(viewer: Viewer) -> ColumnElement[bool]:
    """SQL condition on ``Unit`` (joined to the team): a team whose leaders the viewer
    may appoint. A coordinator's reach is their subtree, not the teams they lead."""
    if viewer.is_admin:
        return true()
    if viewer.coordinator_path:
        return subtree_condition(viewer.coordinator_path)
    return false()


def _unit_scope(viewer: Viewer) -> ColumnElement[bool]:
    """SQL condition on ``Unit``: a unit this viewer may give a coordinator."""
    if viewer.is_admin:
        return true()
    if viewer.coordinator_path:
        return subtree_condition(viewer.coordinator_path) & (Unit.path != viewer.coordinator_path)
    return false()


def _overseen_ids(viewer: Viewer):
    """Ids of the staff accounts the viewer oversees: leaders of teams in their scope,
    coordinators of units in their subtree (their peers too, shown without actions);
    for an admin, every account with a staff role or a password."""
    leaders = (
        select(Membership.person_id)
        .join(Team, Team.id == Membership.team_id)
        .join(Unit, Unit.id == Team.unit_id)
        .where(Membership.role == MemberRole.LEADER, _team_scope(viewer))
    )
    coordinators = (
        select(Person.id)
        .join(Unit, Unit.id == Person.coordinator_unit_id)
        .where(viewer.unit_condition())
    )
    if not viewer.is_admin:
        return union(leaders, coordinators)
    others = select(Person.id).where(
        or_(Person.is_admin.is_(True), Person.password_hash.is_not(None))
    )
    return union(leaders, coordinators, others)
