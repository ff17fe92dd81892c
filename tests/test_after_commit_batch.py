"""The actor sends one transaction queues after its commit reach Redis together
(``volunteer_hub.broker_batch``), with what ``RedisBroker.enqueue`` does for each."""

from __future__ import annotations

import logging
import os
import threading

import dramatiq
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.message import Message
from dramatiq.middleware import Middleware

from tests.conftest import stop_worker
from volunteer_hub import after_commit, broker_batch
from volunteer_hub.broker import redis_client
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person

QUEUE = "after-commit-batch-test"

needs_redis = pytest.mark.skipif(
    not os.environ.get("TEST_REDIS_URL"), reason="needs TEST_REDIS_URL"
)


class EnqueueHooks(Middleware):
    """Records the "enqueue" hooks the broker emits, as any middleware would see them."""

    def __init__(self):
        self.seen: list[tuple[str, str, str]] = []

    def before_enqueue(self, broker, message, delay):
        self.seen.append(("before", message.actor_name, message.options.get("redis_message_id")))

    def after_enqueue(self, broker, message, delay):
        self.seen.append(("after", message.actor_name, message.options.get("redis_message_id")))


#: what the test actors were given, in the worker's threads
_processed: list[tuple[str, list]] = []
_processed_lock = threading.Lock()


@pytest.fixture
def processed():
    _processed.clear()
    return _processed


@pytest.fixture
def test_actors(broker, processed):
    """Two actors on the app's broker that note what they were given (declared once)."""

    def note(name):
        if name in broker.actors:
            return broker.get_actor(name)

        def record(*args):
            with _processed_lock:
                _processed.append((name, list(args)))

        return dramatiq.actor(record, actor_name=name, queue_name=QUEUE, broker=broker)

    return note("batch_test_first"), note("batch_test_second")


@pytest.fixture
def hooks(broker):
    recorder = EnqueueHooks()
    broker.add_middleware(recorder)
    yield recorder
    broker.middleware.remove(recorder)


@needs_redis
def test_a_commit_sends_its_actors_together_and_a_worker_runs_them(
    broker, test_actors, hooks, processed
):
    assert isinstance(broker, RedisBroker)
    first, second = test_actors
    running = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    running.start()
    try:
        db.session.add(Person(name="甲", phone="+8613900000011"))
        after_commit.enqueue(first.send, 1, "一")
        after_commit.enqueue(second.send, 2)
        after_commit.enqueue(first.send, 1, "一")  # a duplicate: collapses
        db.session.commit()

        broker.join(QUEUE, timeout=20_000)
        running.join()
    finally:
        db.session.rollback()
        stop_worker(broker, running)

    assert sorted(processed) == [("batch_test_first", [1, "一"]), ("batch_test_second", [2])]
    # Each message had both hooks, in enqueue's order, with the id it was stored under.
    ours = [seen for seen in hooks.seen if seen[1].startswith("batch_test_")]
    before = [seen for seen in ours if seen[0] == "before"]
    after = [seen for seen in ours if seen[0] == "after"]
    assert [name for _, name, _ in before] == ["batch_test_first", "batch_test_second"]
    assert [message_id for *_, message_id in after] == [message_id for *_, message_id in before]
    assert len({message_id for *_, message_id in before}) == 2


@needs_redis
def test_two_sends_are_one_round_trip(broker, test_actors, monkeypatch):
    first, second = test_actors
    after_commit.enqueue(first.send, 0)
    after_commit.enqueue(second.send, 0)
    db.session.commit()  # Redis has the dispatch script and the broker its unpack size

    writes = []
    this_thread = threading.get_ident()
    send_packed_command = redis.connection.AbstractConnection.send_packed_command

    def counted(connection, command, check_health=True):
        if threading.get_ident() == this_thread:
            writes.append(command)
        return send_packed_command(connection, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
    after_commit.enqueue(first.send, 1)
    after_commit.enqueue(second.send, 2)
    db.session.commit()
    monkeypatch.undo()

    assert len(writes) == 1
    assert broker.client.llen(f"{broker.namespace}:{QUEUE}") == 4


def test_the_other_callables_still_run_in_their_place(broker, test_actors, processed):
    """On any broker: a plain callable queued between two sends runs between them."""
    first, second = test_actors
    order = []
    hooks = EnqueueHooks()
    broker.add_middleware(hooks)
    try:
        after_commit.enqueue(order.append, "before")
        after_commit.enqueue(first.send, 1)
        after_commit.enqueue(order.append, "between")
        after_commit.enqueue(second.send, 2)
        after_commit.enqueue(first.send, 3)
        db.session.commit()
    finally:
        broker.middleware.remove(hooks)

    assert order == ["before", "between"]
    sent = [name for when, name, _ in hooks.seen if when == "before"]
    assert sent == ["batch_test_first", "batch_test_second", "batch_test_first"]


def test_nothing_is_sent_after_a_rollback(broker, test_actors):
    first, second = test_actors
    hooks = EnqueueHooks()
    broker.add_middleware(hooks)
    try:
        after_commit.enqueue(first.send, 1)
        after_commit.enqueue(second.send, 2)
        db.session.rollback()
        db.session.commit()
    finally:
        broker.middleware.remove(hooks)
    assert hooks.seen == []


def test_redis_down_is_one_warning_and_nothing_raised(caplog):
    """A broker whose Redis refuses connections: the batch fails after the commit, the
    request goes on, the log has one line and no traceback."""
    down = RedisBroker(client=redis_client("redis://127.0.0.1:1/0"), namespace="vh-down")
    first = dramatiq.actor(lambda n: None, actor_name="down_first", queue_name=QUEUE, broker=down)
    second = dramatiq.actor(lambda n: None, actor_name="down_second", queue_name=QUEUE, broker=down)
    calls = []
    caplog.set_level(logging.WARNING, logger="volunteer_hub.after_commit")
    db.session.add(Person(name="乙", phone="+8613900000012"))
    after_commit.enqueue(first.send, 1)
    after_commit.enqueue(second.send, 2)
    after_commit.enqueue(calls.append, "still runs")

    db.session.commit()  # does not raise

    assert calls == ["still runs"]
    assert db.session.query(Person).filter_by(phone="+8613900000012").count() == 1
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "broker unreachable: ConnectionError" in record.getMessage()
    assert record.exc_info is None


@needs_redis
def test_a_redis_without_the_script_gets_it_loaded_and_the_messages():
    """After a Redis restart the dispatch script is gone: every EVALSHA of the batch
    fails with NOSCRIPT, and the batch goes again through the script object, which loads
    it. A script Redis has never seen (the broker's own, with a comment of this run's
    added) stands for that Redis."""
    namespace = f"vh-noscript-{os.getpid()}"
    fresh = RedisBroker(client=redis_client(os.environ["TEST_REDIS_URL"]), namespace=namespace)
    mark = f"\n-- {namespace} {os.urandom(8).hex()}\n".encode()
    unseen = fresh.scripts["dispatch"].script + mark
    fresh.scripts["dispatch"] = fresh.client.register_script(unseen)
    assert fresh.client.script_exists(fresh.scripts["dispatch"].sha) == [False]
    messages = [
        Message(queue_name=QUEUE, actor_name="anyone", args=(n,), kwargs={}, options={})
        for n in (1, 2)
    ]
    try:
        enqueued = broker_batch.enqueue_all(fresh, messages)
        assert fresh.client.llen(f"{namespace}:{QUEUE}") == 2
        assert [m.args for m in enqueued] == [(1,), (2,)]
    finally:
        for key in fresh.client.scan_iter(f"{namespace}*"):
            fresh.client.delete(key)
