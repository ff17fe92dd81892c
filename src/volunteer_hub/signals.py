"""Domain signals, sent inside the transaction that made the change.

Receivers run at once, in the same transaction, so what they write (an outbox row for
a notice, say) commits or rolls back with the change itself. Anything that must wait
for the commit (sending an actor) goes through ``after_commit`` instead.

Each signal is sent with the changed object as sender; the keyword arguments are listed
beside it.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

#: a person was put on a shift, confirmed or waitlisted; kwargs: ``source``
signup_placed = _signals.signal("signup-placed")

#: a waitlisted signup got its seat
signup_promoted = _signals.signal("signup-promoted")

#: the organizer cancelled or removed a shift; kwargs: ``signup_ids`` (the signups it
#: ended), ``event_cancelled`` (True when the whole event went), ``reason`` (the
#: leader's words, may be empty)
shift_cancelled = _signals.signal("shift-cancelled")

#: an event's time or place changed; kwargs: ``moved_shift_ids`` (shifts whose start or
#: end changed), ``location_changed``
event_rescheduled = _signals.signal("event-rescheduled")

#: an event moved to another category; kwargs: ``old_category_id``
event_recategorized = _signals.signal("event-recategorized")
