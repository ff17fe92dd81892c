"""Changes the calendar feeds have not taken in yet: a small outbox row per change.

A change to an event or a signup writes one ``FeedChange`` row in its own transaction
(one INSERT: which event, whose person feeds, the category it left; held until the
transaction's next statement, so that it shares a round trip: ``held_writes``). The
message sent after commit (``calendar.tasks.feeds_touched``) is the fast path: it marks
the feeds that show the change stale (``Feed.stale_since``), sends their rebuilds and
deletes the row. A row still here after ``OVERDUE_AFTER`` lost its message, and the scheduler's
tick sends it again. Rows are never updated: a change made while one is being applied
has a row of its own, so nothing is lost to a race.

Finding the feeds is left to the worker: done here, every sign-up would hold locks on
its team's and units' feed rows until commit.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import JSON, bindparam, func, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from volunteer_hub import held_writes
from volunteer_hub.db import Base, utcnow
from volunteer_hub.domain_events import new_in_transaction
from volunteer_hub.extensions import db

#: a change not applied after this long has lost its message: the tick sends it again
OVERDUE_AFTER = timedelta(minutes=1)
#: changes handed back to the queue per tick at most (the next tick takes the rest)
REQUEUE_BATCH = 1_000


class FeedChange(Base):
    """A change the feeds owe: the feeds showing ``event_id`` (and the person feeds of
    ``person_ids``) need a rebuild. No foreign key: the row lives seconds, and an event
    gone meanwhile has no feeds left to mark."""

    __tablename__ = "feed_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int]
    #: people whose own feed must follow though they may no longer be on the event
    #: (a signup they cancelled)
    person_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    #: the category the event left, for the feeds filtered on it
    old_category_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(index=True)


def note(
    event_id: int,
    person_ids: tuple[int, ...] = (),
    old_category_id: int | None = None,
    then: Callable[[int | None], None] | None = None,
) -> bool:
    """Write the change's row in the current transaction, held until its next statement
    (``held_writes``: a sign-up's goes with its text in one round trip), and call
    ``then`` with the row's id once written. False, and nothing written, when this
    transaction has written one that covers it already (a cancel that promotes someone,
    say). ``person_ids``: sorted, without repeats (as the message names them)."""
    covers = [("feed", event_id), *(("feed", event_id, "person", p) for p in person_ids)]
    if old_category_id is not None:
        covers.append(("feed", event_id, "category", old_category_id))
    if not new_in_transaction(*covers):
        return False
    values = {
        "event_id": event_id,
        "person_ids": list(person_ids),
        "old_category_id": old_category_id,
        "created_at": utcnow(),
    }
    held_writes.hold("feed_change", _insert_change, values, then)
    return True


# Every sign-up and cancellation writes one: built once per prefix, in Core (no entity
# comes back).
def _insert_change(prefix: str):
    change = FeedChange.__table__
    return (
        insert(change)
        .values(
            {
                name: bindparam(prefix + name)
                for name in ("event_id", "person_ids", "old_category_id", "created_at")
            }
        )
        .returning(change.c.id)
    )


def clear(change_id: int) -> None:
    """The change is applied (its feeds are marked stale): remove its row."""
    db.session.execute(FeedChange.__table__.delete().where(FeedChange.id == change_id))


def overdue(now: datetime, limit: int = REQUEUE_BATCH) -> list[FeedChange]:
    """Changes older than OVERDUE_AFTER, oldest first."""
    return list(
        db.session.scalars(
            select(FeedChange)
            .where(FeedChange.created_at < now - OVERDUE_AFTER)
            .order_by(FeedChange.id)
            .limit(limit)
        )
    )


def waiting() -> tuple[int, datetime | None]:
    """How many changes wait to be applied, and since when the oldest (for /ops)."""
    count, oldest = db.session.execute(select(func.count(), func.min(FeedChange.created_at))).one()
    return count, oldest
