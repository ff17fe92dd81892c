from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Select, String, false, func, select
from sqlalchemy.orm import Mapped, aliased, mapped_column, relationship

from volunteer_hub.db import Base, partial_index, utcnow
from volunteer_hub.events.models import Shift
from volunteer_hub.people.models import Person


class SignupStatus(enum.StrEnum):
    """CONFIRMED holds a seat, WAITLISTED waits for one (in ``id`` order); both are active."""

    CONFIRMED = "confirmed"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


class SignupSource(enum.StrEnum):
    """Who signed the person up: they did (web page or SMS), their leader, or an API client;
    or their leader on the spot (``hours.walk_ins``)."""

    WEB = "web"
    SMS = "sms"
    LEADER = "leader"
    API = "api"
    WALK_IN = "walk_in"  # came to a shift that had started; the leader seated them


ACTIVE_STATUSES = (SignupStatus.CONFIRMED, SignupStatus.WAITLISTED)


class Signup(Base):
    """A person on a shift. The waitlist order is the order of ``id``."""

    __tablename__ = "signup"
    __table_args__ = (
        # At most one active signup per person and shift; cancelled ones are history.
        partial_index(
            "uq_signup_active_person_shift",
            "shift_id",
            "person_id",
            unique=True,
            where="status <> 'cancelled'",
        ),
        Index("ix_signup_shift_id_status_id", "shift_id", "status", "id"),
        Index("ix_signup_person_id_status", "person_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shift_id: Mapped[int] = mapped_column(ForeignKey("shift.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    status: Mapped[SignupStatus] = mapped_column(String(20))
    source: Mapped[SignupSource] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: when a waitlisted signup got its seat
    confirmed_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    #: ended because the organizer cancelled the shift or the event, not by anyone's
    #: choice: the person's calendar feed keeps it, marked cancelled, for a while
    cancelled_with_shift: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    #: when the person answered a reminder with 确认 (they will come)
    attendance_confirmed_at: Mapped[datetime | None]
    #: who signed the person up or off, if not the person themself
    acted_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))

    shift: Mapped[Shift] = relationship(lazy="raise_on_sql")
    person: Mapped[Person] = relationship(foreign_keys=[person_id], lazy="raise_on_sql")

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @classmethod
    def waitlisted_ahead(cls, shift_id, signup_id) -> Select:
        """Count the waitlisted signups before ``signup_id`` on shift ``shift_id`` (the
        waitlist order is the order of ``id``). Give values, or the columns of an outer
        query and correlate the result to it."""
        ahead = aliased(cls)
        return (
            select(func.count())
            .select_from(ahead)
            .where(
                ahead.shift_id == shift_id,
                ahead.status == SignupStatus.WAITLISTED,
                ahead.id < signup_id,
            )
        )
