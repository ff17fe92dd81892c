"""Side effects that must only happen once the data they describe is committed.

During a request or a command, code calls ``enqueue`` (an actor send, usually; the
after-commit handlers of ``domain_events`` go through it too). Nothing runs until the
session's outermost transaction commits; on rollback everything queued is dropped. A
worker that picks up the message therefore always finds the rows it was told about.

What is queued here is a fast path, never the only record of the work: the transaction
also wrote something durable (an outbox row, a dirty mark) that the scheduler's tick
finds and hands to a worker again if the message is lost.

The actor sends one transaction queued reach a Redis broker together, in one round trip
(``broker_batch``); other callables run in their place, in the order they were queued.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import dramatiq
from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from volunteer_hub import broker_batch

log = logging.getLogger(__name__)

_PENDING_KEY = "volunteer_hub.after_commit"


def enqueue(func: Callable[..., Any], *args: Any) -> None:
    """Call ``func(*args)`` (e.g. ``some_actor.send``) after commit; duplicates collapse."""
    _pending(_session()).setdefault((func, args), None)


def install(session_class: type[Session] | Any) -> None:
    """Hook the queue into a session class or scoped-session factory."""
    event.listen(session_class, "after_commit", _run_pending)
    event.listen(session_class, "after_transaction_end", _drop_on_rollback)


def _session() -> Session:
    from volunteer_hub.extensions import db

    return db.session()


def _pending(session: Session) -> dict:
    # Tie the queue to a transaction, so that a rollback before any SQL still drops it.
    if not session.in_transaction():
        session.begin()
    return session.info.setdefault(_PENDING_KEY, {})


def _run_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    if not pending:
        return
    # Actor sends in a row go to the broker together (one Redis round trip for a
    # sign-up's text and feed change); anything else runs in its place, in order.
    sends: list[tuple[dramatiq.Actor, tuple]] = []
    for func, args in pending:
        actor = _actor_sent_by(func)
        if actor is not None:
            sends.append((actor, args))
            continue
        _send_together(sends)
        sends = []
        _guarded(func, func, *args)
    _send_together(sends)


def _actor_sent_by(func: Callable[..., Any]) -> dramatiq.Actor | None:
    """The actor when ``func`` is its bound ``send`` (what the services queue), else None."""
    if getattr(func, "__func__", None) is dramatiq.Actor.send:
        return func.__self__
    return None


def _send_together(sends: list[tuple[dramatiq.Actor, tuple]]) -> None:
    """``actor.send(*args)`` for each, in order: through one pipeline per run of sends
    to the same Redis broker (``broker_batch``), one by one to any other broker."""
    start = 0
    while start < len(sends):
        broker = sends[start][0].broker
        end = start + 1
        while end < len(sends) and sends[end][0].broker is broker:
            end += 1
        run = sends[start:end]
        if len(run) > 1 and broker_batch.can_batch(broker):
            _guarded([actor.send for actor, _ in run], _enqueue_run, broker, run)
        else:
            for actor, args in run:
                _guarded(actor.send, actor.send, *args)
        start = end


def _enqueue_run(broker: dramatiq.Broker, run: list[tuple[dramatiq.Actor, tuple]]) -> None:
    # The messages ``actor.send(*args)`` would build, enqueued as it would enqueue them.
    messages = [actor.message_with_options(args=args) for actor, args in run]
    broker_batch.enqueue_all(broker, messages)


def _guarded(what: Any, func: Callable[..., Any], *args: Any) -> None:
    """``func(*args)``, its failure logged (``what`` names it), never raised."""
    try:
        func(*args)
    except Exception as exc:
        # The data is committed, and with it what the tick needs to do the work
        # anyway: an outbox row stays queued, a dirty mark (roll-up key, feed
        # change) stays in place, and the tick hands either to a worker again. The
        # request that committed it goes on: never a 500 for this.
        if _is_connection_error(exc):
            # Redis is down: one line, not a traceback per request.
            log.warning(
                "after-commit side effect %r skipped, broker unreachable: %s: %s",
                what,
                type(exc).__name__,
                exc,
            )
        else:
            log.exception("after-commit side effect %r failed", what)


def _is_connection_error(exc: BaseException) -> bool:
    import dramatiq.errors
    import redis.exceptions

    return isinstance(
        exc,
        dramatiq.errors.BrokerConnectionError
        | redis.exceptions.ConnectionError
        | redis.exceptions.TimeoutError,
    )


def _drop_on_rollback(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None and not transaction.nested:
        # After a commit the queue was already run and popped; what is left was rolled back.
        session.info.pop(_PENDING_KEY, None)
