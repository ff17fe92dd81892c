"""Feed actors: find the feeds a change touches, and rebuild them, coalescing bursts.

A change (an event, a shift, a signup) commits; the after-commit receivers below send
``feeds_touched`` with ids only. It marks stale every feed that shows the change, and
sends ``rebuild_feed`` (a little later, so a burst of edits lands first) only for feeds
that were not stale yet: those already stale have a rebuild on the way. The rebuild
claims the feed with one conditional UPDATE (``stale_since`` → NULL) and does nothing
when nothing is owed, so 50 edits in a burst cost a rebuild or two, not 50, and a
message delivered twice builds once. A change that lands while a rebuild runs marks the
feed stale again and gets its own rebuild.
"""

from __future__ import annotations

import dramatiq
from sqlalchemy import event as sa_event
from sqlalchemy import select

from volunteer_hub import after_commit
from volunteer_hub.calendar import services
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.signups.models import Signup

QUEUE = "feeds"
#: how long a rebuild waits after the first change of a burst
COALESCE_DELAY_MS = 1_000


@dramatiq.actor(queue_name=QUEUE, max_retries=10, min_backoff=1_000, max_backoff=60_000)
def feeds_touched(event_id: int, person_ids: list[int] | None = None, old_category_id=None):
    """Mark stale the feeds that show the event (and the person feeds of ``person_ids``);
    send a rebuild for each that was not stale yet."""
    extra = [old_category_id] if old_category_id is not None else []
    owed = services.mark_stale(event_id, person_ids or (), extra_category_ids=extra)
    db.session.commit()
    for feed_id in owed:
        rebuild_feed.send_with_options(args=(feed_id,), delay=COALESCE_DELAY_MS)


@dramatiq.actor(queue_name=QUEUE, max_retries=10, min_backoff=1_000, max_backoff=60_000)
def signup_touched(signup_id: int):
    row = db.session.execute(
        select(Shift.event_id, Signup.person_id)
        .join(Shift, Shift.id == Signup.shift_id)
        .where(Signup.id == signup_id)
    ).first()
    db.session.rollback()
    if row is not None:
        feeds_touched(row.event_id, [row.person_id])


@dramatiq.actor(
    queue_name=QUEUE, max_retries=10, min_backoff=1_000, max_backoff=60_000, time_limit=300_000
)
def rebuild_feed(feed_id: int):
    """Rebuild a feed if a rebuild is owed; a no-op otherwise (idempotent)."""
    if not services.claim_stale(feed_id):
        db.session.rollback()
        return
    # Claim and build commit together: if the build fails the feed stays stale and the
    # retry finds it owed; a change committed meanwhile marks it stale again after us.
    services.rebuild_feed(feed_id)
    db.session.commit()


def _event_changed(event_id: int) -> None:
    feeds_touched.send(event_id)


def _signup_changed(signup_id: int) -> None:
    signup_touched.send(signup_id)


after_commit.connect("event_changed", _event_changed)
for _name in ("signup_created", "signup_cancelled", "signup_promoted"):
    after_commit.connect(_name, _signup_changed)
after_commit.connect("signup_cancelled_by_organizer", _signup_changed)


@sa_event.listens_for(Event.category_id, "set")
def _category_moved(target: Event, value, oldvalue, _initiator) -> None:
    # A feed filtered on the old category must drop the event, and once committed the
    # old category is known nowhere else.
    if target.id is None or not isinstance(oldvalue, int) or oldvalue == value:
        return
    after_commit.enqueue(feeds_touched.send, target.id, None, oldvalue)
