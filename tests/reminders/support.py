"""Scenario helpers for the reminder tests: a published shift, people signed up to it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import dramatiq
from sqlalchemy import select

from tests import factories as make
from tests.conftest import stop_worker
from volunteer_hub.extensions import db
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import Signup
from volunteer_hub.sms.models import OutgoingSms, SmsKind

#: a shift start far enough ahead of any real clock: 08:00 on 1 December in Shanghai
START = datetime(2031, 12, 1, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)
#: what a reminder body starts with, signature included (notices are other texts)
REMINDER_PREFIX = "【退役军人志愿服务】提醒：您报名的"


def shift_at(starts_at: datetime = START, *, reminder_hours: str = "24,2", capacity: int = 10):
    """A published event of one 2-hour shift; returns (event, shift)."""
    event = make.event(
        make.team(),
        starts_at=starts_at,
        capacity=capacity,
        title="长江巡堤",
        location="鄂州市江堤",
        open_to_all=True,  # the people signing up here belong to no team
    )
    if reminder_hours != event.reminder_hours:
        event.reminder_hours = reminder_hours
        db.session.commit()
    return event, make.shifts_of(event)[0]


def sign_up(shift, person=None, *, at: datetime) -> Signup:
    """``person`` (a new one by default) signs up at ``at``; committed."""
    person = person or make.person()
    signup = signups.sign_up(shift.id, person.id, "sms", now=at).signup
    db.session.commit()
    return signup


def reminders() -> list[OutgoingSms]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(OutgoingSms)
            .where(OutgoingSms.kind == SmsKind.REMINDER)
            .order_by(OutgoingSms.signup_id, OutgoingSms.id)
        )
    )


def reminder_keys() -> set[str]:
    return {row.dedupe_key for row in reminders()}


def texts_at_fake(fake) -> list[dict]:
    """The reminder texts the fake Twilio accepted."""
    return [m for m in fake.messages if m["body"].startswith(REMINDER_PREFIX)]


@contextlib.contextmanager
def running_worker(broker) -> Iterator[dramatiq.Worker]:
    """A real Dramatiq worker started only now, so that a test can first lose messages
    (the ``worker`` fixture runs from the start of the test)."""
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    try:
        yield worker
    finally:
        stop_worker(broker, worker)


def drain(broker, worker) -> None:
    broker.join("sms")
    worker.join()
    db.session.expire_all()
