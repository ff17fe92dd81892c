import threading

import pytest

from tests.sms.conftest import fake_twilio, twilio_gateway  # noqa: F401  (shared fixtures)
from volunteer_hub.sms import services
from volunteer_hub.sms.gateway import SendResult
from volunteer_hub.sms.templates import render


class RecordingProvider:
    """A stand-in for the SMS provider (outside our code): records every hand-over and
    can be scripted to fail. The real Twilio backend is tested against a fake REST server."""

    name = "recording"

    def __init__(self):
        self.sent: list[tuple[str, str]] = []
        self.failures: list[Exception] = []
        self._lock = threading.Lock()

    def fail_next(self, *errors: Exception) -> None:
        self.failures.extend(errors)

    def send(self, to, body, *, status_callback=None):
        with self._lock:
            if self.failures:
                raise self.failures.pop(0)
            self.sent.append((to, body))
            return SendResult(provider_sid=f"REC{len(self.sent):06d}", status="sent")

    def delivery_status(self, provider_status):
        return provider_status

    def verify_webhook(self, url, params, signature):
        return True


@pytest.fixture
def provider(app):
    recording = RecordingProvider()
    app.extensions["sms_gateway"] = recording
    yield recording
    app.extensions.pop("sms_gateway", None)


def queue_urgent_broadcast(people, key: str) -> None:
    """One urgent broadcast text to each of ``people`` (dedupe keys ``key:<person id>``),
    queued in the session; the caller commits."""
    for person in people:
        services.queue_text(
            to_phone=person.phone,
            text=render(
                "broadcast_one",
                title="紧急集合",
                when="12月1日 08:00",
                place="江堤二号闸口",
                code="1234",
            ),
            kind="broadcast",
            dedupe_key=f"{key}:{person.id}",
            person_id=person.id,
            is_urgent=True,
        )
