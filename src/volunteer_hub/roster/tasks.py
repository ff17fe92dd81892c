"""The roster import job: the worker applies an import by its id (see roster.services)."""

from __future__ import annotations

import dramatiq

# First: it sets the placeholder broker that init_app moves actors from. Declared before
# it (this module imported on its own, by a test), the actor would stay on dramatiq's
# default broker and never reach the app's.
from volunteer_hub import broker  # noqa: F401
from volunteer_hub.roster import services

QUEUE = "roster"


# No retries: a failed import is marked failed on its page and applied again from there
# (applying is idempotent). A duplicate delivery finds the import claimed and does nothing.
@dramatiq.actor(queue_name=QUEUE, max_retries=0, time_limit=30 * 60_000)
def apply_roster_import(import_id: int):
    services.apply_import(import_id)
