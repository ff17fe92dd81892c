"""Fixtures for the reminder tests: the SMS provider stand-ins of tests/messaging and
tests/sms (a recording provider; the real Twilio client against a local fake)."""

from tests.messaging.conftest import provider  # noqa: F401  (shared fixture)
from tests.sms.conftest import fake_twilio, twilio_gateway  # noqa: F401  (shared fixtures)
