"""Provider webhooks: ``POST /sms/inbound`` (a text arrives) and ``POST /sms/status``
(a delivery report), from Twilio: signed, and an unsigned or wrongly signed request is
refused with 403 and changes nothing. And the mainland providers' pushes,
``POST /sms/inbound/<provider>/<secret>`` and ``/sms/status/<provider>/<secret>``
(Aliyun, Tencent Cloud): unsigned, so believed by SMS_INBOUND_SECRET in the URL; a wrong
secret or an unknown provider is 404 and changes nothing, and so is a push from an
address outside SMS_PUSH_ALLOWED_IPS when that is set (the client address as the trusted
proxies forwarded it, TRUSTED_PROXY_HOPS)."""

from __future__ import annotations

import hmac
import ipaddress
import logging
from xml.sax.saxutils import escape

from flask import Blueprint, Response, abort, current_app, request

from volunteer_hub.config import parse_networks
from volunteer_hub.extensions import csrf, limiter
from volunteer_hub.sms import services
from volunteer_hub.sms.backends import push_reader, webhook_gateway
from volunteer_hub.sms.inbound import handle_inbound
from volunteer_hub.sms.push import DeliveryReport, InboundText

log = logging.getLogger(__name__)

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
    return _twiml(result.reply)


@bp.post("/status")
@limiter.exempt
def status():
    _require_signature()
    form = request.form
    ours = webhook_gateway().delivery_status(form.get("MessageStatus") or "")
    if ours is not None:  # None: a word of the provider's we do not follow
        services.record_delivery_report(_message_sid(form), ours, form.get("ErrorCode"))
    return Response(status=204)


#: the URL's word → the backend's push kind
_PUSH_KINDS = {"inbound": "inbound", "status": "report"}


@bp.post("/<any(inbound, status):kind>/<provider>/<secret>")
@limiter.exempt
def push(kind: str, provider: str, secret: str):
    """A mainland provider's batch of replies or delivery reports (JSON). Each reply is
    recorded once (a replay changes nothing) and answered by an outbox text; each report
    moves its text's status forward only."""
    expected = current_app.config.get("SMS_INBOUND_SECRET") or ""
    # Constant time: the secret is the only thing that proves a push comes from the provider.
    if not expected or not hmac.compare_digest(secret.encode(), expected.encode()):
        abort(404)
    if not _from_allowed_address():
        # Logged without the URL: its path is the secret. The right secret from another
        # address: a leaked secret, or the provider pushing from new addresses.
        log.warning(
            "sms %s push of %s refused: %s is not in SMS_PUSH_ALLOWED_IPS",
            kind,
            provider,
            request.remote_addr,
        )
        abort(404)
    reader = push_reader(provider)
    if reader is None:
        abort(404)
    payload = request.get_json(force=True, silent=True)
    try:
        items = reader.parse_push(_PUSH_KINDS[kind], payload)
    except ValueError:
        abort(400)
    for item in items:
        if isinstance(item, InboundText):
            _take_in(provider, item)
        elif isinstance(item, DeliveryReport):
            services.record_delivery_report(item.provider_sid, item.status, item.error_code)
    body, status_code = reader.push_ack(_PUSH_KINDS[kind])
    return body, status_code


def _from_allowed_address() -> bool:
    allowed = current_app.config.get("SMS_PUSH_ALLOWED_IPS") or ()
    if isinstance(allowed, str):  # set after start-up, as the environment spells it
        allowed = parse_networks("SMS_PUSH_ALLOWED_IPS", allowed)
    if not allowed:
        return True
    try:
        address = ipaddress.ip_address(request.remote_addr or "")
    except ValueError:
        return False
    if getattr(address, "ipv4_mapped", None):  # ::ffff:1.2.3.4 from a dual-stack socket
        address = address.ipv4_mapped
    return any(address in network for network in allowed)


def _take_in(provider: str, text: InboundText) -> None:
    message_sid = f"{provider}:{text.provider_message_id}"
    result = handle_inbound(
        message_sid=message_sid, from_phone=text.from_phone, to_phone=text.to, body=text.body
    )
    if result.reply is not None:
        services.send_reply_by_outbox(message_sid)


def _require_signature() -> None:
    signature = request.headers.get("X-Twilio-Signature")
    # Signed over the parameters as sent; the handlers then read the cleaned ``form``
    # (volunteer_hub.boundary), so a text with a NUL in it is answered, not refused.
    if not signature or not webhook_gateway().verify_webhook(
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
