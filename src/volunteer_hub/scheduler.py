"""The periodic tick: one function, run every minute by ``flask scheduler`` (deployments
with Redis) or by a thread of the web process (embedded mode).

Each step is idempotent and safe to run twice at once, so two schedulers by mistake, or a
tick that overlaps the next, cost work but never double texts.

It is what makes the after-commit messages a fast path only: texts still queued, feed
changes not applied and roll-up keys still marked a while after their commit had their
message lost (a Redis blip, a worker that died), and the tick sends it again.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from flask import Flask

from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db

log = logging.getLogger(__name__)

TICK_SECONDS = 60


class Resent(NamedTuple):
    """Derived data whose message was lost, sent again to a worker by a tick."""

    feed_changes: int  #: not applied yet (calendar.changes)
    rollup_keys: int  #: still marked (hours.marks)


_NOTHING_RESENT = Resent(0, 0)


@dataclass(frozen=True)
class TickResult:
    at: datetime
    requeued_texts: int
    flagged_texts: int
    released_codes: int
    #: reminder texts written by this tick's sweep
    queued_reminders: int = 0
    #: due reminders past their window, not sent (see reminders.services.sweep)
    dropped_reminders: int = 0
    #: feed rebuilds sent again because their first message was lost
    requeued_feeds: int = 0
    #: check-ins never checked out, closed at their shift's end for the leader to see
    closed_check_ins: int = 0
    #: derived data sent again to a worker, its marks older than a minute
    resent: Resent = _NOTHING_RESENT
    #: call-out rings that fell due and were texted (callouts.rings)
    fired_rings: int = 0
    #: SMS backends whose quota pause ended at the provider's reset (sms.pauses)
    resumed_backends: tuple[str, ...] = ()


def tick(now: datetime | None = None) -> TickResult:
    from volunteer_hub.calendar.services import requeue_overdue_rebuilds
    from volunteer_hub.calendar.tasks import requeue_lost_changes
    from volunteer_hub.callouts.rings import fire_due_rings
    from volunteer_hub.events.services import release_stale_codes
    from volunteer_hub.hours.attendance import close_forgotten_check_outs
    from volunteer_hub.hours.tasks import requeue_marked
    from volunteer_hub.reminders.services import sweep
    from volunteer_hub.sms.pauses import resume_reset_quotas
    from volunteer_hub.sms.services import requeue_stuck

    now = now or utcnow()
    requeued, flagged = requeue_stuck(now)
    # After the requeue, which leaves texts marked paused to the resume.
    resumed = resume_reset_quotas(now)
    released = release_stale_codes(now)
    feeds = requeue_overdue_rebuilds(now)
    feed_changes = requeue_lost_changes(now)
    closed = close_forgotten_check_outs(now)
    rollup_keys = requeue_marked(now)
    db.session.commit()
    if requeued or flagged:
        log.info("tick: %d texts sent to the queue again, %d flagged for review", requeued, flagged)
    # Its own transaction: a failing sweep does not undo the outbox recovery above.
    reminders = sweep(now)
    db.session.commit()
    # Rings escalate from the database, never from broker delays: a restart loses none.
    fired_rings = fire_due_rings(now)
    db.session.commit()
    _record_tick()
    return TickResult(
        now,
        requeued,
        flagged,
        released,
        queued_reminders=reminders.queued,
        dropped_reminders=reminders.dropped,
        requeued_feeds=feeds,
        closed_check_ins=closed,
        resent=Resent(feed_changes, rollup_keys),
        fired_rings=fired_rings,
        resumed_backends=tuple(resumed),
    )


def _record_tick() -> None:
    """For the operations page: when a tick last finished (wall clock, not ``now``)."""
    from volunteer_hub.broker import state
    from volunteer_hub.ops.services import record_tick

    try:
        record_tick(utcnow(), state().broker)
    except Exception:  # the page then shows the tick as late; its work is done
        log.warning("tick: could not record its time", exc_info=True)


def run_forever(app: Flask, stop: threading.Event, interval: float = TICK_SECONDS) -> None:
    """Tick every ``interval`` seconds until ``stop`` is set; an error is logged, not fatal."""
    while not stop.is_set():
        with app.app_context():
            try:
                tick()
            except Exception:
                log.exception("scheduler tick failed")
                db.session.rollback()
            finally:
                db.session.remove()
        stop.wait(interval)


def start_in_thread(app: Flask) -> threading.Event:
    stop = threading.Event()
    thread = threading.Thread(
        target=run_forever, args=(app, stop), name="volunteer_hub-scheduler", daemon=True
    )
    thread.start()
    return stop
