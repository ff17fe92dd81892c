"""Domain events: the one way a service announces a change to the rest of the code.

A service that changed something publishes an event, a frozen dataclass named for what
happened (``SignupPlaced``, ``EventChanged`` ...) that carries ids and plain values,
never ORM objects. Each event class declares when its handlers run:

* ``Phase.IN_TRANSACTION``: at once, inside the transaction that made the change, so
  what they write (an outbox row, a dirty mark) commits or rolls back with it;
* ``Phase.AFTER_COMMIT``: once the outermost transaction has committed (through
  ``after_commit``), never after a rollback, for work that must see committed rows.

Handlers are subscribed explicitly, in ``volunteer_hub.handlers``, which ``create_app``
calls: nothing subscribes by being imported, so that one table lists who reacts to
what. Publishing an event nobody handles is a bug: it raises ``UnhandledEvent`` in
debug and testing, and is logged as an error elsewhere (the change itself still stands).

A handler that writes a dirty mark (a roll-up key, a feed change) asks
``new_in_transaction`` first, so that a transaction announcing the same thing twice
writes its mark once.
"""

from __future__ import annotations

import enum
import logging
import weakref
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ClassVar, TypeVar

from flask import Flask, current_app

from volunteer_hub import after_commit

log = logging.getLogger(__name__)

_EXTENSION = "volunteer_hub.domain_events"


class Phase(enum.Enum):
    IN_TRANSACTION = "in the transaction"
    AFTER_COMMIT = "after commit"


@dataclass(frozen=True)
class DomainEvent:
    """Base of every domain event; subclasses are frozen dataclasses with a ``phase``."""

    phase: ClassVar[Phase]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not isinstance(cls.__dict__.get("phase"), Phase):
            raise TypeError(f"{cls.__name__} must declare its phase (Phase.IN_TRANSACTION …)")


E = TypeVar("E", bound=DomainEvent)
Handler = Callable[[Any], None]


class UnhandledEvent(RuntimeError):
    """An event was published that no handler is subscribed to."""


class Subscriptions:
    """Which handlers run for which event class (one per app, in ``app.extensions``)."""

    def __init__(self) -> None:
        self._handlers: dict[type[DomainEvent], list[Handler]] = {}

    def subscribe(self, event_class: type[E], *handlers: Callable[[E], None]) -> None:
        if not (isinstance(event_class, type) and issubclass(event_class, DomainEvent)):
            raise TypeError(f"{event_class!r} is not a DomainEvent class")
        known = self._handlers.setdefault(event_class, [])
        known.extend(h for h in handlers if h not in known)

    def handlers_for(self, event_class: type[DomainEvent]) -> list[Handler]:
        return list(self._handlers.get(event_class, ()))

    def __contains__(self, event_class: type[DomainEvent]) -> bool:
        return bool(self._handlers.get(event_class))


def init_app(app: Flask) -> Subscriptions:
    subscriptions = app.extensions[_EXTENSION] = Subscriptions()
    return subscriptions


def publish(event: DomainEvent) -> None:
    """Announce ``event``: run its handlers now or after commit, as its class declares."""
    if not isinstance(event, DomainEvent):
        raise TypeError(f"{event!r} is not a DomainEvent")
    subscriptions: Subscriptions = current_app.extensions[_EXTENSION]
    handlers = subscriptions.handlers_for(type(event))
    if not handlers:
        _unhandled(event)
        return
    if event.phase is Phase.IN_TRANSACTION:
        for handler in handlers:
            handler(event)
    else:
        for handler in handlers:
            after_commit.enqueue(handler, event)


def _unhandled(event: DomainEvent) -> None:
    message = f"no handler is subscribed to {type(event).__name__}"
    if current_app.debug or current_app.testing:
        raise UnhandledEvent(message)
    log.error("%s; published: %r", message, event)


_SEEN_KEY = "volunteer_hub.domain_events.seen"


