"""People: phone numbers in E.164, masking, finding by phone."""

from __future__ import annotations

import functools
import re

import phonenumbers
from flask_babel import gettext as _
from sqlalchemy import select

from volunteer_hub.errors import DomainError
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.sms import number_opt_outs

DEFAULT_REGION = "CN"
#: what an erased person's phone becomes (people.erasure): unique by the person's id and
#: no phone number at all, so nothing can text it, log in with it, or find it by phone
ERASED_PHONE_PREFIX = "erased:"


def erased_phone(person_id: int) -> str:
    return f"{ERASED_PHONE_PREFIX}{person_id}"


def is_erased_phone(phone: str) -> bool:
    return phone.startswith(ERASED_PHONE_PREFIX)


class InvalidPhone(DomainError, code="invalid-phone"):
    """Empty, or not a phone number that can be texted."""


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """'138 0013 8000', '+86 138-0013-8000', '８６１３８…' → '+8613800138000'."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone(_("请填写手机号码"), field="phone")
    mobile = _MAINLAND_MOBILE.fullmatch(text) if region == DEFAULT_REGION else None
    if mobile is not None:  # most numbers, new ones too: no parse at all
        return f"+86{mobile[1]}"
    # A number comes again (each text of a volunteer's, a sign-up sent twice: the 409),
    # and parsing it is nearly all the cost here: the outcome is remembered for short
    # inputs (a long one is no phone number, and would fill the memory).
    if len(text) <= _REMEMBERED_LENGTH:
        outcome = _remembered_outcome(text, region)
    else:
        outcome = _outcome(text, region)
    if outcome is _NOT_A_NUMBER:
        raise InvalidPhone(_("手机号码格式不正确：%(phone)s", phone=text), field="phone")
    if outcome is _NOT_VALID:
        raise InvalidPhone(_("手机号码无效：%(phone)s", phone=text), field="phone")
    return outcome


#: what ``_outcome`` gives instead of a number (the message is worded at the time:
#: it depends on the request's language)
_NOT_A_NUMBER, _NOT_VALID = object(), object()
#: the longest input whose outcome is remembered; the longest E.164 number is 16
#: characters, written with spaces or a 00 prefix a few more
_REMEMBERED_LENGTH = 32


def _outcome(text: str, region: str) -> str | object:
    """``text`` in E.164, or ``_NOT_A_NUMBER`` or ``_NOT_VALID``: a function of its
    arguments alone (phonenumbers' metadata does not change while we run)."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return _NOT_A_NUMBER
    if not phonenumbers.is_valid_number(number):
        return _NOT_VALID
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_remembered_outcome = functools.lru_cache(maxsize=4096)(_outcome)

#: A mainland mobile number as nearly everyone gives it (Twilio's From, a sign-up form:
#: "+8613800138000" or "13800138000"), read without phonenumbers' parse, which is most of
#: the cost of a new number: each sign-up brings one. Its national number is the
#: metadata's own mobile pattern, so phonenumbers would find it valid (a type is all
#: validity asks) and give "+86" and these digits (a national number starting with 1 has
#: no country code nor trunk prefix in front to strip: tests/people/test_phone_mobile.py
#: compares the two on every prefix). Anything else goes the long way.
_MOBILE_PATTERN = phonenumbers.PhoneMetadata.metadata_for_region(DEFAULT_REGION).mobile
_MAINLAND_MOBILE = re.compile(
    rf"(?:\+86)?((?:{_MOBILE_PATTERN.national_number_pattern}))", re.ASCII
)


def national_digits(e164: str) -> str:
    number = phonenumbers.parse(e164, None)
    return str(number.national_number)


def mask_phone(e164: str) -> str:
    """+8613800138000 → 138****8000; other countries keep their code in front."""
    if is_erased_phone(e164):
        return _("（已删除）")
    mobile = _MAINLAND_MOBILE.fullmatch(e164) if e164.startswith("+86") else None
    if mobile is not None:  # as phonenumbers reads it (see _MAINLAND_MOBILE), for less
        national = mobile[1]
        return national[:3] + "****" + national[-4:]
    number = phonenumbers.parse(e164, None)
    national = str(number.national_number)
    masked = national[:3] + "*" * max(len(national) - 7, 1) + national[-4:]
    if number.country_code == 86:
        return masked
    return f"+{number.country_code} {masked}"


def display_phone(e164: str) -> str:
    """Full number as a Chinese reader writes it: 138 0013 8000."""
    if is_erased_phone(e164):
        return _("（已删除）")
    number = phonenumbers.parse(e164, None)
    if number.country_code == 86:
        national = str(number.national_number)
        if len(national) == 11:
            return f"{national[:3]} {national[3:7]} {national[7:]}"
        return national
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def find_by_phone(phone: str) -> Person | None:
    return db.session.scalar(select(Person).where(Person.phone == normalize_phone(phone)))


def get_or_create_person(name: str, phone: str) -> tuple[Person, bool]:
    """The person with this phone, created with ``name`` if new. Returns (person, created)."""
    e164 = normalize_phone(phone)
    person = db.session.scalar(select(Person).where(Person.phone == e164))
    if person is not None:
        return person, False
    name = (name or "").strip()
    if not name:
        raise DomainError(_("请填写姓名"), field="name")
    return add_person(name[:50], e164), True


def add_person(name: str, e164: str, **columns: object) -> Person:
    """A new person with this (normalised, unused) number, flushed. Every path that
    registers someone through the ORM comes here, so that a number which opted out
    before anyone had it keeps its opt-out in its person (``sms.number_opt_outs``)."""
    person = Person(name=name, phone=e164, **columns)
    db.session.add(person)
    db.session.flush()
    number_opt_outs.adopt([person.id])
    return person
