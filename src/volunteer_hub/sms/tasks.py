"""SMS actors. They take row ids, never objects or phone numbers, and are idempotent."""

from __future__ import annotations

import functools
import random
import time

import dramatiq
from dramatiq.rate_limits import BucketRateLimiter, ConcurrentRateLimiter
from flask import current_app

from volunteer_hub import broker
from volunteer_hub.sms import services
from volunteer_hub.sms.backends import backend_for, gateway_named, sender_identity
from volunteer_hub.sms.gateway import TransientSmsError

#: how long an actor waits for a free slot of the send rate before handing the message
#: back to the queue (with backoff) for later
RATE_WAIT_SECONDS = 10
#: the shortest slice of time the send rate is spread over
PACING_SLICE_MS = 100


@dramatiq.actor(
    queue_name="sms",
    max_retries=12,
    min_backoff=2_000,
    max_backoff=10 * 60_000,  # retries spread over about an hour, then the sweep takes over
    time_limit=2 * 60_000,
)
def send_sms(outgoing_id: int) -> None:
    # The slot is taken before the row is claimed (see services.deliver): if Redis is
    # away, the text stays queued instead of stranded in "sending".
    backend = backend_for(current_app.config, services.destination(outgoing_id))  # SMS_ROUTES
    pace = functools.partial(_wait_for_send_slot, backend)
    delivery = services.deliver(outgoing_id, gateway_named(backend), pace=pace)
    if delivery.retry:
        # Dramatiq's Retries middleware sends it again later, with exponential backoff.
        raise TransientSmsError(f"sms {outgoing_id} will be retried")


def send_pacing(rate_per_second: int) -> tuple[int, int]:
    """(texts, milliseconds): how many texts may start in each short slice of time.

    Whole-second buckets let a full second's worth out at the end of one second and
    again at the start of the next: twice the rate within a moment, which a provider
    metering over a sliding second answers with 429. Slices of about 100 ms spread the
    rate evenly: the smallest whole number of texts per slice that keeps slices at
    least PACING_SLICE_MS long. No slice-aligned second exceeds the rate, and a sliding
    second holds at most one slice's share more.
    """
    rate = max(1, rate_per_second)
    per_slice = -(-rate * PACING_SLICE_MS // 1000)  # ceil
    slice_ms = -(-per_slice * 1000 // rate)  # ceil: rounding may only slow us down
    return per_slice, slice_ms


def send_rate(config, backend: str) -> int:
    """Texts per second ``backend`` may take: its SMS_BACKEND_RATES entry, else
    SMS_RATE_PER_SECOND."""
    return (config.get("SMS_BACKEND_RATES") or {}).get(backend) or config["SMS_RATE_PER_SECOND"]


def _wait_for_send_slot(backend: str | None = None) -> None:
    """Keep every worker process together under ``backend``'s send rate (default:
    SMS_BACKEND's), so a call-out to thousands never trips the provider's own 429s.
    Taken just before the claim and the hand-over, so what the provider sees is as
    evenly spaced as we can make it. Raises TransientSmsError when no slot frees up in
    time, and whatever the rate-limit backend raises (Redis unreachable): the caller has
    claimed nothing yet."""
    config = current_app.config
    backend = backend or backend_for(config, None)
    # Providers meter per backend and sender (number, account, app): so do we.
    per_slice, slice_ms = send_pacing(send_rate(config, backend))
    limiter = BucketRateLimiter(
        broker.state().rate_limit_backend,
        f"sms-send-rate:{config['DRAMATIQ_NAMESPACE']}:{backend}:{sender_identity(config, backend)}",
        limit=per_slice,
        bucket=slice_ms,
    )
    deadline = time.monotonic() + RATE_WAIT_SECONDS
    while True:
        with limiter.acquire(raise_on_failure=False) as acquired:
            if acquired:
                return
        if time.monotonic() > deadline:
            raise TransientSmsError("send rate exhausted, trying again later", code="send-rate")
        # Until the next slice opens (plus a little, so the workers do not all collide).
        now_ms = time.time() * 1000
        time.sleep((slice_ms - now_ms % slice_ms) / 1000 + random.uniform(0, 0.01))


@dramatiq.actor(
    queue_name="sms",
    max_retries=12,
    min_backoff=2_000,
    max_backoff=10 * 60_000,
    # a batch waits for one send slot per text: 200 texts at 10/s take 20 s before the call
    time_limit=5 * 60_000,
)
def send_sms_batch(outgoing_ids: list[int]) -> None:
    """The texts of one broadcast or call-out, one backend and one template, in one
    provider call (``sms.batches``); for a backend without batches, a ``send_sms``
    message for each. Idempotent: a redelivery sends only rows still queued."""
    from volunteer_hub.sms import batches

    # One route per batch (enqueue_sends grouped the rows by backend).
    backend = backend_for(current_app.config, batches.destination(outgoing_ids))
    gateway = gateway_named(backend)
    if batches.batch_size(gateway) == 0:
        batches.fan_out(outgoing_ids)  # each claims its row: a redelivery sends nothing twice
        return
    pace = functools.partial(_wait_for_send_slots, backend)
    delivery = batches.deliver_batch(outgoing_ids, gateway, pace=pace)
    if delivery.waiting and not delivery.paused:
        # The rows still queued go again later, with backoff; the others are done.
        raise TransientSmsError(f"sms batch: {delivery.waiting} texts will be retried")


#: how long a batch waits for its turn to take send slots before going back to the queue
BATCH_TURN_WAIT_SECONDS = 120


def _wait_for_send_slots(backend: str, texts: int) -> None:
    """A batch's slots of ``backend``'s send rate, one per text, taken by one batch at a
    time across every worker process: batches taking slots side by side would all fill
    up together and reach the provider in one burst. Raises TransientSmsError when the
    turn does not come in time, and whatever the rate-limit backend raises."""
    config = current_app.config
    rate = max(1, send_rate(config, backend))
    turn = ConcurrentRateLimiter(
        broker.state().rate_limit_backend,
        f"sms-batch-turn:{config['DRAMATIQ_NAMESPACE']}:{backend}",
        limit=1,
        # released at once normally; a holder that died frees it after its slots' time
        ttl=int(texts / rate * 1000) + 30_000,
    )
    deadline = time.monotonic() + BATCH_TURN_WAIT_SECONDS
    while True:
        with turn.acquire(raise_on_failure=False) as acquired:
            if acquired:
                for _ in range(texts):
                    _wait_for_send_slot(backend)
                return
        if time.monotonic() > deadline:
            raise TransientSmsError("no turn for the batch, trying again later", code="send-rate")
        time.sleep(PACING_SLICE_MS / 1000 + random.uniform(0, 0.01))
