"""Several Dramatiq messages enqueued on Redis in one round trip.

Dramatiq 2.2 has no batch enqueue: each ``actor.send`` is one EVALSHA of the Redis
broker's ``dispatch`` script, so a sign-up that commits a text and a feed change waits
for Redis twice. ``enqueue_all`` enqueues a list of messages exactly as
``RedisBroker.enqueue`` would, one by one, but sends the scripts down one pipeline.

Dramatiq internals relied on (dramatiq/brokers/redis.py, 2.2.1; the Redis-only tests in
tests/test_after_commit_batch.py run a real worker on what this enqueues):

* ``enqueue`` copies the message with a fresh ``redis_message_id`` option (a retried
  message must get a new id in Redis), emits the "enqueue" middleware hooks before and
  after, and calls ``do_enqueue(queue_name, redis_message_id, message.encode())``;
* ``do_enqueue`` is ``_dispatch("enqueue")``: the ``broker.scripts["dispatch"]`` script
  with keys ``[broker.namespace]`` and the arguments built in ``_dispatch_arguments``
  below (command, timestamp, queue, broker id, heartbeat timeout, dead-message TTL,
  maintenance flag, Lua unpack size, then the command's own);
* a message without ``delay`` stays on its own queue (no ``eta``): the only kind sent
  here, since ``after_commit`` queues plain ``actor.send`` calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import uuid4

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis
from dramatiq.message import Message
from redis.exceptions import NoScriptError

#: messages per pipeline at most (a call-out queues thousands of texts)
PIPELINE_SIZE = 500


def can_batch(broker: dramatiq.Broker) -> bool:
    """Whether ``enqueue_all`` takes this broker's messages: Redis only. Any other broker
    (the StubBroker of the tests and of the embedded mode) gets ``actor.send`` one by one."""
    return isinstance(broker, RedisBroker)


def enqueue_all(broker: RedisBroker, messages: Sequence[Message]) -> list[Message]:
    """Enqueue ``messages`` (none delayed) as ``broker.enqueue`` would each, in one round
    trip per ``PIPELINE_SIZE`` of them; the enqueued copies, in order. Raises what the
    pipeline raises (a ``redis.ConnectionError`` when Redis is down): some of a failed
    batch may have been enqueued, as with separate sends that fail halfway."""
    enqueued: list[Message] = []
    for start in range(0, len(messages), PIPELINE_SIZE):
        enqueued += _enqueue_chunk(broker, messages[start : start + PIPELINE_SIZE])
    return enqueued


def _enqueue_chunk(broker: RedisBroker, messages: Sequence[Message]) -> list[Message]:
    copies = [message.copy(options={"redis_message_id": str(uuid4())}) for message in messages]
    for message in copies:
        broker.logger.debug(
            "Enqueueing message %r on queue %r.", message.message_id, message.queue_name
        )
        broker.emit_before("enqueue", message, None)
    arguments = [_dispatch_arguments(broker, message) for message in copies]
    _run_dispatch_scripts(broker, arguments)
    for message in copies:
        broker.emit_after("enqueue", message, None)
    return copies


def _dispatch_arguments(broker: RedisBroker, message: Message) -> list:
    """What ``RedisBroker._dispatch("enqueue")`` passes to the dispatch script."""
    return [
        "enqueue",
        current_millis(),
        message.queue_name,
        broker.broker_id,
        broker.heartbeat_timeout,
        broker.dead_message_ttl,
        broker._should_do_maintenance("enqueue"),
        broker._max_unpack_size(),  # asks Redis once per process, then cached
        message.options["redis_message_id"],
        message.encode(),
    ]


def _run_dispatch_scripts(broker: RedisBroker, arguments: list[list]) -> None:
    """One EVALSHA per message down one pipeline. Not through the ``Script`` object: on a
    pipeline it first asks ``SCRIPT EXISTS``, a second round trip every time. Redis has
    the script as a rule (the broker runs it all day); after a Redis restart it does
    not, every EVALSHA fails with NOSCRIPT (none ran), and the ``Script`` path loads it
    and runs them again."""
    dispatch = broker.scripts["dispatch"]
    keys = [broker.namespace]
    pipeline = broker.client.pipeline(transaction=False)
    for args in arguments:
        pipeline.evalsha(dispatch.sha, len(keys), *keys, *args)
    try:
        pipeline.execute()
        return
    except NoScriptError:
        pass
    pipeline = broker.client.pipeline(transaction=False)
    for args in arguments:
        dispatch(keys=keys, args=args, client=pipeline)
    pipeline.execute()
