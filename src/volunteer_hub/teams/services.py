"""Teams and their members."""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import case, delete, func, select

from volunteer_hub.errors import Conflict, DomainError, NotFound, ValidationFailed
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import InvalidPhone, normalize_phone
from volunteer_hub.teams.models import MemberRole, Membership, Team
from volunteer_hub.units.models import Unit


class AlreadyMember(Conflict):
    code = "already-member"


def create_team(unit_id: int, name: str, description: str = "") -> Team:
    errors = {}
    if not (name or "").strip():
        errors["name"] = _("请填写服务队名称")
    elif len(name.strip()) > 100:
        errors["name"] = _("服务队名称不能超过 100 个字")
    if db.session.get(Unit, unit_id) is None:
        errors["unit_id"] = _("所属单位不存在")
    if errors:
        raise ValidationFailed(errors)
    team = Team(unit_id=unit_id, name=name.strip(), description=(description or "").strip())
    db.session.add(team)
    db.session.flush()
    return team


def add_member(
    team_id: int, name: str, phone: str, role: str = MemberRole.MEMBER, skills: str = ""
) -> Membership:
    """Add a person (found by phone, or created) to the team."""
    errors: dict[str, str] = {}
    name = (name or "").strip()
    e164 = None
    try:
        e164 = normalize_phone(phone)
    except InvalidPhone as exc:
        errors["phone"] = exc.message
    if len(name) > 50:
        errors["name"] = _("姓名不能超过 50 个字")
    if role not in (MemberRole.MEMBER, MemberRole.LEADER):
        errors["role"] = _("角色不正确")
    person = db.session.scalar(select(Person).where(Person.phone == e164)) if e164 else None
    if person is None and not name:
        errors["name"] = _("请填写姓名")
    if errors:
        raise ValidationFailed(errors)
    if db.session.get(Team, team_id) is None:
        raise NotFound(_("服务队不存在"))
    if person is None:
        person = Person(name=name, phone=e164, skills=(skills or "").strip())
        db.session.add(person)
        db.session.flush()
    elif _membership(team_id, person.id) is not None:
        raise AlreadyMember(_("%(name)s 已是本队队员", name=person.name), field="phone")
    membership = Membership(team_id=team_id, person_id=person.id, role=MemberRole(role))
    db.session.add(membership)
    db.session.flush()
    return membership


def update_member(
    team_id: int, person_id: int, name: str, phone: str, role: str, skills: str = ""
) -> Membership:
    membership = _membership(team_id, person_id)
    if membership is None:
        raise NotFound(_("队员不存在"))
    person = db.session.get(Person, person_id)
    errors: dict[str, str] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = _("请填写姓名")
    elif len(name) > 50:
        errors["name"] = _("姓名不能超过 50 个字")
    try:
        e164 = normalize_phone(phone)
    except InvalidPhone as exc:
        errors["phone"] = exc.message
        e164 = None
    if e164 and e164 != person.phone:
        taken = db.session.scalar(select(Person.id).where(Person.phone == e164))
        if taken is not None:
            errors["phone"] = _("该手机号已属于另一位志愿者")
    if role not in (MemberRole.MEMBER, MemberRole.LEADER):
        errors["role"] = _("角色不正确")
    if errors:
        raise ValidationFailed(errors)
    if membership.role == MemberRole.LEADER and role != MemberRole.LEADER:
        _keep_one_leader(team_id, person_id)
    person.name = name
    person.phone = e164
    person.skills = (skills or "").strip()
    membership.role = MemberRole(role)
    db.session.flush()
    return membership


def remove_member(team_id: int, person_id: int) -> None:
    """Take the person off the team; their signups and records stay (they are history)."""
    membership = _membership(team_id, person_id)
    if membership is None:
        raise NotFound(_("队员不存在"))
    if membership.role == MemberRole.LEADER:
        _keep_one_leader(team_id, person_id)
    db.session.execute(delete(Membership).where(Membership.id == membership.id))


def members(team_id: int) -> list[Membership]:
    """Leaders first, then by name; people loaded in the same query."""
    from sqlalchemy.orm import contains_eager

    return list(
        db.session.scalars(
            select(Membership)
            .join(Person, Person.id == Membership.person_id)
            .where(Membership.team_id == team_id)
            # Explicit: "member" sorts after "leader" as text, so desc() put leaders last.
            .order_by(
                case((Membership.role == MemberRole.LEADER, 0), else_=1), Person.name, Person.id
            )
            .options(contains_eager(Membership.person))
        )
    )


def member_count(team_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Membership).where(Membership.team_id == team_id)
    )


def membership(team_id: int, person_id: int) -> Membership | None:
    """One member of the team with the person loaded (one query)."""
    from sqlalchemy.orm import contains_eager

    return db.session.scalar(
        select(Membership)
        .join(Person, Person.id == Membership.person_id)
        .where(Membership.team_id == team_id, Membership.person_id == person_id)
        .options(contains_eager(Membership.person))
    )


def member_counts(team_ids: list[int]) -> dict[int, int]:
    """Members per team (leaders included); one query whatever the number of teams."""
    if not team_ids:
        return {}
    rows = db.session.execute(
        select(Membership.team_id, func.count(Membership.id))
        .where(Membership.team_id.in_(team_ids))
        .group_by(Membership.team_id)
    )
    return {team_id: count for team_id, count in rows}


def _membership(team_id: int, person_id: int) -> Membership | None:
    return db.session.scalar(
        select(Membership).where(Membership.team_id == team_id, Membership.person_id == person_id)
    )


def _keep_one_leader(team_id: int, leaving_person_id: int) -> None:
    others = db.session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(
            Membership.team_id == team_id,
            Membership.role == MemberRole.LEADER,
            Membership.person_id != leaving_person_id,
        )
    )
    if not others:
        raise DomainError(_("服务队至少需要一位队长"), field="role", code="last-leader")
