from tests.sms.conftest import fake_twilio, twilio_gateway  # noqa: F401  (shared fixtures)
