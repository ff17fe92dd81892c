"""Fixtures for the SMS provider side: a fake Twilio REST server and a gateway aimed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from volunteer_hub.devtools.fake_twilio import FROM_NUMBER, FakeTwilio
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
