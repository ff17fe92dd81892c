"""A person's right to be forgotten (PIPL): an admin erases a volunteer's personal data.

What goes: the name (a fixed placeholder), the phone (a unique placeholder that is no
number, people.services.erased_phone), skills, the password and roles, pending phone
changes and login codes, the phone on their texts in and out and the words they texted,
the names leaders typed when inviting them, their rows in roster imports' previews (an
import not yet applied that lists them loses its file); they leave every team and their upcoming
sign-ups are cancelled (a waitlisted person moves up as after any cancellation).

What stays: the person row itself, anonymous, so that service records and the hour
roll-ups keep their totals unchanged; and the consent history (consent_change), which a
carrier or a regulator may ask for. Erasure also records an opt-out with the channel
"erasure", so rule 4 keeps every text from them for good.

No login is possible afterwards: the account is inactive, its sessions are ended and its
API tokens revoked. The audit entry names who erased whom (by id), never what was erased.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import delete, select, update

from volunteer_hub.audit import services as audit
from volunteer_hub.auth.models import ApiToken, LoginCode
from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.auth.services import end_all_sessions
from volunteer_hub.calendar.models import Feed
from volunteer_hub.db import utcnow
from volunteer_hub.errors import Conflict, NotFound
from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person, PhoneChange
from volunteer_hub.people.services import erased_phone, is_erased_phone
from volunteer_hub.people.skills import set_skills
from volunteer_hub.roster import services as roster
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import ACTIVE_STATUSES, Signup
from volunteer_hub.sms.models import InboundSms, OutgoingSms
from volunteer_hub.sms.services import opt_out
from volunteer_hub.teams.models import InvitationStatus, Membership, TeamInvitation

#: what an erased person is called from now on (stored data, the same in every language)
ERASED_NAME = "已删除"
#: the consent channel of the opt-out erasure records
ERASURE_CHANNEL = "erasure"


class ErasureRefused(Conflict, code="erasure-refused"):
    """The person cannot be erased as they are (an admin account, or erased already)."""


def is_erased(person: Person) -> bool:
    return is_erased_phone(person.phone)


def erase_person(viewer: Viewer, person_id: int) -> Person:
    """Erase the person's personal data; admins only (anyone else: NotFound)."""
    if not viewer.is_admin:
        raise NotFound(_("志愿者不存在"))
    person = db.session.get(Person, person_id)
    if person is None:
        raise NotFound(_("志愿者不存在"))
    if is_erased(person):
        raise ErasureRefused(_("该志愿者的个人信息已删除"))
    if person.is_admin or person.id == viewer.person_id:
        raise ErasureRefused(_("不能删除管理员账号的个人信息，请先取消其管理员身份"))
    now = utcnow()
    old_phone, old_name, placeholder = person.phone, person.name, erased_phone(person.id)
    _cancel_upcoming_signups(person.id, viewer.person_id, now)
    # Before the phone changes: it also cancels whatever texts still wait for them.
    opt_out(person.id, channel=ERASURE_CHANNEL, now=now)
    person.name = ERASED_NAME
    person.phone = placeholder
    person.skills = ""
    person.password_hash = None
    person.coordinator_unit_id = None
    person.is_active = False
    db.session.flush()
    set_skills(person.id, [])
    _forget_traces(person.id, old_phone, placeholder, now)
    roster.forget_person(old_phone, old_name)
    end_all_sessions(person)
    audit.record(viewer.person_id, "person.erased", "person", person.id)
    return person


def _cancel_upcoming_signups(person_id: int, acted_by_id: int, now) -> None:
    upcoming = db.session.scalars(
        select(Signup.id)
        .join(Shift, Shift.id == Signup.shift_id)
        .where(
            Signup.person_id == person_id,
            Signup.status.in_(ACTIVE_STATUSES),
            Shift.starts_at > now,
        )
    ).all()
    for signup_id in upcoming:
        signups.cancel(signup_id, acted_by_id=acted_by_id, now=now)


def _forget_traces(person_id: int, old_phone: str, placeholder: str, now) -> None:
    """Rows elsewhere that carry the person's phone, words or name."""
    statements = [
        delete(Membership).where(Membership.person_id == person_id),
        update(TeamInvitation)
        .where(
            TeamInvitation.person_id == person_id, TeamInvitation.status == InvitationStatus.PENDING
        )
        .values(status=InvitationStatus.WITHDRAWN, decided_at=now),
        update(TeamInvitation).where(TeamInvitation.person_id == person_id).values(name_given=""),
        delete(PhoneChange).where(PhoneChange.person_id == person_id),
        delete(LoginCode).where(LoginCode.person_id == person_id),
        update(ApiToken)
        .where(ApiToken.person_id == person_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now),
        update(Feed)
        .where(Feed.person_id == person_id, Feed.revoked_at.is_(None))
        .values(revoked_at=now),
        update(OutgoingSms).where(OutgoingSms.to_phone == old_phone).values(to_phone=placeholder),
        update(InboundSms)
        .where(InboundSms.from_phone == old_phone)
        .values(from_phone=placeholder, body=""),
    ]
    for statement in statements:
        db.session.execute(statement.execution_options(synchronize_session=False))
