"""A person's phone changes only when the code texted to the new number comes back.

The phone is what a volunteer logs in with (a texted code) and what SMS commands are
matched by, so whoever could set it freely could take the account over by typing a
number they hold. A change is therefore a ``PhoneChange`` row first: six random digits
go to the new number, and the number is changed when they are entered, within
``CODES.lifetime`` and a few wrong tries; how the code is made, stored, tried and spent
is the rule of texted_codes.py, as for login codes. Applying the change bumps
``person.session_version``: every session of the person ends.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from volunteer_hub.db import utcnow
from volunteer_hub.errors import DomainError, NotFound
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person, PhoneChange
from volunteer_hub.people.services import mask_phone, normalize_phone
from volunteer_hub.sms import number_opt_outs
from volunteer_hub.sms.models import SmsKind
from volunteer_hub.sms.services import queue_text
from volunteer_hub.sms.templates import render
from volunteer_hub.texted_codes import TextedCodes

#: the dedupe key of a change's code text is this and the change's id; the text carries no
#: person_id (see start), so erasure finds it by this key
CODE_TEXT_KEY_PREFIX = "phone-change:"


class PhoneChangeError(DomainError, code="phone-change"):
    """The change cannot start: as raised here, the new number is the person's own."""


class PhoneTaken(PhoneChangeError, code="phone-taken"):
    """Another person holds the number, found at the start or, taken since, at the code."""


CODES = TextedCodes(
    model=PhoneChange,
    used=PhoneChange.confirmed_at,
    lifetime=timedelta(minutes=30),
    errors=PhoneChangeError,
    expired_message=_l("验证码已失效或已使用，请重新修改手机号以获取新验证码。"),
    too_many_message=_l("验证码输错次数太多，已失效。请重新修改手机号以获取新验证码。"),
)
#: Not the live code (the try is counted and committed), or not six digits (not counted).
WrongPhoneCode = CODES.wrong
#: No live change: never asked for, expired, done, replaced, or too many wrong tries.
PhoneChangeExpired = CODES.expired

#: (window, most) codes of phone changes texted to one number, and asked for by one
#: person. A change texts a number that asked for nothing (see start): without these a
#: leader's form could text any number again and again, round the login pages' limits.
NUMBER_BUDGET = ((timedelta(minutes=10), 3), (timedelta(days=1), 10))
REQUESTER_BUDGET = ((timedelta(hours=1), 20),)


def start(
    person_id: int, new_phone: str, requested_by_id: int | None, now: datetime | None = None
) -> PhoneChange:
    """Ask for the person's phone to become ``new_phone`` and text the code there.

    Raises InvalidPhone, PhoneTaken (the number is someone's), PhoneChangeError (it is
    already theirs, or it opted out of texts) or NotFound. Earlier live requests of the
    person are voided.
    """
    now = now or utcnow()
    e164 = normalize_phone(new_phone)
    person = db.session.get(Person, person_id)
    if person is None:
        raise NotFound(_("队员不存在"))
    if e164 == person.phone:
        raise PhoneChangeError(_("新手机号与原号码相同"), field="phone")
    _check_free(e164, person_id)
    if number_opt_outs.opted_out(e164):
        # Its holder texted 退订 before: no code can reach it (rule 4) until they rejoin.
        raise PhoneChangeError(
            _("该号码已退订短信，收不到验证码：请先用该号码发送“订阅”后再修改"), field="phone"
        )
    _check_budget(e164, requested_by_id, now)
    change, plain = CODES.issue(person_id, now, new_phone=e164, requested_by_id=requested_by_id)
    # Sent without person_id, so the person's opt-out does not hold it back. Opt-out is
    # per person and about *their* number (rule 4); the new number is not theirs until
    # this code proves it, and whoever holds it asked for nothing from us yet. The text
    # is the one message that number can get from this request, and without it the
    # change could never be made. (No one else holds the number: _check_free.)
    queue_text(
        to_phone=e164,
        text=render("phone_change_code", code=plain),
        kind=SmsKind.LOGIN_CODE,
        dedupe_key=f"{CODE_TEXT_KEY_PREFIX}{change.id}",
    )
    return change


def _check_budget(e164: str, requested_by_id: int | None, now: datetime) -> None:
    def asked(condition, window: timedelta) -> int:
        since = PhoneChange.created_at > now - window
        return db.session.scalar(select(func.count()).where(condition, since))

    if any(asked(PhoneChange.new_phone == e164, w) >= most for w, most in NUMBER_BUDGET):
        raise PhoneChangeError(
            _("给这个号码发验证码太频繁了，请稍后再试（10 分钟内最多 3 次）"), field="phone"
        )
    if requested_by_id is not None and any(
        asked(PhoneChange.requested_by_id == requested_by_id, w) >= most
        for w, most in REQUESTER_BUDGET
    ):
        raise PhoneChangeError(_("您修改手机号太频繁了，请一小时后再试"), field="phone")


def pending(person_id: int, now: datetime | None = None) -> PhoneChange | None:
    """The person's live change waiting for its code, if any."""
    now = now or utcnow()
    change = _latest(person_id)
    return change if change is not None and CODES.is_live(change, now) else None


def confirm(person_id: int, code: str, now: datetime | None = None) -> Person:
    """Apply the person's live change if ``code`` is its code. The caller commits.

    Raises WrongPhoneCode (the failed try is committed here), PhoneChangeExpired, or
    PhoneTaken when the number was given to someone else meanwhile.
    """
    now = now or utcnow()
    typed = CODES.typed_digits(code)
    change = _latest(person_id)
    CODES.check(change, typed, now)
    # The number may have been given to someone else since the code was sent.
    _check_free(change.new_phone, person_id, field="code")
    CODES.use(change, now)
    person = db.session.get(Person, person_id)
    old_phone = person.phone
    try:
        with db.session.begin_nested():
            person.phone = change.new_phone
            # Ends every session and remember cookie of the person (checked per request).
            person.session_version = Person.session_version + 1
            db.session.flush()
    except IntegrityError:
        # Taken by a concurrent registration between the check and the flush.
        raise PhoneTaken(_("该手机号已属于另一位志愿者"), field="code") from None
    db.session.refresh(person, ["phone", "session_version"])
    # A number that opted out before anyone had it: so is the person who now has it.
    number_opt_outs.adopt([person_id])
    # Tell the old number, so a change the person did not ask for does not go unnoticed.
    # With person_id: the person's opt-out holds for this one.
    queue_text(
        to_phone=old_phone,
        text=render("phone_changed", phone=mask_phone(change.new_phone)),
        kind=SmsKind.NOTICE,
        dedupe_key=f"phone-changed:{change.id}",
        person_id=person_id,
    )
    return person


def _check_free(e164: str, person_id: int, field: str = "phone") -> None:
    taken = db.session.scalar(select(Person.id).where(Person.phone == e164, Person.id != person_id))
    if taken is not None:
        raise PhoneTaken(_("该手机号已属于另一位志愿者"), field=field)


def _latest(person_id: int) -> PhoneChange | None:
    return db.session.scalar(
        select(PhoneChange)
        .where(PhoneChange.person_id == person_id)
        .order_by(PhoneChange.id.desc())
        .limit(1)
    )
