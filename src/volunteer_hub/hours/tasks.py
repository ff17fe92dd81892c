"""Roll-up actors, and the handler that tells them of a change: recompute the keys a
commit touched from the records.

A change to a counted service record publishes ``RecordCounted`` for its key; the
handler below marks the key in the same transaction (``hours.marks``) and sends
``recompute_rollup`` after the commit. The message carries the key (ids and an ISO
month), never a figure: the actor reads the records as they are when it runs, so a
retry, a duplicate delivery or two actors for the same key at once all end with the
same rows (``rollups.recompute_key`` locks the key, and clears its mark). A message
that was lost is sent again by the tick (``requeue_marked``) once its mark is older than
a minute.
"""

from __future__ import annotations

from datetime import date, datetime

import dramatiq

from volunteer_hub import after_commit
from volunteer_hub.domain_events import RecordCounted, new_in_transaction
from volunteer_hub.extensions import db
from volunteer_hub.hours import marks, rollups

QUEUE = "hours"


@dramatiq.actor(queue_name=QUEUE, max_retries=10, min_backoff=1_000, max_backoff=60_000)
def recompute_rollup(person_id: int, team_id: int, category_id: int, month: str) -> None:
    rollups.recompute_key(person_id, team_id, category_id, date.fromisoformat(month))
    db.session.commit()


def record_counted(counted: RecordCounted) -> None:
    """Handler of ``RecordCounted``: mark the key, recompute it after commit."""
    key = (counted.person_id, counted.team_id, counted.category_id, counted.month)
    if new_in_transaction(("rollup", *key)):
        marks.mark(key)
    after_commit.enqueue(recompute_rollup.send, *key[:3], counted.month.isoformat())


def requeue_marked(now: datetime) -> int:
    """The tick's part: send the recompute again for keys marked longer than
    ``marks.OVERDUE_AFTER`` ago (a lost message, a worker that died)."""
    keys = marks.overdue(now)
    for person_id, team_id, category_id, month in keys:
        after_commit.enqueue(
            recompute_rollup.send, person_id, team_id, category_id, month.isoformat()
        )
    return len(keys)
