"""Roll-up actors: after a commit that changed counted service records, recompute the
keys it touched from the records.

The message carries the key (ids and an ISO month), never a figure: the actor reads the
records as they are when it runs, so a retry, a duplicate delivery or two actors for the
same key at once all end with the same rows (``rollups.recompute_key`` locks the key).
"""

from __future__ import annotations

from datetime import date

import dramatiq

from volunteer_hub import after_commit
from volunteer_hub.extensions import db
from volunteer_hub.hours import records, rollups

QUEUE = "hours"


@dramatiq.actor(queue_name=QUEUE, max_retries=10, min_backoff=1_000, max_backoff=60_000)
def recompute_rollup(person_id: int, team_id: int, category_id: int, month: str) -> None:
    rollups.recompute_key(person_id, team_id, category_id, date.fromisoformat(month))
    db.session.commit()


def _key_touched(person_id: int, team_id: int, category_id: int, month: str) -> None:
    recompute_rollup.send(person_id, team_id, category_id, month)


after_commit.connect(records.KEY_TOUCHED, _key_touched)
