from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from volunteer_hub.db import Base, utcnow


class SmsStatus(enum.StrEnum):
    QUEUED = "queued"  # committed, waiting for a worker
    SENDING = "sending"  # claimed by a worker, handed (or being handed) to the provider
    SENT = "sent"  # accepted by the provider
    DELIVERED = "delivered"  # the provider says the handset has it
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    CANCELLED = "cancelled"  # not sent on purpose: opted out, signup gone, too late
    REVIEW = "review"  # stuck in sending: a person decides, it is never sent blindly again


#: how far along a message is; a status callback may only move it up this ladder
STATUS_RANK = {
    SmsStatus.QUEUED: 0,
    SmsStatus.SENDING: 1,
    SmsStatus.REVIEW: 2,
    SmsStatus.SENT: 3,
    SmsStatus.UNDELIVERED: 4,
    SmsStatus.FAILED: 4,
    SmsStatus.DELIVERED: 5,
    SmsStatus.CANCELLED: 6,
}


class SmsKind(enum.StrEnum):
    REPLY = "reply"  # the one answer to an inbound text
    NOTICE = "notice"  # sign-up confirmed, promoted, cancelled, changed
    REMINDER = "reminder"
    BROADCAST = "broadcast"  # a leader's call-out to the team
    LOGIN_CODE = "login_code"
    OPT_OUT_CONFIRMATION = "opt_out_confirmation"  # the only text an opted-out person gets


class OutgoingSms(Base):
    """The outbox: every text we send is a row first, committed before any worker sees it."""

    __tablename__ = "outgoing_sms"
    __table_args__ = (
        # What the sweeps look for; most rows are finished and stay out of this index.
        Index(
            "ix_outgoing_sms_unfinished",
            "status",
            "created_at",
            postgresql_where=text("status IN ('queued', 'sending')"),
            sqlite_where=text("status IN ('queued', 'sending')"),
        ),
        Index("ix_outgoing_sms_person_id_created_at", "person_id", "created_at"),
        # The per-recipient caps count a number's texts by when they were claimed.
        Index("ix_outgoing_sms_to_phone_claimed_at", "to_phone", "claimed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    #: E.164; kept on the row because replies go to numbers we do not know yet
    to_phone: Mapped[str] = mapped_column(String(20))
    #: the complete text as sent, signature included
    body: Mapped[str] = mapped_column(Text)
    #: the catalogue key (sms/catalogue.py) and the variables as sent: what a template
    #: backend (Aliyun, Tencent) sends instead of the body; NULL on rows from before
    template_key: Mapped[str | None] = mapped_column(String(60))
    template_vars: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    kind: Mapped[SmsKind] = mapped_column(String(30))
    #: what makes two attempts the same message, e.g. "reminder:41:24h:2026-12-01T00:00Z"
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[SmsStatus] = mapped_column(String(20), default=SmsStatus.QUEUED)
    #: urgent call-outs (flood duty) skip quiet hours and the daily cap
    is_urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: not to be handed over before this time (quiet hours); NULL means at once
    send_after: Mapped[datetime | None]
    #: not to be handed over after this time (a reminder past its window is dropped)
    expires_at: Mapped[datetime | None]
    #: the signup a reminder or notice is about; checked again just before sending
    signup_id: Mapped[int | None] = mapped_column(
        ForeignKey("signup.id", ondelete="SET NULL"), index=True
    )
    #: the shift start a reminder was written for: if the shift moved, it is stale
    shift_starts_at: Mapped[datetime | None]
    #: the leader's call-out this text belongs to
    broadcast_id: Mapped[int | None] = mapped_column(
        ForeignKey("broadcast.id", ondelete="SET NULL"), index=True
    )
    segments: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    #: how many times a worker claimed it
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    provider: Mapped[str | None] = mapped_column(String(20))
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    error_code: Mapped[str | None] = mapped_column(String(20))
    error_message: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    status_changed_at: Mapped[datetime | None]


class InboundSms(Base):
    """Every text we receive, recorded by the provider's message id before it is acted on."""

    __tablename__ = "inbound_sms"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the provider's id (Twilio MessageSid): a replayed webhook finds its row and stops
    message_sid: Mapped[str] = mapped_column(String(64), unique=True)
    from_phone: Mapped[str] = mapped_column(String(20), index=True)
    to_phone: Mapped[str] = mapped_column(String(20), default="", server_default="")
    body: Mapped[str] = mapped_column(Text, default="", server_default="")
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    #: the parsed command kind (sign_up, opt_out, unknown …)
    command: Mapped[str | None] = mapped_column(String(30))
    reply_id: Mapped[int | None] = mapped_column(ForeignKey("outgoing_sms.id", ondelete="SET NULL"))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsentChange(Base):
    """Each opt-out and opt-in, with when and through which channel: the record a carrier
    or a regulator asks for."""

    __tablename__ = "consent_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    opted_in: Mapped[bool] = mapped_column(Boolean)
    #: sms / web / leader / provider (the carrier told us, e.g. Twilio 21610)
    channel: Mapped[str] = mapped_column(String(20))
    #: the word the person texted, if any (TD, 退订, STOP …)
    keyword: Mapped[str | None] = mapped_column(String(30))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class OptedOutNumber(Base):
    """A number no person had that texted an opt-out word (TD, 退订, STOP …): carriers
    require the stop for the number, so it holds until the number opts back in. Every
    text to it is refused where it is queued and again before its hand-over; a person
    given the number (a new member, a roster row, a sign-up, a phone change) starts
    opted out since then, with the change in their ``ConsentChange`` record
    (``sms.number_opt_outs``). An opt-in of the number, or of a person who has it, and
    the erasure of that person forget the row."""

    __tablename__ = "opted_out_number"

    #: E.164, as the webhook normalised the sender
    phone: Mapped[str] = mapped_column(String(20), primary_key=True)
    opted_out_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: sms (texted) or provider (the carrier told us)
    channel: Mapped[str] = mapped_column(String(20))
    #: the word texted (TD, 退订, STOP …), as ``ConsentChange.keyword``
    keyword: Mapped[str | None] = mapped_column(String(30))


class Broadcast(Base):
    """A leader's call-out of an event to the team: who sent it, and what became of it."""

    __tablename__ = "broadcast"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    #: urgent call-outs (flood duty) skip quiet hours and the daily cap
    is_urgent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    body: Mapped[str] = mapped_column(Text)
    #: texts queued now / held until quiet hours end / not sent (cap reached, opted out)
    queued_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    held_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    skipped_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
