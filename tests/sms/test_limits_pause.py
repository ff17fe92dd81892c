"""A provider with an empty balance pauses its backend: every worker sees the pause (in
Redis, or the app in embedded mode), texts wait queued instead of failing or hammering
the provider, and an operator's resume sends them. Through the real SDKs to the fakes."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import select

from tests.other_app import other_app
from tests.sms.domestic_fakes import ALIYUN, route_abroad_to_twilio
from volunteer_hub.broker import queue_depth
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.sms import pauses, services
from volunteer_hub.sms.backends import current_gateway
from volunteer_hub.sms.models import OutgoingSms, SmsStatus
from volunteer_hub.sms.templates import CATALOGUE, example

PHONE = "+8613800138000"
OTHER = "+8613900139000"
HELP = example(CATALOGUE["help"])
_keys = iter(range(1, 10**6))

#: SMS_BACKEND=aliyun, then tencent, each against its fake


def empty_balance(kind, fake) -> str:
    """Script the fake's next answer: no money left. Returns the provider's code."""
    if kind is ALIYUN:
        fake.fail_next("isv.AMOUNT_NOT_ENOUGH")
        return "isv.AMOUNT_NOT_ENOUGH"
    fake.fail_next("FailedOperation.InsufficientBalanceInSmsPackage")
    return "FailedOperation.InsufficientBalanceInSmsPackage"


def queue(phone=PHONE) -> OutgoingSms:
    row = services.queue_text(
        to_phone=phone, text=HELP, kind="reply", dedupe_key=f"p:{next(_keys)}"
    )
    db.session.commit()
    return row


def deliver(row: OutgoingSms) -> str:
    return services.deliver(row.id, current_gateway(row.to_phone)).outcome


def test_an_empty_balance_pauses_the_backend_and_every_text_waits(provider, broker):
    kind, fake = provider
    code = empty_balance(kind, fake)
    first, second = queue(), queue(OTHER)

    assert deliver(first) == "paused"
    pause = pauses.current(kind.name)
    assert pause is not None and pause.code == code and pause.since <= utcnow()
    # the next text is not offered to the provider at all, and is not retried by Dramatiq
    delivery = services.deliver(second.id, current_gateway(OTHER))
    assert (delivery.outcome, delivery.retry) == ("paused", False)
    assert len(fake.messages) == 0
    db.session.expire_all()
    rows = db.session.scalars(select(OutgoingSms).order_by(OutgoingSms.id)).all()
    assert [row.status for row in rows] == [SmsStatus.QUEUED, SmsStatus.QUEUED]
    assert rows[1].error_code == pauses.PAUSED_CODE
    assert rows[0].attempts == 1 and rows[1].attempts == 0  # only the first reached it


def test_a_second_pause_keeps_when_sending_stopped(provider):
    kind, fake = provider
    empty_balance(kind, fake)
    deliver(queue())
    since = pauses.current(kind.name).since
    assert not pauses.pause(kind.name, code="other", reason="again", at=utcnow())
    assert pauses.current(kind.name).since == since


def test_resuming_sends_the_waiting_texts(provider, broker):
    kind, fake = provider
    empty_balance(kind, fake)
    waiting = [queue(), queue(OTHER)]
    assert [deliver(row) for row in waiting] == ["paused", "paused"]
    broker.flush_all()

    lifted, requeued = pauses.resume(kind.name, by="a test")
    db.session.commit()
    assert lifted.backend == kind.name and requeued == 2
    assert pauses.current(kind.name) is None
    assert queue_depth(broker, "sms") == 2  # an actor for each, after the commit
    assert [deliver(row) for row in waiting] == ["sent", "sent"]
    assert len(fake.messages) == 2
    assert pauses.resume(kind.name, by="a test") is None  # nothing to resume


def test_the_commands_show_and_resume_the_pause(provider, runner, broker):
    kind, fake = provider
    code = empty_balance(kind, fake)
    deliver(queue())
    deliver(queue(OTHER))
    shown = runner.invoke(args=["sms", "pauses"])
    assert shown.exit_code == 0 and f"{kind.name}: paused since" in shown.output
    assert code in shown.output
    broker.flush_all()

    resumed = runner.invoke(args=["sms", "resume", kind.name])
    assert resumed.exit_code == 0, resumed.output
    assert f"{kind.name} resumed: 2 waiting texts sent again" in resumed.output
    assert queue_depth(broker, "sms") == 2
    assert runner.invoke(args=["sms", "pauses"]).output == f"{kind.name}: sending\n"
    again = runner.invoke(args=["sms", "resume", kind.name])
    assert "is not paused" in again.output
    assert runner.invoke(args=["sms", "resume", "nowhere"]).exit_code != 0


def test_the_sweep_leaves_paused_texts_to_the_resume(provider, monkeypatch):
    from datetime import timedelta

    kind, fake = provider
    empty_balance(kind, fake)
    first, second = queue(), queue(OTHER)
    deliver(first)
    deliver(second)  # marked provider-paused
    later = utcnow() + timedelta(minutes=10)
    requeued, _ = services.requeue_stuck(later)
    assert requeued == 1  # the first only: it carries the provider's code, not the mark
    db.session.rollback()
    pauses.lift(kind.name)  # a pause that vanished (Redis flushed): the sweep takes them all
    requeued, _ = services.requeue_stuck(later)
    assert requeued == 2
    db.session.rollback()


def test_a_paused_domestic_backend_leaves_texts_abroad_going(
    provider, app, monkeypatch, fake_twilio
):
    kind, fake = provider
    route_abroad_to_twilio(app, monkeypatch, fake_twilio, kind.name)
    empty_balance(kind, fake)
    assert deliver(queue()) == "paused"
    assert deliver(queue("+14155550123")) == "sent"
    assert [m["to"] for m in fake_twilio.messages] == ["+14155550123"]
    app.extensions.pop("sms_gateways", None)


def test_the_send_actor_does_not_retry_while_paused(provider, broker, worker):
    kind, fake = provider
    code = empty_balance(kind, fake)
    first = queue()
    broker.join("sms")
    worker.join()
    second = queue(OTHER)  # the fake would take this one: only its next answer is scripted
    broker.join("sms")
    worker.join()
    assert len(fake.messages) == 0
    db.session.expire_all()
    # a retry of the first would have found the pause and marked it like the second
    assert db.session.get(OutgoingSms, first.id).error_code == code[:20]
    assert db.session.get(OutgoingSms, second.id).error_code == pauses.PAUSED_CODE
    assert pauses.current(kind.name) is not None


@pytest.mark.skipif(not os.environ.get("TEST_REDIS_URL"), reason="needs TEST_REDIS_URL")
def test_every_worker_process_sees_the_pause_in_redis(app, provider):
    """A second app on the same Redis: another worker process, on another host."""
    kind, fake = provider
    code = empty_balance(kind, fake)
    deliver(queue())
    with other_app(app) as other, other.app_context():
        seen = pauses.current(kind.name)
        assert seen is not None and seen.code == code
        assert pauses.lift(kind.name) is not None
    assert pauses.current(kind.name) is None  # lifted there, gone here
