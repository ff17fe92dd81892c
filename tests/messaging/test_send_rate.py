"""The send rate: many workers together stay under the provider's limit."""

import dramatiq
import pytest
from sqlalchemy import func, select

from tests.conftest import stop_worker
from tests.messaging.conftest import queue_urgent_broadcast
from volunteer_hub.extensions import db
from volunteer_hub.sms.models import OutgoingSms, SmsStatus
from volunteer_hub.sms.tasks import send_pacing


@pytest.mark.parametrize("rate", [1, 5, 7, 10, 15, 18, 25, 100, 1000])
def test_pacing_never_exceeds_the_rate_and_keeps_most_of_it(rate):
    per_slice, slice_ms = send_pacing(rate)
    per_second = per_slice * 1000 / slice_ms
    assert per_second <= rate
    assert per_second >= rate * 0.95
    assert slice_ms >= 100


@pytest.mark.slow
def test_a_burst_through_eight_threads_never_meets_a_429(
    app, make, broker, fake_twilio, twilio_gateway, monkeypatch
):
    """The fake answers 429 beyond 20 accepted texts in any sliding second; the app is
    set to 12/s, the margin an operator leaves for network jitter. Without pacing (or
    with whole-second buckets, which allow 12 + 12 within a moment) eight hungry threads
    trip it."""
    fake_twilio.max_per_second = 20
    monkeypatch.setitem(app.config, "SMS_RATE_PER_SECOND", 12)
    app.extensions["sms_gateway"] = twilio_gateway
    people = [make.person() for _ in range(40)]
    queue_urgent_broadcast(people, "burst")
    db.session.commit()

    worker = dramatiq.Worker(broker, worker_threads=8, worker_timeout=50)
    worker.start()
    try:
        broker.join("sms", timeout=60_000)
        worker.join()
    finally:
        stop_worker(broker, worker)

    assert fake_twilio.statuses[429] == 0
    assert sorted(m["to"] for m in fake_twilio.messages) == sorted(p.phone for p in people)
    db.session.expire_all()
    assert db.session.scalar(
        select(func.count()).select_from(OutgoingSms).where(OutgoingSms.status == SmsStatus.SENT)
    ) == len(people)
