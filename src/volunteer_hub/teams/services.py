"""Teams and their members."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import gettext as _
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from volunteer_hub import queries
from volunteer_hub.auth.permissions import Viewer, may_edit_identity
from volunteer_hub.calendar.services import revoke_feeds_out_of_reach
from volunteer_hub.db import dialect_insert, utcnow
from volunteer_hub.errors import Conflict, DomainError, NotFound, ValidationFailed
from volunteer_hub.extensions import db
from volunteer_hub.people import phone_changes
from volunteer_hub.people.models import Person, PhoneChange
from volunteer_hub.people.services import InvalidPhone, add_person, normalize_phone
from volunteer_hub.people.skills import give_skills, set_skills, split_skills
from volunteer_hub.sms import replies
from volunteer_hub.sms.models import SmsKind
from volunteer_hub.sms.services import queue_text
from volunteer_hub.teams.models import (
    InvitationStatus,
    MemberRole,
    Membership,
    Team,
    TeamInvitation,
)
from volunteer_hub.units.models import Unit

if TYPE_CHECKING:
    from volunteer_hub.events.models import Event


class AlreadyMember(Conflict, code="already-member"):
    """Adding someone who is in the team already."""


class IdentityLocked(DomainError, code="identity-locked"):
    """A change of name, phone or skills by someone who may not make it."""


class InvitationClosed(Conflict, code="invitation-closed"):
    """The invitation was declined, withdrawn, or does not wait for an answer any more."""


@dataclass(frozen=True)
class MemberUpdate:
    membership: Membership
    #: the phone change started by this update, waiting for its code; None if none
    phone_change: PhoneChange | None = None


# -- archived teams keep their history and take nothing new -----------------------------


class TeamArchived(Conflict, code="team-archived"):
    """The team is archived: it takes no new events, sign-ups or members."""


def ensure_open(team: Team) -> None:
    """Raise TeamArchived for an archived team (new events, sign-ups, members)."""
    if team.is_archived:
        raise TeamArchived(_("该服务队已归档，不能再添加活动、报名或队员"), field="team_id")


# -- teams and members ------------------------------------------------------------------


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
    team_id: int,
    name: str,
    phone: str,
    role: str = MemberRole.MEMBER,
    skills: str = "",
    *,
    invited_by_id: int | None = None,
) -> Membership | TeamInvitation:
    """Add a new person to the team, or invite the registered person with this phone.

    A phone nobody has yet makes a new person and their membership. A phone that is
    already someone's is never enrolled directly and never tells the caller whose it is
    (that would make the form a phone → name lookup): the person gets a pending
    ``TeamInvitation`` and a text, and joins (as a member) only when they accept. The
    answer then carries only the name the caller typed. Adding the same person again
    while an invitation is pending returns that invitation and sends nothing more.
    """
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
    team = db.session.get(Team, team_id)
    if team is None:
        raise NotFound(_("服务队不存在"))
    ensure_open(team)
    if person is None:
        person = add_person(name, e164, skills=(skills or "").strip())
        give_skills({person.id: person.skills})
        membership = Membership(team_id=team_id, person_id=person.id, role=MemberRole(role))
        db.session.add(membership)
        db.session.flush()
        return membership
    if _membership(team_id, person.id) is not None:
        # The caller leads or oversees this team and sees its members: naming them is fine.
        raise AlreadyMember(_("%(name)s 已是本队队员", name=person.name), field="phone")
    return _invite(team, person, name, invited_by_id)


def _invite(
    team: Team, person: Person, name_given: str, invited_by_id: int | None
) -> TeamInvitation:
    invitation = pending_invitation(team.id, person.id)
    if invitation is None:
        invitation = TeamInvitation(
            team_id=team.id,
            person_id=person.id,
            invited_by_id=invited_by_id,
            name_given=name_given,
            status=InvitationStatus.PENDING,
            created_at=utcnow(),
        )
        try:
            with db.session.begin_nested():
                db.session.add(invitation)
                db.session.flush()
        except IntegrityError:
            # Invited by someone else at the same moment: theirs is the one.
            invitation = pending_invitation(team.id, person.id)
            if invitation is None:
                raise
            return invitation
    # An opted-out person gets no text (rule 4); the invitation still waits on their page.
    queue_text(
        to_phone=person.phone,
        text=replies.team_invitation(team=team.name),
        kind=SmsKind.NOTICE,
        dedupe_key=f"team-invitation:{invitation.id}",
        person_id=person.id,
    )
    return invitation


def update_member(
    team_id: int,
    person_id: int,
    name: str | None,
    phone: str | None,
    role: str,
    skills: str | None = None,
    *,
    viewer: Viewer,
) -> MemberUpdate:
    """Change a member's role in the team and, where ``viewer`` may, their identity.

    Name, phone and skills belong to the person, not to this team (they are shared by
    all their teams and the phone is their login), so they change only when
    ``may_edit_identity`` allows; ``None`` means "not sent, keep". A request that would
    change them without that right is refused whole (IdentityLocked), nothing saved.
    A new phone is not set here: it starts a phone change, applied when the code texted
    to the new number is entered (people.phone_changes).
    """
    membership = _membership(team_id, person_id)
    if membership is None:
        raise NotFound(_("队员不存在"))
    person = db.session.get(Person, person_id)
    errors: dict[str, str] = {}
    name = person.name if name is None else name.strip()
    skills = person.skills if skills is None else skills.strip()
    e164 = person.phone
    if phone is not None:
        try:
            e164 = normalize_phone(phone)
        except InvalidPhone as exc:
            errors["phone"] = exc.message
            e164 = None
    identity_changes = (
        name != person.name
        or skills != person.skills
        or (e164 is not None and e164 != person.phone)
    )
    if identity_changes and not may_edit_identity(viewer, person_id):
        raise IdentityLocked(
            _(
                "您无权修改该队员的姓名、手机号码和技能：其中有其他服务队或管理人员的账号信息，"
                "请联系管理员或上级协调员。"
            ),
        )
    if not name:
        errors["name"] = _("请填写姓名")
    elif len(name) > 50:
        errors["name"] = _("姓名不能超过 50 个字")
    if e164 and e164 != person.phone:
        taken = db.session.scalar(select(Person.id).where(Person.phone == e164))
        if taken is not None:
            errors["phone"] = _("该手机号已属于另一位志愿者")
    if role not in (MemberRole.MEMBER, MemberRole.LEADER):
        errors["role"] = _("角色不正确")
    if errors:
        raise ValidationFailed(errors)
    stepping_down = membership.role == MemberRole.LEADER and role != MemberRole.LEADER
    if stepping_down:
        keep_one_leader(team_id, person_id)
    person.name = name
    person.skills = skills
    set_skills(person.id, split_skills(skills))
    membership.role = MemberRole(role)
    db.session.flush()
    if stepping_down:
        revoke_feeds_out_of_reach(person_id)
    change = None
    if e164 != person.phone:
        change = phone_changes.start(person_id, e164, viewer.person_id)
    return MemberUpdate(membership=membership, phone_change=change)


def remove_member(team_id: int, person_id: int) -> None:
    """Take the person off the team; their signups and records stay (they are history)."""
    membership = _membership(team_id, person_id)
    if membership is None:
        raise NotFound(_("队员不存在"))
    was_leader = membership.role == MemberRole.LEADER
    if was_leader:
        keep_one_leader(team_id, person_id)
    db.session.execute(delete(Membership).where(Membership.id == membership.id))
    if was_leader:
        revoke_feeds_out_of_reach(person_id)


# -- invitations: joining a team is the person's decision ------------------------------


def pending_invitation(team_id: int, person_id: int) -> TeamInvitation | None:
    return db.session.scalar(
        select(TeamInvitation).where(
            TeamInvitation.team_id == team_id,
            TeamInvitation.person_id == person_id,
            TeamInvitation.status == InvitationStatus.PENDING,
        )
    )


def pending_invitations(team_id: int) -> list[TeamInvitation]:
    """The team's open invitations, oldest first, with the people loaded (one query)."""
    return _open_invitations(TeamInvitation.person, TeamInvitation.team_id == team_id)


