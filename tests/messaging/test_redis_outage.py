"""A Redis blip while texts go out: the send rate lives in Redis, and a text that could
not get a slot was never handed over, so it waits in the queue (never "sending", never
flagged for review) and, once Redis is back, goes out exactly once.

Against a private redis-server on a free port for the rate limiter, which the test stops
and starts (never the shared one), and the real Twilio backend talking to the fake
Twilio, which counts what arrived. Without redis-server the test skips, unless
VH_REQUIRE_SERVERS=1.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import timedelta

import dramatiq
import pytest
import redis
from dramatiq.rate_limits.backends import RedisBackend
from sqlalchemy import select

from tests.conftest import stop_worker
from tests.messaging.conftest import queue_urgent_broadcast
from volunteer_hub import scheduler
from volunteer_hub.db import utcnow
from volunteer_hub.devtools.servers import RedisServer, ServerUnavailable
from volunteer_hub.extensions import db
from volunteer_hub.sms.models import OutgoingSms
from volunteer_hub.sms.tasks import send_sms


@pytest.fixture
def rate_limit_redis(app, tmp_path, monkeypatch):
    """The send rate's counters in a private Redis (the broker stays where it was)."""
    try:
        server = RedisServer(tmp_path / "redis")
    except ServerUnavailable as exc:
        if os.environ.get("VH_REQUIRE_SERVERS"):
            pytest.fail(f"{exc} (VH_REQUIRE_SERVERS is set: this test must run)")
        pytest.skip(str(exc))
    server.start()
    client = redis.Redis.from_url(server.url(), socket_timeout=5, socket_connect_timeout=5)
    monkeypatch.setattr(
        app.extensions["dramatiq"], "rate_limit_backend", RedisBackend(client=client)
    )
    try:
        yield server
    finally:
        server.stop()
        client.close()


def _rows():
    db.session.expire_all()
    return db.session.scalars(select(OutgoingSms).order_by(OutgoingSms.id)).all()


def test_texts_wait_out_a_redis_outage_and_are_sent_once(
    app, make, broker, fake_twilio, twilio_gateway, rate_limit_redis
):
    app.extensions["sms_gateway"] = twilio_gateway
    people = [make.person() for _ in range(4)]
    queue_urgent_broadcast(people, "outage")
    db.session.commit()  # their actors' messages wait in the broker, for the worker below

    # The outage: the actor runs for each text (called here as a worker thread would).
    rate_limit_redis.stop()
    raised = []
    for row in _rows():
        with pytest.raises(Exception) as failure:
            send_sms(row.id)
        raised.append(type(failure.value).__name__)

    rows = _rows()
    assert [row.status for row in rows] == ["queued"] * 4, [row.error_message for row in rows]
    assert raised == ["TransientSmsError"] * 4  # Dramatiq retries it, with backoff
    assert {(row.attempts, row.claimed_at, row.error_code) for row in rows} == {
        (0, None, "ConnectionError")
    }
    assert fake_twilio.requests == 0

    # The minute's tick, still during the outage: nothing to flag, all to send again.
    during = scheduler.tick(now=utcnow() + timedelta(minutes=15))
    assert (during.requeued_texts, during.flagged_texts) == (4, 0)

    rate_limit_redis.start()  # the same port, empty
    after = scheduler.tick(now=utcnow() + timedelta(minutes=30))
    assert after.flagged_texts == 0
    db.session.rollback()  # SQLite: the worker must not wait for our read transaction
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    try:
        broker.join("sms", timeout=60_000)  # the first messages and both sweeps'
        worker.join()
    finally:
        stop_worker(broker, worker)

    assert Counter(m["to"] for m in fake_twilio.messages) == {p.phone: 1 for p in people}
    assert fake_twilio.requests == 4
    rows = _rows()
    assert {(row.status, row.attempts) for row in rows} == {("sent", 1)}
    assert sorted(row.provider_sid for row in rows) == sorted(
        m["sid"] for m in fake_twilio.messages
    )
