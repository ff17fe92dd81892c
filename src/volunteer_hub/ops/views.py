"""/ops: the operations page for admins — queues, outbox, stuck texts, the tick, feeds.

Everyone else gets the same 404 as for a page that does not exist.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from volunteer_hub import broker
from volunteer_hub.db import utcnow
from volunteer_hub.ops import services
from volunteer_hub.web import current_viewer, staff_required

bp = Blueprint("ops", __name__)


@bp.get("/ops")
@staff_required
def overview():
    viewer = current_viewer()
    if not viewer.is_admin:
        abort(404)
    now = utcnow()
    since = now - services.OUTBOX_WINDOW
    current = broker.state()
    try:
        queues = services.queue_depths(current.broker)
        last_tick = services.last_tick(current.broker)
        broker_error = None
    except Exception as exc:  # the page is most needed when the broker is down
        queues, last_tick, broker_error = [], None, type(exc).__name__
    return render_template(
        "ops/overview.html",
        now=now,
        embedded=current.embedded,
        queues=queues,
        broker_error=broker_error,
        outbox=services.outbox_counts(since),
        failed=services.failed_texts(since),
        stuck=services.stuck_texts(now),
        last_tick=last_tick,
        tick_late=last_tick is None or now - last_tick > services.TICK_LATE_AFTER,
        feeds=services.feed_lag(now),
        rollups=services.rollup_lag(now),
        limits=services.limits_in_minutes(),
    )
