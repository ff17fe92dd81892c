"""Six-digit codes texted to a phone, to prove that whoever types them back holds it.

Two things rest on such a code: logging in on the mobile page (auth/login_codes.py) and
changing a person's phone (people/phone_changes.py). One rule serves both:

- a code is six random digits, good for one use, ``MAX_FAILED_ATTEMPTS`` wrong tries and
  the lifetime its use sets; a new code voids the person's earlier live ones;
- only an HMAC-SHA-256 under the app's secret key is stored (keyed, so a leaked table
  cannot be brute-forced offline in a million tries), bound to what the code proves;
- a wrong try is counted by a conditional UPDATE and committed at once: concurrent wrong
  tries are all counted and stop at the limit, and a caller's rollback cannot hand out
  more tries;
- using the code is one conditional UPDATE: of two uses at the same moment, the database
  lets exactly one through.

Each use keeps its own table (``CodeColumns`` plus what the code is for), its own errors
(under a base error of its own, which its pages catch) and its own words for "get a new
code", in a ``TextedCodes``. Three uses so far: the two above and a forgotten staff
password (auth/password_resets.py).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import types
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import LazyString
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Integer, String, select, update
from sqlalchemy.orm import InstrumentedAttribute, Mapped, mapped_column

from volunteer_hub.db import utcnow
from volunteer_hub.errors import DomainError
from volunteer_hub.extensions import db

CODE_LENGTH = 6
MAX_FAILED_ATTEMPTS = 5
# What ``expired`` says unless a use says otherwise: ask for a new code, which is how a
# login or a password reset goes on.
NO_LIVE_CODE = _l("验证码已失效或已使用，请重新获取验证码。")
TOO_MANY_TRIES = _l("验证码输错次数太多，已失效。请重新获取验证码。")


class CodeColumns:
    """The columns of a table of texted codes (a mixin for the model). The table adds
    what the code is for, and the column set when it is used (``TextedCodes.used``)."""

    # sort_order keeps each table's columns in the order its migration made them: these
    # two first, the model's own columns next, the rest of these, then its ``used``
    # column (sort_order=1).
    id: Mapped[int] = mapped_column(primary_key=True, sort_order=-1)
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), index=True, sort_order=-1
    )
    #: hex HMAC-SHA-256 of the code under the app's secret key
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    #: wrong codes tried against this one; at the limit it is dead
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def code_binding(self) -> str:
        """What the code proves, hashed together with it: the same six digits sent for
        another person (or another number) do not match."""
        raise NotImplementedError


@dataclass(frozen=True)
class TextedCodes:
    """One use of texted codes: its table, how long a code lives, and how it says no."""

    model: type[CodeColumns]
    #: the model's column set when a code is used
    used: InstrumentedAttribute
    lifetime: timedelta
    #: the use's own error, declared with its API code (say "login-code"); ``wrong`` and
    #: ``expired`` are made under it, with that code and "-wrong" or "-expired"
    errors: type[DomainError]
    #: the messages of ``expired``: there is no live code; the last try was used up
    expired_message: LazyString = NO_LIVE_CODE
    too_many_message: LazyString = TOO_MANY_TRIES
    #: raised for digits that are not the code (the try is counted) or not six digits
    wrong: type[DomainError] = field(init=False)
    #: raised when there is no live code to try: never asked for, expired, used,
    #: replaced by a newer code, or too many wrong tries
    expired: type[DomainError] = field(init=False)

    def __post_init__(self) -> None:
        for kind in ("wrong", "expired"):
            error = types.new_class(
                f"{kind.title()}{self.errors.__name__}",
                (self.errors,),
                {"code": f"{self.errors.code}-{kind}"},
            )
            error.__module__ = self.errors.__module__
            object.__setattr__(self, kind, error)

    def issue(self, person_id: int, now: datetime, **columns) -> tuple[CodeColumns, str]:
        """A new live code of the person (their earlier live ones are voided) and its
        digits, which only the text may carry. The row is flushed, so it has an id."""
        model = self.model
        db.session.execute(
            update(model)
            .where(model.person_id == person_id, self.used.is_(None), model.expires_at > now)
            .values(expires_at=now)
            .execution_options(synchronize_session=False)
        )
        plain = f"{secrets.randbelow(10**CODE_LENGTH):0{CODE_LENGTH}d}"
        row = model(
            person_id=person_id,
            created_at=now,
            expires_at=now + self.lifetime,
            failed_attempts=0,
            **columns,
        )
        row.code_hash = _keyed_hash(row, plain)
        db.session.add(row)
        db.session.flush()
        return row, plain

    def typed_digits(self, code: str | None) -> str:
        """The code as typed, spaces removed and full-width digits (as some Chinese
        keyboards type them) made plain. Raises ``wrong`` unless it is six digits; such
        a slip does not count as a try."""
        typed = "".join(unicodedata.normalize("NFKC", code or "").split())
        if len(typed) != CODE_LENGTH or not typed.isdecimal():
            raise self.wrong(_("请输入短信里的6位数字验证码"), field="code")
        return typed

    def is_live(self, row: CodeColumns, now: datetime) -> bool:
        return (
            getattr(row, self.used.key) is None
            and row.expires_at > now
            and row.failed_attempts < MAX_FAILED_ATTEMPTS
        )

    def check(self, row: CodeColumns | None, typed: str, now: datetime) -> None:
        """Return if ``typed`` is the live code of ``row``. Otherwise raise ``expired``
        (no row, or not live) or ``wrong``, after counting the try and committing it."""
        if row is None or not self.is_live(row, now):
            raise self.expired_error()
        if hmac.compare_digest(row.code_hash, _keyed_hash(row, typed)):
            return
        model = self.model
        db.session.execute(
            update(model)
            .where(
                model.id == row.id,
                self.used.is_(None),
                model.failed_attempts < MAX_FAILED_ATTEMPTS,
            )
            .values(failed_attempts=model.failed_attempts + 1)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        tries_left = MAX_FAILED_ATTEMPTS - db.session.scalar(
            select(model.failed_attempts).where(model.id == row.id)
        )
        if tries_left <= 0:
            raise self.expired(self.too_many_message, field="code")
        raise self.wrong(_("验证码不正确，还可以再试 %(n)d 次。", n=tries_left), field="code")

    def use(self, row: CodeColumns, now: datetime) -> None:
        """Spend the code that ``check`` accepted; raise ``expired`` if a concurrent use
        or the last wrong try came first. The caller commits."""
        model = self.model
        spent = db.session.execute(
            update(model)
            .where(
                model.id == row.id,
                self.used.is_(None),
                model.expires_at > now,
                model.failed_attempts < MAX_FAILED_ATTEMPTS,
            )
            .values({self.used.key: now})
            .execution_options(synchronize_session=False)
        ).rowcount
        if spent != 1:
            raise self.expired_error()

    def expired_error(self) -> DomainError:
        return self.expired(self.expired_message, field="code")


def _keyed_hash(row: CodeColumns, code: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    message = f"{row.code_binding()}:{code}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
