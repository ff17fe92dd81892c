"""Who reacts to which domain event: the one table of subscriptions.

``create_app`` calls ``subscribe_all``; nothing subscribes by being imported. Read a
row as "when this happens, these run" (in the order listed). What each event means and
when its handlers run (inside the transaction or after commit) is in
``volunteer_hub.domain_events``.
"""

from __future__ import annotations

from volunteer_hub.domain_events import Subscriptions


def subscribe_all(subscriptions: Subscriptions) -> None:
    """Subscribe every handler of the application (filled in as publishers move over)."""
