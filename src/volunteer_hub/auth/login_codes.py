"""Volunteers log in on the mobile page with a one-time code texted to their phone.

A code is six random digits, good for one login, ``MAX_FAILED_ATTEMPTS`` wrong tries and
``CODE_LIFETIME``. Only an HMAC-SHA-256 under the app's secret key is stored (keyed, so
a leaked table cannot be brute-forced offline in a million tries). A new request voids
the person's earlier codes. Asking for a code with a number we do not know looks
exactly like asking with one we do, so the page does not tell who is registered.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update

from volunteer_hub.auth.models import LoginCode
from volunteer_hub.db import utcnow
from volunteer_hub.errors import DomainError
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import InvalidPhone, normalize_phone
from volunteer_hub.sms.models import SmsKind
from volunteer_hub.sms.services import queue_text

CODE_LENGTH = 6
CODE_LIFETIME = timedelta(minutes=10)
MAX_FAILED_ATTEMPTS = 5

# A plain Chinese string, like the other texts (sms/replies.py): SMS is Chinese-only.
CODE_TEXT = "您的登录验证码是 {code}，10分钟内有效。如非本人操作请忽略。"


class LoginCodeError(DomainError):
    code = "login-code"


class WrongLoginCode(LoginCodeError):
    """The code does not match; the try was counted (and committed)."""

    code = "login-code-wrong"


class LoginCodeExpired(LoginCodeError):
    """No live code: never asked for, expired, used, replaced, or too many wrong tries."""

    code = "login-code-expired"


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

    db.session.execute(
        update(LoginCode)
        .where(
            LoginCode.person_id == person.id,
            LoginCode.used_at.is_(None),
            LoginCode.expires_at > now,
        )
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    plain = f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"
    login_code = LoginCode(
        person_id=person.id,
        code_hash=_hash(person.id, plain),
        created_at=now,
        expires_at=now + CODE_LIFETIME,
        failed_attempts=0,
    )
    db.session.add(login_code)
    db.session.flush()
    queue_text(
        to_phone=person.phone,
        body=CODE_TEXT.format(code=plain),
        kind=SmsKind.LOGIN_CODE,
        dedupe_key=f"login-code:{login_code.id}",
        person_id=person.id,
    )
    return CodeRequest(phone=e164)


def verify_code(phone: str, code: str, now: datetime | None = None) -> Person:
    """The person whose live code this is; the code is spent. The caller commits.

    Raises WrongLoginCode (the failed try is committed here, so a caller's rollback
    cannot hand out unlimited tries) or LoginCodeExpired. An unknown number, a number
    without a live code and a malformed phone all give LoginCodeExpired.
    """
    now = now or utcnow()
    typed = "".join(unicodedata.normalize("NFKC", code or "").split())
    if len(typed) != CODE_LENGTH or not typed.isdecimal():
        raise WrongLoginCode(_("请输入短信里的6位数字验证码"), field="code")
    try:
        e164 = normalize_phone(phone)
    except InvalidPhone:
        raise _expired() from None
    row = db.session.execute(
        select(Person, LoginCode)
        .join(LoginCode, LoginCode.person_id == Person.id)
        .where(Person.phone == e164, Person.is_active.is_(True))
        .order_by(LoginCode.id.desc())
        .limit(1)
    ).first()
    if row is None:
        raise _expired()
    person, login_code = row
    if (
        login_code.used_at is not None
        or login_code.expires_at <= now
        or login_code.failed_attempts >= MAX_FAILED_ATTEMPTS
    ):
        raise _expired()

    if not hmac.compare_digest(login_code.code_hash, _hash(person.id, typed)):
        # Conditional, so concurrent wrong tries are all counted and stop at the limit.
        db.session.execute(
            update(LoginCode)
            .where(
                LoginCode.id == login_code.id,
                LoginCode.used_at.is_(None),
                LoginCode.failed_attempts < MAX_FAILED_ATTEMPTS,
            )
            .values(failed_attempts=LoginCode.failed_attempts + 1)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        tries_left = MAX_FAILED_ATTEMPTS - db.session.scalar(
            select(LoginCode.failed_attempts).where(LoginCode.id == login_code.id)
        )
        if tries_left <= 0:
            raise LoginCodeExpired(
                _("验证码输错次数太多，已失效。请重新获取验证码。"), field="code"
            )
        raise WrongLoginCode(_("验证码不正确，还可以再试 %(n)d 次。", n=tries_left), field="code")

    # One conditional UPDATE decides: of two verifications at the same moment, the
    # database lets exactly one set used_at.
    spent = db.session.execute(
        update(LoginCode)
        .where(
            LoginCode.id == login_code.id,
            LoginCode.used_at.is_(None),
            LoginCode.expires_at > now,
            LoginCode.failed_attempts < MAX_FAILED_ATTEMPTS,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if spent != 1:
        raise _expired()
    person.last_login_at = now
    return person


def _expired() -> LoginCodeExpired:
    return LoginCodeExpired(_("验证码已失效或已使用，请重新获取验证码。"), field="code")


def _hash(person_id: int, code: str) -> str:
    # Bound to the person too: the same six digits for two people hash differently.
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{person_id}:{code}".encode(), hashlib.sha256).hexdigest()
