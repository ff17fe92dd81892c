"""/ops: the operations page for admins — queues, outbox, held texts, the SMS backends
(sending or paused, with the resume button), stuck texts, the tick, feeds.

Everyone else gets the same 404 as for a page that does not exist.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from volunteer_hub import broker
from volunteer_hub.db import utcnow
from volunteer_hub.ops import services
from volunteer_hub.sms import pauses
from volunteer_hub.sms.backends import backends_in_use
from volunteer_hub.web import current_viewer, staff_required

bp = Blueprint("ops", __name__)


def _admin_only():
    viewer = current_viewer()
    if not viewer.is_admin:
        abort(404)
    return viewer


@bp.get("/ops")
@staff_required
def overview():
    _admin_only()
    now = utcnow()
    since = now - services.OUTBOX_WINDOW
    current = broker.state()
    try:
        queues = services.queue_depths(current.broker)
        last_tick = services.last_tick(current.broker)
        backends = services.backend_states()
        broker_error = None
    except Exception as exc:  # the page is most needed when the broker is down
        queues, last_tick, backends, broker_error = [], None, [], type(exc).__name__
    return render_template(
        "ops/overview.html",
        now=now,
        embedded=current.embedded,
        queues=queues,
        broker_error=broker_error,
        backends=backends,
        outbox=services.outbox_counts(since, now),
        held=services.held_texts(now),
        failed=services.failed_texts(since),
        stuck=services.stuck_texts(now),
        last_tick=last_tick,
        tick_late=last_tick is None or now - last_tick > services.TICK_LATE_AFTER,
        feeds=services.feed_lag(now),
        rollups=services.rollup_lag(now),
        limits=services.limits_in_minutes(),
    )


@bp.post("/ops/sms/<backend>/resume")
@staff_required
def resume_backend(backend: str):
    """After topping up the provider account: send again through ``backend``."""
    viewer = _admin_only()
    if backend not in backends_in_use(current_app.config):
        abort(404)
    resumed = pauses.resume(backend, by=f"person {viewer.person_id} on /ops")
    if resumed is None:
        flash(_("%(backend)s 没有暂停，无需恢复。", backend=backend), "info")
    else:
        message = _(
            "已恢复 %(backend)s 发送，%(n)d 条等待的短信将陆续发出。", backend=backend, n=resumed[1]
        )
        flash(message, "success")
    return redirect(url_for("ops.overview"))