def invitations_for(person_id: int) -> list[TeamInvitation]:
    """What waits for the person's answer, oldest first, with the teams loaded."""
    return _open_invitations(TeamInvitation.team, TeamInvitation.person_id == person_id)


def _open_invitations(loaded, condition) -> list[TeamInvitation]:
    """Pending invitations meeting ``condition``, oldest first, with the ``loaded``
    relationship joined in (one query)."""
    return list(
        db.session.scalars(
            select(TeamInvitation)
            .join(loaded)
            .where(condition, TeamInvitation.status == InvitationStatus.PENDING)
            .order_by(TeamInvitation.created_at, TeamInvitation.id)
            .options(contains_eager(loaded))
        )
    )


def invitation_code(invitation: TeamInvitation) -> str:
    """What the person texts after 加入 when several invitations wait (3 digits at least,
    like a shift code, so the SMS parser reads it)."""
    return f"{invitation.id:03d}"


def accept_invitation(
    invitation_id: int, person_id: int, via: str, now: datetime | None = None
) -> TeamInvitation:
    """The person joins the team (as a member). Idempotent: accepting again changes
    nothing. Raises NotFound (not theirs) or InvitationClosed."""
    invitation = _decide(invitation_id, person_id, InvitationStatus.ACCEPTED, via, now)
    db.session.execute(
        dialect_insert(db.session, Membership)
        .values(
            team_id=invitation.team_id,
            person_id=person_id,
            role=MemberRole.MEMBER,
            joined_at=invitation.decided_at or utcnow(),
        )
        .on_conflict_do_nothing(index_elements=[Membership.team_id, Membership.person_id])
    )
    return invitation


