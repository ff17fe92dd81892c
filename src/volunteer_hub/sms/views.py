"""Provider webhooks: ``POST /sms/inbound`` (a text arrives) and ``POST /sms/status``
(a delivery report). Both are signed by the provider; an unsigned or wrongly signed
request is refused with 403 and changes nothing."""

from __future__ import annotations

from xml.sax.saxutils import escape

from flask import Blueprint, Response, abort, current_app, request

from volunteer_hub.extensions import csrf, db, limiter
from volunteer_hub.sms import services
from volunteer_hub.sms.backends import current_gateway
from volunteer_hub.sms.inbound import handle_inbound

bp = Blueprint("sms", __name__, url_prefix="/sms")
csrf.exempt(bp)


@bp.post("/inbound")
@limiter.exempt
def inbound():
    _require_signature()
    form = request.form
    result = handle_inbound(
        message_sid=_message_sid(form),
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
    form = request.form
    ours = current_gateway().delivery_status(form.get("MessageStatus") or "")
    if ours is not None:  # None: a word of the provider's we do not follow
        services.record_delivery_report(_message_sid(form), ours, form.get("ErrorCode"))
    db.session.commit()
    return Response(status=204)


def _require_signature() -> None:
    signature = request.headers.get("X-Twilio-Signature")
    # Signed over the parameters as sent; the handlers then read the cleaned ``form``
    # (volunteer_hub.boundary), so a text with a NUL in it is answered, not refused.
    if not signature or not current_gateway().verify_webhook(
        _public_url(), request.raw_form.to_dict(), signature
    ):
        abort(403)


def _message_sid(form) -> str:
    # Twilio still sends the older SmsSid beside MessageSid; either names the message.
    return form.get("MessageSid") or form.get("SmsSid") or ""


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
