"""Who reacts to which domain event: the one table of subscriptions.

``create_app`` calls ``subscribe_all``; nothing subscribes by being imported. Read a
row as "when this happens, these run" (in the order listed). What each event means and
when its handlers run (inside the transaction or after commit) is in
``volunteer_hub.domain_events``.

Three kinds of work hang off the events: texts (``sms.notices`` writes outbox rows),
calendar feeds (``calendar.tasks`` writes a feed change and sends its actor after
commit) and hour roll-ups (``hours.tasks`` marks the key and sends its actor; records
follow their event's category first, in ``hours.records``).
"""

from __future__ import annotations

from volunteer_hub.domain_events import (
    CorrectionResolved,
    EventChanged,
    RecordCounted,
    ShiftCancelled,
    SignupCancelled,
    SignupPlaced,
    SignupPromoted,
    Subscriptions,
)


def subscribe_all(subscriptions: Subscriptions) -> None:
    """Subscribe every handler of the application."""
    from volunteer_hub.calendar import tasks as feeds
    from volunteer_hub.hours import notices as hour_notices
    from volunteer_hub.hours import records
    from volunteer_hub.hours import tasks as rollups
    from volunteer_hub.sms import notices

    on = subscriptions.subscribe
    on(SignupPlaced, notices.signup_placed, feeds.signup_changed)
    on(SignupCancelled, feeds.signup_changed)
    on(SignupPromoted, notices.signup_promoted, feeds.signup_changed)
    on(ShiftCancelled, notices.shift_cancelled, feeds.shift_cancelled)
    on(EventChanged, records.follow_event_category, feeds.event_changed, notices.event_changed)
    on(RecordCounted, rollups.record_counted)
    on(CorrectionResolved, hour_notices.correction_resolved)
