"""Feed actors, and the handlers that tell them of a change: find the feeds a change
touches, and rebuild them, coalescing bursts.

A change (an event, a shift, a signup) publishes a domain event; the handlers below
write a ``FeedChange`` row in its transaction (``calendar.changes``) and send
``feeds_touched`` after the commit, with ids only. It marks stale every feed that shows
the change, deletes the row, and sends ``rebuild_feed`` (a little later, so a burst of
edits lands first) only for feeds that were not stale yet: those already stale have a
rebuild on the way. The rebuild claims the feed with one conditional UPDATE
(``stale_since`` → NULL) and does nothing when nothing is owed, so 50 edits in a burst
cost a rebuild or two, not 50, and a message delivered twice builds once. A change that
lands while a rebuild runs marks the feed stale again and gets its own rebuild.

Lost messages are the tick's: ``requeue_lost_changes`` sends ``feeds_touched`` again
for rows older than a minute, ``calendar.services.requeue_overdue_rebuilds`` the
rebuild of feeds stale too long.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import dramatiq

from volunteer_hub import after_commit
from volunteer_hub.calendar import changes, services
from volunteer_hub.domain_events import (
    EventChanged,
    ShiftCancelled,
    SignupCancelled,
    SignupPlaced,
    SignupPromoted,
)
from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.signups.models import Signup, SignupStatus

QUEUE = "feeds"
#: how long a rebuild waits after the first change of a burst
COALESCE_DELAY_MS = 1_000


@dramatiq.actor(queue_name=QUEUE, max_retries=10, min_backoff=1_000, max_backoff=60_000)
def feeds_touched(
    event_id: int,
    person_ids: list[int] | None = None,
    old_category_id: int | None = None,
    change_id: int | None = None,
):
    """Mark stale the feeds that show the event (and the person feeds of ``person_ids``,
    and those filtered on ``old_category_id``); send a rebuild for each that was not
    stale yet. ``change_id``: the FeedChange row this applies, deleted with it."""
    extra = [old_category_id] if old_category_id is not None else []
    owed = services.mark_stale(event_id, person_ids or (), extra_category_ids=extra)
    if change_id is not None:
        changes.clear(change_id)
    db.session.commit()
    for feed_id in owed:
        rebuild_feed.send_with_options(args=(feed_id,), delay=COALESCE_DELAY_MS)


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


def requeue_lost_changes(now: datetime) -> int:
    """The tick's part: send ``feeds_touched`` again for changes whose message was lost
    (rows older than ``changes.OVERDUE_AFTER``). Applying one twice costs nothing."""
    lost = changes.overdue(now)
    for change in lost:
        after_commit.enqueue(
            feeds_touched.send,
            change.event_id,
            tuple(change.person_ids),
            change.old_category_id,
            change.id,
        )
    return len(lost)


# -- handlers of the domain events (subscribed in volunteer_hub.handlers) ---------------


def signup_changed(changed: SignupPlaced | SignupCancelled | SignupPromoted) -> None:
    """The event's feeds show its fill, and the person's own feed the signup."""
    if isinstance(changed, SignupPlaced) and changed.facts is not None:
        _note(changed.facts.event_id)  # just placed, so active: no query to find its event
        return
    # From the identity map, as a rule: the service that published the event loaded both.
    signup = db.session.get(Signup, changed.signup_id)
    shift = db.session.get(Shift, signup.shift_id)
    # An active signup is among the event's people, whose feeds mark_stale finds; one
    # that ended is not, so its person is named.
    ended = signup.status == SignupStatus.CANCELLED
    _note(shift.event_id, [signup.person_id] if ended else [])


def shift_cancelled(cancelled: ShiftCancelled) -> None:
    # The signups it ended stay in their people's feeds (as cancelled): the event's
    # feeds cover them.
    _note(db.session.get(Shift, cancelled.shift_id).event_id)


def event_changed(changed: EventChanged) -> None:
    _note(changed.event_id, old_category_id=changed.old_category_id)


def _note(
    event_id: int, person_ids: Iterable[int] = (), old_category_id: int | None = None
) -> None:
    person_ids = tuple(sorted(set(person_ids))) if person_ids else ()

    def send_once_written(change_id: int | None) -> None:
        after_commit.enqueue(feeds_touched.send, event_id, person_ids, old_category_id, change_id)

    changes.note(event_id, person_ids, old_category_id, then=send_once_written)
