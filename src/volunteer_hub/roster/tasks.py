"""The roster import job: the worker applies an import by its id (see roster.services)."""

from __future__ import annotations

import dramatiq

from volunteer_hub.roster import services

QUEUE = "roster"


# No retries: a failed import is marked failed on its page and applied again from there
# (applying is idempotent). A duplicate delivery finds the import claimed and does nothing.
@dramatiq.actor(queue_name=QUEUE, max_retries=0, time_limit=30 * 60_000)
def apply_roster_import(import_id: int):
    services.apply_import(import_id)
