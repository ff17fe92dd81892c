"""/ops: what an admin reads about queues, the outbox, the tick and the feeds."""

from __future__ import annotations

import re
from datetime import timedelta

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker

from tests.conftest import login, stop_worker
from volunteer_hub import scheduler
from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.calendar import services as feeds
from volunteer_hub.calendar.models import Feed
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.ops import services
from volunteer_hub.sms.models import OutgoingSms, SmsStatus
from volunteer_hub.sms.tasks import send_sms

_rows = iter(range(1, 10**6))


def text(status: str, *, created: timedelta = timedelta(0), **fields) -> OutgoingSms:
    """An outbox row ``created`` ago, committed."""
    now = utcnow()
    fields.setdefault("to_phone", "+8613800138000")
    row = OutgoingSms(
        body="【退役军人志愿服务】测试",
        kind=fields.pop("kind", "notice"),
        dedupe_key=f"ops-test:{next(_rows)}",
        status=status,
        created_at=now - created,
        **fields,
    )
    db.session.add(row)
    db.session.commit()
    return row


@pytest.fixture
def admin_client(client, make):
    login(client, make.admin())
    return client


def test_only_admins_see_the_page_and_its_link(client, make):
    team = make.team()
    assert client.get("/ops").status_code == 302  # to the login page
    for person in (make.leader(team), make.coordinator(team.unit)):
        login(client, person)
        assert client.get("/ops").status_code == 404
        assert "/ops" not in client.get("/teams").get_data(as_text=True)
        client.post("/logout")
    login(client, make.admin())
    page = client.get("/teams").get_data(as_text=True)
    assert 'href="/ops"' in page
    assert client.get("/ops").status_code == 200


def test_queue_depths_count_waiting_delayed_and_dead_messages(broker, app):
    send_sms.send(1)
    send_sms.send(2)
    send_sms.send_with_options(args=(3,), delay=3_600_000)

    def always_fails():
        raise RuntimeError("boom")

    failing = dramatiq.actor(
        always_fails, actor_name="ops_test_fails", queue_name="ops-test", max_retries=0
    )
    failing.send()
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=50, queues={"ops-test"})
    worker.start()
    try:
        # the in-process broker would re-raise the failure here; Redis has no such option
        options = {"fail_fast": False} if isinstance(broker, StubBroker) else {}
        broker.join("ops-test", **options)
    finally:
        stop_worker(broker, worker)

    depths = {q.name: q for q in services.queue_depths(broker)}
    assert (depths["sms"].waiting, depths["sms"].delayed, depths["sms"].dead) == (2, 1, 0)
    assert (depths["ops-test"].waiting, depths["ops-test"].dead) == (0, 1)
    assert depths["feeds"].waiting == 0


def test_outbox_counts_by_status_over_the_last_day():
    for status in ("sent", "sent", "delivered", "failed"):
        text(status, created=timedelta(hours=2))
    text("sent", created=timedelta(hours=25))  # outside the window

    now = utcnow()
    counts = services.outbox_counts(now - timedelta(hours=24), now)

    assert counts["sent"] == 2
    assert counts["delivered"] == 1
    assert counts["failed"] == 1
    assert counts["queued"] == 0
    assert set(counts) == {s.value for s in SmsStatus} | {"held"}


def test_failed_texts_show_the_provider_error_and_a_masked_number(admin_client):
    text(
        "undelivered",
        created=timedelta(hours=1),
        error_code="30003",
        error_message="Unreachable destination handset",
        status_changed_at=utcnow() - timedelta(minutes=50),
    )
    text("failed", created=timedelta(hours=30), error_code="30005")  # too old to list

    page = admin_client.get("/ops").get_data(as_text=True)

    assert "138****8000" in page
    assert "13800138000" not in page and "138 0013 8000" not in page
    assert "30003" in page and "Unreachable destination handset" in page
    assert "30005" not in page
    assert "未送达" in page


def test_stuck_texts_by_the_limits_the_tick_uses():
    now = utcnow()
    text("queued", created=timedelta(minutes=5))
    text("queued", created=timedelta(seconds=30))  # just queued: not stuck
    text("queued", created=timedelta(hours=3), send_after=now + timedelta(hours=1))  # held
    text("sending", created=timedelta(minutes=30), claimed_at=now - timedelta(minutes=15))
    text("sending", created=timedelta(minutes=3), claimed_at=now - timedelta(minutes=2))
    text("review", created=timedelta(hours=2))

    stuck = services.stuck_texts(now)

    assert (stuck.queued, stuck.sending, stuck.review) == (1, 1, 1)
    assert abs(stuck.oldest_queued - (now - timedelta(minutes=5))) < timedelta(seconds=5)
    assert abs(stuck.oldest_sending - (now - timedelta(minutes=15))) < timedelta(seconds=5)


def test_the_page_shows_when_the_tick_last_ran(admin_client, broker):
    before = utcnow()
    scheduler.tick()
    after = utcnow()

    assert before <= services.last_tick(broker) <= after
    page = admin_client.get("/ops?lang=en").get_data(as_text=True)
    assert "Last run" in page
    assert "0 minutes ago" in page
    assert "Not on time" not in page


def test_feed_lag_from_the_oldest_stale_feed(make):
    team = make.team()
    admin = viewer_for(make.admin())
    made = [feeds.create_feed("team", team.id, [], admin).feed for _ in range(4)]
    db.session.commit()
    now = utcnow()
    made[0].stale_since = now - timedelta(minutes=25)
    made[0].built_at = now - timedelta(hours=1)
    made[1].stale_since = now - timedelta(minutes=1)
    made[1].built_at = now - timedelta(minutes=30)
    made[2].revoked_at = now
    made[2].stale_since = now - timedelta(days=2)  # revoked: not owed
    db.session.commit()

    lag = services.feed_lag(now)

    assert (lag.stale, lag.overdue) == (3, 1)  # made[3] is owed its first build
    assert timedelta(minutes=24) < lag.lag < timedelta(minutes=26)
    assert lag.never_built == 1  # made[3]
    assert abs(lag.last_built - (now - timedelta(minutes=30))) < timedelta(seconds=5)
    assert db.session.query(Feed).count() == 4


def test_the_page_in_english_reads_on_a_phone(admin_client, count_queries):
    text("failed", created=timedelta(minutes=10), error_message="Carrier violation")
    text("queued", created=timedelta(minutes=10))

    with count_queries() as counter:
        response = admin_client.get("/ops?lang=en")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    for heading in ("Operations", "Task queues", "Texts in the last 24 hours", "Stuck texts"):
        assert heading in page
    assert "Queued more than 2 minutes: 1" in page
    assert "Carrier violation" in page
    assert 'name="viewport"' in page
    assert not re.search(r"[\u4e00-\u9fff]", _main(page)), "untranslated text on the page"
    assert counter.count <= 10, counter.statements


def _main(page: str) -> str:
    """The page's own content, without the nav (the language switch says 中文)."""
    return page.split('<main id="main" class="wrap">', 1)[1]
