"""Fixtures for the SMS provider side: a fake Twilio REST server and a gateway aimed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.sms.domestic_fakes import PROVIDERS, app_on_fake
from volunteer_hub.devtools.fake_twilio import FakeTwilio
from volunteer_hub.devtools.fake_twilio_account import FROM_NUMBER
from volunteer_hub.sms.backends.twilio import TwilioGateway


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    """A fresh fake Twilio on a free 127.0.0.1 port; ``fake_twilio.base_url`` goes into
    TWILIO_API_BASE_URL, ``fake_twilio.app_config()`` gives every TWILIO_* key."""
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def twilio_gateway(fake_twilio: FakeTwilio) -> Iterator[TwilioGateway]:
    """The real Twilio backend, through the real twilio client, talking to the fake."""
    gateway = TwilioGateway(
        account_sid=fake_twilio.account_sid,
        auth_token=fake_twilio.auth_token,
        from_number=FROM_NUMBER,
        api_base_url=fake_twilio.base_url,
        timeout=5,
    )
    yield gateway
    gateway.close()


@pytest.fixture(params=PROVIDERS, ids=[p.name for p in PROVIDERS])
def provider(request, app, monkeypatch, tmp_path):
    """SMS_BACKEND set to each mainland provider in turn, pointed at its local fake:
    ``(Provider, fake)``."""
    with app_on_fake(app, monkeypatch, tmp_path, request.param) as fake:
        yield request.param, fake


# -- the inbound webhook, signed as Twilio signs it ------------------------------------

WEBHOOK_AUTH_TOKEN = "test-auth-token"


@pytest.fixture
def sms_webhook(app):
    """Texts sent to the real ``POST /sms/inbound``, signed with the real
    RequestValidator: ``sms_webhook(client, phone, body)`` returns the reply (the TwiML
    <Message> text, signature included) or None when we answer with nothing."""
    import itertools
    import re
    from xml.sax.saxutils import unescape

    from twilio.request_validator import RequestValidator

    app.extensions["sms_gateway"] = TwilioGateway(
        account_sid="AC" + "0" * 32, auth_token=WEBHOOK_AUTH_TOKEN, from_number=FROM_NUMBER
    )
    sids = itertools.count(1)

    def send(client, phone: str, body: str, sid: str | None = None) -> str | None:
        params = {
            "MessageSid": sid or f"SMhours{next(sids):026d}",
            "From": phone,
            "To": FROM_NUMBER,
            "Body": body,
        }
        signature = RequestValidator(WEBHOOK_AUTH_TOKEN).compute_signature(
            "http://localhost/sms/inbound", params
        )
        response = client.post(
            "/sms/inbound", data=params, headers={"X-Twilio-Signature": signature}
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "application/xml"
        match = re.search(r"<Message>(.*)</Message>", response.get_data(as_text=True), re.S)
        return unescape(match.group(1)) if match else None

    yield send
    app.extensions.pop("sms_gateway", None)
