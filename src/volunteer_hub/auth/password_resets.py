"""A member of staff who forgot their password sets a new one with a code texted to the
account's phone.

How the code is made, stored, tried and spent is the rule of texted_codes.py, as for
volunteers' login codes: a keyed hash, one use, a few wrong tries, a few minutes. The
page answers alike whether the number is a staff account's or not, so it tells no one
who works here; only a staff account (a password or a role) gets a text, and not one
that opted out of texts (rule 4): the page says to ask an administrator when no text
comes. A reset ends every session of the person, and the new password is their own.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select

from volunteer_hub.audit import services as audit
from volunteer_hub.auth.login_codes import person_and_latest_code, text_new_code
from volunteer_hub.auth.models import PasswordReset
from volunteer_hub.auth.services import check_password_rules, end_all_sessions, set_password
from volunteer_hub.db import utcnow
from volunteer_hub.errors import DomainError
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import normalize_phone
from volunteer_hub.teams.models import MemberRole, Membership
from volunteer_hub.texted_codes import TextedCodes


class PasswordResetError(DomainError, code="password-reset"):
    """Any failed reset by texted code; the reset page catches this base. Its kinds are
    ``CODES.wrong`` (not the live code, or not six digits) and ``CODES.expired``."""


CODES = TextedCodes(PasswordReset, PasswordReset.used_at, timedelta(minutes=10), PasswordResetError)


def request_reset(phone: str, now: datetime | None = None) -> str:
    """Text a reset code to the staff account with this phone; the number in E.164.

    Raises InvalidPhone for input that is not a phone number. Otherwise the same answer
    whoever the number belongs to: a number that is no active staff account's, or whose
    person opted out of texts, writes nothing and sends nothing.
    """
    now = now or utcnow()
    e164 = normalize_phone(phone)
    person = db.session.scalar(
        select(Person).where(Person.phone == e164, Person.is_active.is_(True), _is_staff())
    )
    if person is None or person.sms_opted_out_at is not None:
        return e164
    text_new_code(CODES, person, "password_reset_code", now)
    return e164


def reset_password(phone: str, code: str, new_password: str, now: datetime | None = None) -> Person:
    """Set ``new_password`` if ``code`` is the live reset code of the account with this
    phone; every session of the person ends. The caller commits.

    A password that breaks the rules is refused first (ValidationFailed), without
    spending a try. Raises ``CODES.wrong`` (the failed try is committed here) or
    ``CODES.expired``; an unknown or malformed number gives ``CODES.expired``.
    """
    now = now or utcnow()
    typed = CODES.typed_digits(code)
    check_password_rules(new_password, field="new_password")
    person, reset = person_and_latest_code(CODES, phone)
    CODES.check(reset, typed, now)
    CODES.use(reset, now)
    set_password(person, new_password, field="new_password")
    end_all_sessions(person)
    audit.record(person.id, "account.password_reset_by_code", "person", person.id)
    return person


def _is_staff():
    """SQL condition on ``Person``: has a password or a staff role."""
    leads = exists().where(Membership.person_id == Person.id, Membership.role == MemberRole.LEADER)
    return or_(
        Person.password_hash.is_not(None),
        Person.is_admin.is_(True),
        Person.coordinator_unit_id.is_not(None),
        leads,
    )
