"""Provider webhooks: ``POST /sms/inbound`` (a text arrives) and ``POST /sms/status``
(a delivery report). Both are signed by the provider; an unsigned or wrongly signed
request is refused with 403 and changes nothing."""

from __future__ import annotations

from xml.sax.saxutils import escape

from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy import select

from volunteer_hub.db import utcnow
from volunteer_hub.extensions import csrf, db, limiter
from volunteer_hub.sms.inbound import handle_inbound
from volunteer_hub.sms.models import STATUS_RANK, OutgoingSms, SmsStatus
from volunteer_hub.sms.tasks import gateway

bp = Blueprint("sms", __name__, url_prefix="/sms")
csrf.exempt(bp)


@bp.post("/inbound")
@limiter.exempt
def inbound():
    _require_signature()
    form = request.form
    result = handle_inbound(
        message_sid=form.get("MessageSid") or form.get("SmsSid") or "",
        from_phone=form.get("From", ""),
        to_phone=form.get("To", ""),
        body=form.get("Body", ""),
    )
    db.session.commit()
    return _twiml(result.reply)


@bp.post("/status")
@limiter.exempt
def status():
    _require_signature()
    sid = request.form.get("MessageSid") or request.form.get("SmsSid") or ""
    ours = gateway().delivery_status(request.form.get("MessageStatus") or "")
    row = db.session.scalar(select(OutgoingSms).where(OutgoingSms.provider_sid == sid))
    if row is not None and ours is not None:
        new = SmsStatus(ours)
        # Reports arrive out of order; a message's status never moves backwards.
        if STATUS_RANK[new] > STATUS_RANK[SmsStatus(row.status)]:
            row.status = new
            row.status_changed_at = utcnow()
            if new in (SmsStatus.FAILED, SmsStatus.UNDELIVERED):
                row.error_code = (request.form.get("ErrorCode") or None) and request.form[
                    "ErrorCode"
                ][:20]
            db.session.commit()
    return Response(status=204)


def _require_signature() -> None:
    signature = request.headers.get("X-Twilio-Signature")
    # Signed over the parameters as sent; the handlers then read the cleaned ``form``
    # (volunteer_hub.boundary), so a text with a NUL in it is answered, not refused.
    if not signature or not gateway().verify_webhook(
        _public_url(), request.raw_form.to_dict(), signature
    ):
        abort(403)


def _public_url() -> str:
    """The URL the provider signed: behind a proxy, the public origin, not ours."""
    base = current_app.config.get("PUBLIC_BASE_URL")
    if not base:
        return request.url
    query = request.query_string.decode()
    return f"{base}{request.path}" + (f"?{query}" if query else "")


def _twiml(reply: str | None) -> Response:
    message = f"<Message>{escape(reply)}</Message>" if reply else ""
    body = f'<?xml version="1.0" encoding="UTF-8"?><Response>{message}</Response>'
    return Response(body, mimetype="application/xml")
