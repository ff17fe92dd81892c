from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from volunteer_hub.db import Base, utcnow
from volunteer_hub.people.models import Person
from volunteer_hub.texted_codes import CodeColumns


class ApiToken(Base):
    """A bearer token for the JSON API; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")
    #: hex SHA-256 of the token; the token itself is shown once and never stored
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    person: Mapped[Person] = relationship(lazy="joined", innerjoin=True)


class LoginCode(CodeColumns, Base):
    """A one-time code texted to a volunteer to log in on the mobile page. Only a keyed
    hash is kept; a code is good for one login, a few tries and a few minutes."""

    __tablename__ = "login_code"

    used_at: Mapped[datetime | None] = mapped_column(sort_order=1)

    def code_binding(self) -> str:
        # The same six digits sent to two people hash differently.
        return str(self.person_id)


class PasswordReset(CodeColumns, Base):
    """A one-time code texted to a member of staff who forgot their password. Only a
    keyed hash is kept; a code is good for one reset, a few tries and a few minutes."""

    __tablename__ = "password_reset"

    used_at: Mapped[datetime | None] = mapped_column(sort_order=1)

    def code_binding(self) -> str:
        # Not the login code's binding: a login code typed here does not match.
        return f"password-reset:{self.person_id}"
