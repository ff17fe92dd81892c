"""The domain event mechanism: phases, explicit subscriptions, loud failures."""

from dataclasses import dataclass

import pytest

from volunteer_hub import domain_events
from volunteer_hub.domain_events import DomainEvent, Phase, Subscriptions, UnhandledEvent
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person


@dataclass(frozen=True)
class Noted(DomainEvent):
    phase = Phase.IN_TRANSACTION
    what: str


@dataclass(frozen=True)
class Settled(DomainEvent):
    phase = Phase.AFTER_COMMIT
    what: str


@pytest.fixture
def subscriptions(app, monkeypatch):
    """A fresh table for this test, so the app's own handlers are left alone."""
    fresh = Subscriptions()
    monkeypatch.setitem(app.extensions, "volunteer_hub.domain_events", fresh)
    return fresh


def test_in_transaction_handlers_run_at_once_and_in_order(subscriptions):
    seen = []
    subscriptions.subscribe(Noted, lambda e: seen.append(("first", e.what)))
    subscriptions.subscribe(Noted, lambda e: seen.append(("second", e.what)))
    domain_events.publish(Noted("a"))
    assert seen == [("first", "a"), ("second", "a")]


def test_after_commit_handlers_wait_for_the_commit(subscriptions):
    seen = []
    subscriptions.subscribe(Settled, seen.append)
    db.session.add(Person(name="甲", phone="+8613900000001"))
    domain_events.publish(Settled("b"))
    domain_events.publish(Settled("b"))  # the same event twice in a transaction: once
    assert seen == []
    db.session.commit()
    assert seen == [Settled("b")]


def test_after_commit_handlers_never_run_after_a_rollback(subscriptions):
    seen = []
    subscriptions.subscribe(Settled, seen.append)
    domain_events.publish(Settled("c"))
    db.session.rollback()
    db.session.commit()
    assert seen == []


def test_an_event_nobody_handles_fails_loudly_in_tests(subscriptions):
    with pytest.raises(UnhandledEvent, match="Noted"):
        domain_events.publish(Noted("d"))


def test_every_event_the_app_declares_has_a_handler(app):
    declared = [
        cls
        for cls in vars(domain_events).values()
        if isinstance(cls, type) and issubclass(cls, DomainEvent) and cls is not DomainEvent
    ]
    subscriptions = app.extensions["volunteer_hub.domain_events"]
    assert [cls.__name__ for cls in declared if cls not in subscriptions] == []


def test_only_events_are_published_or_subscribed(subscriptions):
    with pytest.raises(TypeError):
        domain_events.publish("signup_created")
    with pytest.raises(TypeError):
        subscriptions.subscribe(str, print)


def test_an_event_class_must_declare_its_phase():
    with pytest.raises(TypeError, match="phase"):

        @dataclass(frozen=True)
        class Vague(DomainEvent):
            what: str
