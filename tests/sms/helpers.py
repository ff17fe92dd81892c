"""Shared helpers of the tests that drive the inbound-text handler and the send actor
directly."""

from __future__ import annotations

from sqlalchemy import select

from volunteer_hub.extensions import db
from volunteer_hub.sms import services
from volunteer_hub.sms.backends import current_gateway
from volunteer_hub.sms.inbound import InboundResult, handle_inbound
from volunteer_hub.sms.models import InboundSms, OutgoingSms, SmsStatus


def texted(phone: str, body: str, sid: str) -> InboundResult:
    """``body`` texted from ``phone`` as provider message ``sid``, then committed."""
    result = handle_inbound(message_sid=sid, from_phone=phone, to_phone="+10000", body=body)
    db.session.commit()
    return result


def inbound_row(sid: str) -> InboundSms:
    """The inbound row of provider message ``sid``."""
    return db.session.scalar(select(InboundSms).where(InboundSms.message_sid == sid))


def deliver_all() -> None:
    """What the send actor does for each queued row (the worker, run inline)."""
    for row_id in db.session.scalars(
        select(OutgoingSms.id).where(OutgoingSms.status == SmsStatus.QUEUED)
    ).all():
        services.deliver(row_id, current_gateway(services.destination(row_id)))
