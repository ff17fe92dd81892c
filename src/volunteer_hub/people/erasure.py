"""A person's right to be forgotten (PIPL): an admin erases a volunteer's personal data.

What goes: the name (a fixed placeholder), the phone (a unique placeholder that is no
number, people.services.erased_phone), skills, the password and roles, pending phone
changes, login and password-reset codes; on their texts in and out, under every number
they had (the rows linked to them, the unlinked ones of their number now, and the codes
of their phone changes), the number, the words, the template's variables and the
provider's error message (it may quote the number), and a text still waiting is
cancelled; the words of their correction requests, on the service record and in its
trail; the last body of their calendar feeds; the names leaders typed when inviting
them; their rows in roster imports' previews under any number they are known to have
had (an import not yet applied that lists them loses its file); they leave every team
and their upcoming sign-ups are cancelled (a waitlisted person moves up as after any
cancellation).

What stays: the person row itself, anonymous, so that service records and the hour
roll-ups keep their totals unchanged; the rows of their texts with what statistics and a
carrier's audit need (kind, template key, status, times, segments, provider and its
message id, error code, dedupe key); the service records' trail, which still says that a
correction was asked and when; and the consent history (consent_change), which a
carrier or a regulator may ask for. Erasure also records an opt-out with the channel
"erasure", so rule 4 keeps every text from them for good.

No login is possible afterwards: the account is inactive, its sessions are ended and its
API tokens revoked. The audit entry names who erased whom (by id), never what was erased.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import (
    JSON,
    String,
    and_,
    cast,
    delete,
    func,
    literal,
    null,
    or_,
    select,
    union,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB

from volunteer_hub.audit import services as audit
from volunteer_hub.auth.models import ApiToken, LoginCode, PasswordReset
from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.auth.services import end_all_sessions
from volunteer_hub.calendar.models import Feed
from volunteer_hub.db import utcnow
from volunteer_hub.errors import Conflict, NotFound
from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.hours.models import RecordChange, ServiceRecord
from volunteer_hub.people.models import Person, PhoneChange
from volunteer_hub.people.phone_changes import CODE_TEXT_KEY_PREFIX
from volunteer_hub.people.services import erased_phone, is_erased_phone
from volunteer_hub.people.skills import set_skills
from volunteer_hub.roster import services as roster
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import ACTIVE_STATUSES, Signup
from volunteer_hub.sms import number_opt_outs
from volunteer_hub.sms.models import InboundSms, OutgoingSms, SmsStatus
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
    numbers = _numbers_held(person.id, old_phone)
    # An opt-out a number of theirs texted before they had it goes with them.
    number_opt_outs.forget(numbers)
    _forget_traces(person.id, old_phone, placeholder, now)
    roster.forget_person(numbers, old_name)
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


def _numbers_held(person_id: int, phone: str) -> set[str]:
    """The numbers the person is known to have had: ``phone`` (their number now), those
    their texts went to or came from, and those their phone changes confirmed. Read
    before the texts and the changes forget them."""
    earlier = union(
        select(OutgoingSms.to_phone).where(OutgoingSms.person_id == person_id),
        select(InboundSms.from_phone).where(InboundSms.person_id == person_id),
        select(PhoneChange.new_phone).where(
            PhoneChange.person_id == person_id, PhoneChange.confirmed_at.is_not(None)
        ),
    )
    return {phone, *db.session.scalars(earlier)}


def _forget_traces(person_id: int, old_phone: str, placeholder: str, now) -> None:
    """Rows elsewhere that carry the person's phone, words or name."""
    statements = [
        # Before the phone changes go: their codes' texts are found by them.
        *_forget_texts(person_id, old_phone, placeholder, now),
        *_forget_correction_notes(person_id),
        delete(Membership).where(Membership.person_id == person_id),
        update(TeamInvitation)
        .where(
            TeamInvitation.person_id == person_id, TeamInvitation.status == InvitationStatus.PENDING
        )
        .values(status=InvitationStatus.WITHDRAWN, decided_at=now),
        update(TeamInvitation).where(TeamInvitation.person_id == person_id).values(name_given=""),
        delete(PhoneChange).where(PhoneChange.person_id == person_id),
        delete(LoginCode).where(LoginCode.person_id == person_id),
        delete(PasswordReset).where(PasswordReset.person_id == person_id),
        update(ApiToken)
        .where(ApiToken.person_id == person_id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now),
        # Revoked, and without its last body, which names the person ("王建国的志愿服务班次")
        # and lists their shifts; a feed revoked before keeps when that was.
        update(Feed)
        .where(Feed.person_id == person_id)
        .values(revoked_at=func.coalesce(Feed.revoked_at, now), body=None, etag=None),
    ]
    for statement in statements:
        db.session.execute(statement.execution_options(synchronize_session=False))


