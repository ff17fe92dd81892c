"""A call-out (应急召集): who was texted, in which ring, and what they answered."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from volunteer_hub.db import Base, link_key, partial_index, utcnow


class CalloutStatus(enum.StrEnum):
    ACTIVE = "active"
    #: every seat taken: no more rings; replies are still seated or waitlisted
    FULL = "full"
    #: the (first) shift began
    STARTED = "started"
    #: the caller stopped it
    STOPPED = "stopped"


#: replies to these are still taken (a full call-out waitlists); to the others: closed
OPEN_STATUSES = (CalloutStatus.ACTIVE, CalloutStatus.FULL)


class Answer(enum.StrEnum):
    ACCEPTED = "accepted"
    DECLINED = "declined"


class Callout(Base):
    __tablename__ = "callout"
    __table_args__ = (
        # The code people reply with names one open call-out; ended ones free it.
        partial_index("uq_callout_code_active", "code", unique=True, where="status = 'active'"),
        Index("ix_callout_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    #: the short number a volunteer may add to their reply ("1 2345")
    code: Mapped[str] = mapped_column(String(8))
    #: the caller's own words, in every text of this call-out
    message: Mapped[str] = mapped_column(Text, default="", server_default="")
    is_urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    #: names of the skills asked for (one of them is enough); empty: anyone
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[CalloutStatus] = mapped_column(String(20), default=CalloutStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]


class CalloutShift(Base):
    __tablename__ = "callout_shift"

    callout_id: Mapped[int] = link_key("callout.id")
    shift_id: Mapped[int] = link_key("shift.id", index=True)


class CalloutRing(Base):
    """Who is texted when: ring 0 at the start, each further ring ``after_minutes`` after
    the start if seats are still free. A ring fires once: ``fired_at`` is set by one
    conditional UPDATE, whoever runs the tick."""

    __tablename__ = "callout_ring"
    __table_args__ = (
        UniqueConstraint("callout_id", "number"),
        # What the tick looks for every minute: rings not yet fired.
        partial_index("ix_callout_ring_due", "fires_at", where="fired_at IS NULL"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    callout_id: Mapped[int] = mapped_column(ForeignKey("callout.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    #: the audience: these teams, or every team in this unit's subtree
    team_ids: Mapped[list[int] | None] = mapped_column(JSON)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"))
    after_minutes: Mapped[int] = mapped_column(Integer, default=0)
    fires_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]
    #: people texted by this ring (not those an earlier ring had texted)
    texted: Mapped[int] = mapped_column(Integer, default=0)


class CalloutRecipient(Base):
    """One person texted by a call-out: at most one row, hence one text, per call-out."""

    __tablename__ = "callout_recipient"
    __table_args__ = (
        UniqueConstraint("callout_id", "person_id"),
        Index("ix_callout_recipient_person_id", "person_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    callout_id: Mapped[int] = mapped_column(ForeignKey("callout.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    ring: Mapped[int] = mapped_column(Integer)
    texted_at: Mapped[datetime]
    answer: Mapped[Answer | None] = mapped_column(String(20))
    answered_at: Mapped[datetime | None]
    #: the signup an acceptance made
    signup_id: Mapped[int | None] = mapped_column(ForeignKey("signup.id", ondelete="SET NULL"))
