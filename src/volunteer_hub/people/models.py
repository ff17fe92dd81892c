from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, ForeignKey, Integer, String, Text, false, true
from sqlalchemy.orm import Mapped, mapped_column

from volunteer_hub.db import Base, TimestampMixin
from volunteer_hub.texted_codes import CodeColumns


class Person(UserMixin, TimestampMixin, Base):
    """A volunteer or a member of staff; staff are people with a password and a role."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    #: E.164, e.g. +8613800138000; the natural key SMS arrives with
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    is_veteran: Mapped[bool] = mapped_column(Boolean, default=True, server_default=false())
    #: free text: 驾驶, 急救, 讲解, 水上救援 ...
    skills: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: werkzeug scrypt hash; NULL for people who only use SMS
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: a coordinator sees everything in this unit's subtree
    coordinator_unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("unit.id", ondelete="SET NULL"), index=True
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    last_login_at: Mapped[datetime | None]
    #: set while the person has opted out of texts (TD/退订/STOP); history in consent_change
    sms_opted_out_at: Mapped[datetime | None]
    #: part of every session's and remember cookie's user id; bumping it (logout, password
    #: or phone change, deactivation, "log out everywhere") ends all of them at once
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: the password was set by someone else (account created or reset for the person):
    #: every staff page leads to choosing one's own until it is done
    must_set_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    #: what this login may do: "staff" after a password, "volunteer" after an SMS code.
    #: Not a column: it travels in the session's user id (see get_id), so a texted code
    #: never opens a leader's or coordinator's pages.
    login_scope = "staff"

    def get_id(self) -> str:
        # The session version rides along, so one UPDATE of it (auth.services.
        # end_all_sessions) kills every session and remember cookie made before.
        scope = "v" if self.login_scope == "volunteer" else ""
        return f"{scope}{self.id}:{self.session_version or 0}"

    @property
    def sms_opted_out(self) -> bool:
        return self.sms_opted_out_at is not None

    def __repr__(self) -> str:
        return f"<Person {self.id}>"


class PhoneChange(CodeColumns, Base):
    """A change of a person's phone, waiting for the code texted to the new number.

    The number is changed only when the code comes back: whoever typed a new number
    cannot take the account over by typing a phone they hold. Only a keyed hash of the
    code is kept, as for login codes.
    """

    __tablename__ = "phone_change"

    #: E.164; becomes person.phone once confirmed
    new_phone: Mapped[str] = mapped_column(String(20))
    #: who asked for the change (the person, a leader, a coordinator or an admin)
    requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL")
    )
    confirmed_at: Mapped[datetime | None] = mapped_column(sort_order=1)

    def code_binding(self) -> str:
        # The number too: a code proves this one change only.
        return f"phone-change:{self.person_id}:{self.new_phone}"
