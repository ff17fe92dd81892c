"""SMS actors. They take row ids, never objects or phone numbers, and are idempotent."""

from __future__ import annotations

import time

import dramatiq
from dramatiq.rate_limits import WindowRateLimiter
from flask import current_app

from volunteer_hub import broker
from volunteer_hub.sms import services
from volunteer_hub.sms.gateway import SmsGateway, TransientSmsError

#: how long an actor waits for a free slot of the send rate before handing the message
#: back to the queue (with backoff) for later
RATE_WAIT_SECONDS = 10


@dramatiq.actor(
    queue_name="sms",
    max_retries=12,
    min_backoff=2_000,
    max_backoff=10 * 60_000,  # retries spread over about an hour, then the sweep takes over
    time_limit=2 * 60_000,
)
def send_sms(outgoing_id: int) -> None:
    _wait_for_send_slot()
    delivery = services.deliver(outgoing_id, gateway())
    if delivery.retry:
        # Dramatiq's Retries middleware sends it again later, with exponential backoff.
        raise TransientSmsError(f"sms {outgoing_id} will be retried")


def gateway() -> SmsGateway:
    """The configured provider backend, built once per app (never at import time)."""
    extensions = current_app.extensions
    if "sms_gateway" not in extensions:
        from volunteer_hub.sms.backends import gateway_for

        extensions["sms_gateway"] = gateway_for(current_app.config)
    return extensions["sms_gateway"]


def _wait_for_send_slot() -> None:
    """Keep every worker process together under SMS_RATE_PER_SECOND, so a call-out to
    thousands never trips the provider's own 429s."""
    limiter = WindowRateLimiter(
        broker.state().rate_limit_backend,
        f"sms-send-rate:{current_app.config['DRAMATIQ_NAMESPACE']}",
        limit=current_app.config["SMS_RATE_PER_SECOND"],
        window=1,
    )
    deadline = time.monotonic() + RATE_WAIT_SECONDS
    while True:
        with limiter.acquire(raise_on_failure=False) as acquired:
            if acquired:
                return
        if time.monotonic() > deadline:
            raise TransientSmsError("send rate exhausted, trying again later")
        time.sleep(0.05)