def _forget_texts(person_id: int, phone: str, placeholder: str, now) -> list:
    """The person's texts in and out keep what the statistics and a carrier's audit need
    (kind, status, times, segments, provider and its message id, error code, dedupe key)
    and lose the words and the numbers.

    Theirs are the rows linked to them, whatever number they carry (the numbers they had
    before a phone change too), and the unlinked rows of their current number: texts
    from it before it was theirs on record, replies to those. Another person's rows at
    the current number (someone who held it before) are that person's."""
    # The code of a phone change goes to the new number unlinked (phone_changes.start):
    # a number they had between two changes, or one never confirmed, is found only
    # through the change.
    change_keys = select(
        literal(CODE_TEXT_KEY_PREFIX, String) + cast(PhoneChange.id, String)
    ).where(PhoneChange.person_id == person_id)
    outgoing = or_(
        OutgoingSms.person_id == person_id,
        and_(
            OutgoingSms.person_id.is_(None),
            or_(OutgoingSms.to_phone == phone, OutgoingSms.dedupe_key.in_(change_keys)),
        ),
    )
    inbound = or_(
        InboundSms.person_id == person_id,
        and_(InboundSms.person_id.is_(None), InboundSms.from_phone == phone),
    )
    return [
        # opt_out cancelled what waited for them by person_id; this also stops unlinked
        # ones (a phone change's code) and the opt-out's own confirmation, which would
        # otherwise go out with no words to no number.
        update(OutgoingSms)
        .where(outgoing, OutgoingSms.status == SmsStatus.QUEUED)
        .values(status=SmsStatus.CANCELLED, status_changed_at=now),
        update(OutgoingSms)
        .where(outgoing)
        .values(
            to_phone=placeholder,
            body="",
            # SQL NULL, not the JSON null a None would be stored as.
            template_vars=null(),
            # A provider's error may quote the number it refused.
            error_message=None,
        ),
        update(InboundSms).where(inbound).values(from_phone=placeholder, body=""),
    ]


#: the actions of the hours trail whose changes carry a correction note: asked, resolved,
#: and a deleted record's snapshot
_NOTE_ACTIONS = ("correction_requested", "correction_resolved", "deleted")


def _forget_correction_notes(person_id: int) -> list:
    """A correction request is the volunteer's own words (typed on their page or texted,
    "更正 CODE ..."): the record and its trail keep that one was asked, and when, but not
    what it said. An open request stays open, for the leader to resolve."""
    return [
        update(ServiceRecord)
        .where(ServiceRecord.person_id == person_id, ServiceRecord.correction_note.is_not(None))
        .values(correction_note=""),
        update(RecordChange)
        .where(RecordChange.person_id == person_id, RecordChange.action == "correction_requested")
        .values(reason=""),
        update(RecordChange)
        .where(RecordChange.person_id == person_id, RecordChange.action.in_(_NOTE_ACTIONS))
        .values(changes=_without_key(RecordChange.changes, "correction_note")),
    ]


def _without_key(column, key: str):
    """SQL for the JSON object ``column`` without ``key``. PostgreSQL removes keys only
    from jsonb (the column is json); SQLite has json_remove."""
    if db.session.get_bind().dialect.name == "postgresql":
        return cast(cast(column, JSONB).op("-")(literal(key, String)), JSON)
    return func.json_remove(column, f"$.{key}")