def new_in_transaction(*keys: Hashable) -> bool:
    """Note ``keys`` as written by the current transaction; True when one of them was
    not yet, i.e. the caller has something to write.

    Kept per innermost transaction: what a savepoint wrote and then rolled back is
    forgotten with it (the mark is written again), and what an enclosing transaction
    wrote is not seen inside a savepoint (written twice at worst, which is harmless)."""
    from volunteer_hub.extensions import db

    session = db.session()
    if not session.in_transaction():
        session.begin()
    transaction = session.get_nested_transaction() or session.get_transaction()
    per_transaction = session.info.setdefault(_SEEN_KEY, weakref.WeakKeyDictionary())
    seen = per_transaction.setdefault(transaction, set())
    new = set(keys) - seen
    seen.update(new)
    return bool(new)


# -- the events ------------------------------------------------------------------------
# Ids and plain values only: a handler loads what it needs (from the identity map, as a
# rule, since the publishing service has just loaded it), or reads it from the event
# when the publisher hands it over (``SignupPlaced.facts``).


@dataclass(frozen=True)
class PlacedFacts:
    """What the handlers of a ``SignupPlaced`` read of the signup, its person and its
    shift, as the sign-up just wrote and read them (plain values)."""

    status: str  #: SignupStatus value: "confirmed" or "waitlisted"
    person_id: int
    phone: str  #: the person's number, where the notice goes
    event_id: int
    #: what the notice names: the shift's start and code, the event, its team
    starts_at: datetime
    code: str | None
    title: str
    location: str
    team_name: str


@dataclass(frozen=True)
class SignupPlaced(DomainEvent):
    """A person was put on a shift, confirmed or waitlisted.

    One rule for its handlers: a publisher that has the facts passes them in ``facts``
    (the sign-up core, ``signups.services``, through which the web, the API, SMS and
    call-outs sign up, always does), and the handlers then load nothing; a publisher
    without them (a walk-in) leaves ``facts`` None, and the handlers load the signup."""

    phase = Phase.IN_TRANSACTION
    signup_id: int
    source: str  #: SignupSource value: "sms", "web", "api" ...
    #: 1-based place on the waitlist as counted by sign_up (None when confirmed), so
    #: the notice need not count the queue a second time
    waitlist_position: int | None = None
    facts: PlacedFacts | None = None


@dataclass(frozen=True)
class SignupCancelled(DomainEvent):
    """One signup ended: cancelled by its person or by a leader (not with its shift)."""

    phase = Phase.IN_TRANSACTION
    signup_id: int


@dataclass(frozen=True)
class SignupPromoted(DomainEvent):
    """A waitlisted signup got its seat."""

    phase = Phase.IN_TRANSACTION
    signup_id: int


@dataclass(frozen=True)
class ShiftCancelled(DomainEvent):
    """The organizer cancelled or removed a shift, ending its active signups."""

    phase = Phase.IN_TRANSACTION
    shift_id: int
    signup_ids: tuple[int, ...]  #: the signups it ended
    event_cancelled: bool  #: the whole event went, not just this shift
    reason: str = ""  #: the leader's words, may be empty


@dataclass(frozen=True)
class EventChanged(DomainEvent):
    """An event was created, edited or cancelled; the fields say what moved."""

    phase = Phase.IN_TRANSACTION
    event_id: int
    moved_shift_ids: tuple[int, ...] = ()  #: shifts whose start or end changed
    location_changed: bool = False
    old_category_id: int | None = None  #: set when the event moved to another category


@dataclass(frozen=True)
class RecordCounted(DomainEvent):
    """A service record that counts in the roll-ups changed: its key must be recomputed
    (published for the key before a change and again for the key after it)."""

    phase = Phase.IN_TRANSACTION
    person_id: int
    team_id: int
    category_id: int
    month: date  #: first day of the month


@dataclass(frozen=True)
class CorrectionResolved(DomainEvent):
    """A leader closed a volunteer's correction request on a service record."""

    phase = Phase.IN_TRANSACTION
    record_id: int
    requested_at: datetime  #: when the request was made: one notice per request
    note: str  #: the leader's words, what the volunteer is told
