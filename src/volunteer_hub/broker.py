"""The Dramatiq broker: Redis when REDIS_URL is set, otherwise in-process.

Actors are declared when their ``tasks`` module is imported, against whatever broker is
global at that moment. ``init_app`` picks the real one from the app's configuration and
moves every declared actor onto it, so import order never decides where messages go and
importing a tasks module never connects anywhere.

Embedded mode (no REDIS_URL): Dramatiq's in-process StubBroker, consumed by a worker
thread that starts with the first web request, so ``flask run`` alone sends texts.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware
from dramatiq.rate_limits.backends import RedisBackend, StubBackend
from flask import Flask, current_app

log = logging.getLogger(__name__)

# A placeholder until an app chooses; it only ever collects actor declarations.
dramatiq.set_broker(StubBroker())


@dataclass
class BrokerState:
    broker: dramatiq.Broker
    #: shared counters for rate limits (the SMS send rate across every worker process)
    rate_limit_backend: object
    embedded: bool
    worker: dramatiq.Worker | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


class AppContextMiddleware(Middleware):
    """Run each message inside an app context and drop its session afterwards."""

    def __init__(self, app: Flask):
        self.app = app
        self.local = threading.local()

    def before_process_message(self, broker, message):
        context = self.app.app_context()
        context.push()
        self.local.context = context

    def after_process_message(self, broker, message, *, result=None, exception=None):
        self._leave()

    def after_skip_message(self, broker, message):
        self._leave()

    def _leave(self) -> None:
        context = getattr(self.local, "context", None)
        if context is None:
            return
        self.local.context = None
        from volunteer_hub.extensions import db

        try:
            db.session.remove()
        finally:
            context.pop()


def init_app(app: Flask) -> BrokerState:
    url = app.config.get("REDIS_URL")
    if url:
        client = redis_client(url)
        broker: dramatiq.Broker = RedisBroker(
            client=client, namespace=app.config["DRAMATIQ_NAMESPACE"]
        )
        backend: object = RedisBackend(client=client)
    else:
        broker = StubBroker()
        backend = StubBackend()
    broker.add_middleware(AppContextMiddleware(app))
    bind_actors(broker)
    state = BrokerState(broker=broker, rate_limit_backend=backend, embedded=not url)
    app.extensions["dramatiq"] = state
    # Never in a testing app: tests run their workers and ticks themselves.
    if state.embedded and app.config["EMBEDDED_WORKER"] and not app.testing:
        app.before_request(_start_embedded_worker)
    return state


def redis_client(url: str):
    """A client that gives up instead of hanging: a Redis that drops packets (rather than
    refusing connections) must fail an enqueue after a commit in seconds, not hold the
    request; the outbox row is durable and the tick sends it again. Dramatiq's Redis
    broker polls with scripts and never blocks on the socket, so a timeout is safe."""
    import redis

    return redis.Redis.from_url(
        url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30
    )


def state() -> BrokerState:
    return current_app.extensions["dramatiq"]


def bind_actors(new: dramatiq.Broker) -> None:
    """Make ``new`` the global broker and move every actor declared so far onto it."""
    old = dramatiq.get_broker()
    if old is not new:
        for name in old.get_declared_actors():
            actor = old.get_actor(name)
            actor.broker = new
            new.declare_actor(actor)
    dramatiq.set_broker(new)


def _start_embedded_worker() -> None:
    current = state()
    if current.worker is not None:
        return
    with current.lock:
        if current.worker is None:
            current.worker = dramatiq.Worker(current.broker, worker_threads=2, worker_timeout=250)
            current.worker.start()
            from volunteer_hub import scheduler

            scheduler.start_in_thread(current_app._get_current_object())
            log.info("embedded mode: in-process worker and scheduler started")


def queue_depth(broker: dramatiq.Broker, queue_name: str) -> int:
    """Messages waiting in a queue (not counting delayed ones), on either broker."""
    if isinstance(broker, RedisBroker):
        return int(broker.client.llen(f"{broker.namespace}:{queue_name}"))
    queue = broker.queues.get(queue_name)
    return queue.qsize() if queue is not None else 0
