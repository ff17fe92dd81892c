"""Volunteers log in on the mobile page with a one-time code texted to their phone.

A code is good for one login, a few wrong tries and ``CODES.lifetime``; how it is made,
stored, tried and spent is the rule of texted_codes.py. Asking for a code with a number
we do not know looks exactly like asking with one we do, so the page does not tell who
is registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from volunteer_hub.auth.models import LoginCode
from volunteer_hub.db import utcnow
from volunteer_hub.errors import DomainError
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import InvalidPhone, normalize_phone
from volunteer_hub.sms.models import SmsKind
from volunteer_hub.sms.services import queue_text
from volunteer_hub.sms.templates import render
from volunteer_hub.texted_codes import CodeColumns, TextedCodes


class LoginCodeError(DomainError, code="login-code"):
    """Any failed sign-in by texted code; the volunteers' login page catches this base."""


CODES = TextedCodes(LoginCode, LoginCode.used_at, timedelta(minutes=10), LoginCodeError)
#: Not the live code (the try is counted and committed), or not six digits (not counted).
WrongLoginCode = CODES.wrong
#: No live code: never asked for, expired, used, replaced, or too many wrong tries.
LoginCodeExpired = CODES.expired


@dataclass(frozen=True)
class CodeRequest:
    """What the page may say after a request. ``opted_out`` is the one thing it reveals,
    because such a person would otherwise wait for a text that never comes."""

    phone: str
    opted_out: bool = False


def request_code(phone: str, now: datetime | None = None) -> CodeRequest:
    """Create a code for the active person with this phone and queue its text.

    Raises InvalidPhone for input that is not a phone number. An unknown number gets the
    same answer as a known one and writes nothing; so does an opted-out person, except
    that ``opted_out`` is set.
    """
    now = now or utcnow()
    e164 = normalize_phone(phone)
    person = db.session.scalar(
        select(Person).where(Person.phone == e164, Person.is_active.is_(True))
    )
    if person is None:
        return CodeRequest(phone=e164)
    if person.sms_opted_out_at is not None:
        # Rule 4: no text at all; a code they cannot receive would only sit there.
        return CodeRequest(phone=e164, opted_out=True)

    text_new_code(CODES, person, "login_code", now)
    return CodeRequest(phone=e164)


def text_new_code(codes: TextedCodes, person: Person, template: str, now: datetime) -> None:
    """Issue the person a new code of ``codes`` (voiding their earlier ones) and queue its
    text, from the catalogue's ``template``, to their phone. Sent with person_id, so
    their opt-out holds; the callers ask for no code for those who opted out."""
    row, plain = codes.issue(person.id, now)
    queue_text(
        to_phone=person.phone,
        text=render(template, code=plain),
        kind=SmsKind.LOGIN_CODE,
        # One text per code row ("login-code:12", "password-reset:7"), however often sent.
        dedupe_key=f"{row.__tablename__.replace('_', '-')}:{row.id}",
        person_id=person.id,
    )


def verify_code(phone: str, code: str, now: datetime | None = None) -> Person:
    """The person whose live code this is; the code is spent. The caller commits.

    Raises WrongLoginCode (the failed try is committed here, so a caller's rollback
    cannot hand out unlimited tries) or LoginCodeExpired. An unknown number, a number
    without a live code and a malformed phone all give LoginCodeExpired.
    """
    now = now or utcnow()
    typed = CODES.typed_digits(code)
    person, login_code = person_and_latest_code(CODES, phone)
    CODES.check(login_code, typed, now)
    CODES.use(login_code, now)
    person.last_login_at = now
    return person


def person_and_latest_code(
    codes: TextedCodes, phone: str
) -> tuple[Person | None, CodeColumns | None]:
    """The active person with this phone and their latest code of ``codes``' table (live
    or not: ``codes.check`` tells), in one query; (None, None) when there is none. A
    malformed phone raises ``codes.expired``, as an unknown one fails the check."""
    try:
        e164 = normalize_phone(phone)
    except InvalidPhone:
        raise codes.expired_error() from None
    model = codes.model
    row = db.session.execute(
        select(Person, model)
        .join(model, model.person_id == Person.id)
        .where(Person.phone == e164, Person.is_active.is_(True))
        .order_by(model.id.desc())
        .limit(1)
    ).first()
    return (row[0], row[1]) if row is not None else (None, None)
