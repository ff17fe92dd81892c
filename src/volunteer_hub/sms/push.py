"""What a domestic SMS provider pushes to us, in our words.

Aliyun and Tencent Cloud do not call a webhook per message the way Twilio does: they push
batches of replies (上行短信) and delivery reports (状态报告) as JSON, each in its own shape.
A backend's ``parse_push(kind, payload)`` turns one push into these two types, so the
view and the services that record them never see a provider's field names or status words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class InboundText:
    """A text a volunteer sent to us."""

    #: the provider's id for this message, unique per provider: a replay carries the same id
    provider_message_id: str
    #: the sender in E.164 (+86…)
    from_phone: str
    #: what the text was sent to: our sign name or the extension code (码号) it replied to
    to: str
    body: str
    #: when the provider received it, timezone-aware UTC
    received_at: datetime


@dataclass(frozen=True)
class DeliveryReport:
    """The fate of one text we sent."""

    #: the ``SendResult.provider_sid`` the backend returned for that text
    provider_sid: str
    #: the recipient in E.164 (+86…)
    to: str
    #: our status word: "delivered", "failed" or "undelivered"
    status: str
    #: the provider's own code for the outcome (kept for the operator), None when delivered
    error_code: str | None
    #: when the carrier reported it, timezone-aware UTC
    reported_at: datetime