def decline_invitation(
    invitation_id: int, person_id: int, via: str, now: datetime | None = None
) -> TeamInvitation:
    """The person says no; idempotent. Raises NotFound or InvitationClosed."""
    return _decide(invitation_id, person_id, InvitationStatus.DECLINED, via, now)


def withdraw_invitation(team_id: int, invitation_id: int, now: datetime | None = None) -> None:
    """The team takes a pending invitation back. Raises NotFound when there is none."""
    done = db.session.execute(
        update(TeamInvitation)
        .where(
            TeamInvitation.id == invitation_id,
            TeamInvitation.team_id == team_id,
            TeamInvitation.status == InvitationStatus.PENDING,
        )
        .values(status=InvitationStatus.WITHDRAWN, decided_at=now or utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if done != 1:
        raise NotFound(_("该邀请不存在或已处理"))


def _decide(
    invitation_id: int, person_id: int, status: InvitationStatus, via: str, now: datetime | None
) -> TeamInvitation:
    now = now or utcnow()
    # One conditional UPDATE decides, so two answers at once (a tap and a text) cannot
    # both win; the loser sees the decided row below.
    db.session.execute(
        update(TeamInvitation)
        .where(
            TeamInvitation.id == invitation_id,
            TeamInvitation.person_id == person_id,
            TeamInvitation.status == InvitationStatus.PENDING,
        )
        .values(status=status, decided_at=now, decided_via=via)
        .execution_options(synchronize_session=False)
    )
    invitation = db.session.scalar(
        select(TeamInvitation)
        .where(TeamInvitation.id == invitation_id, TeamInvitation.person_id == person_id)
        .execution_options(populate_existing=True)
    )
    if invitation is None:
        raise NotFound(_("该邀请不存在"))
    if invitation.status != status:
        raise InvitationClosed(_("该邀请已失效或已处理"))
    return invitation


def members(team_id: int) -> list[Membership]:
    """Leaders first, then by name; people loaded in the same query."""
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


def upcoming_events(viewer: Viewer, team_id: int, limit: int) -> list[Event]:
    """The team's events not yet over (drafts too), soonest first, with their shifts."""
    return queries.events(
        viewer,
        team_id=team_id,
        ends_after=utcnow(),
        statuses=queries.UPCOMING_STATUSES,
        limit=limit,
    )


def member_count(team_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Membership).where(Membership.team_id == team_id)
    )


def membership(team_id: int, person_id: int) -> Membership | None:
    """One member of the team with the person loaded (one query)."""
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


def keep_one_leader(team_id: int, leaving_person_id: int) -> None:
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
