"""Acceptance of issue 3 (reminders, exactly once), end to end: the sweep writes rows, a
real Dramatiq worker runs the ``send_sms`` actor, and the real ``twilio`` client talks to
the local fake Twilio, which is where texts are counted.

The shift is three days ahead on the real clock and the sweeps run "as of" the moments
its reminders fall due, so every reminder is inside its window when the worker sends it
now. Texts the sign-ups cause on their own (notices) are not what is counted here:
``texts_at_fake`` keeps the reminders.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta

import pytest

from tests.reminders.support import (
    HOUR,
    MINUTE,
    REMINDER_PREFIX,
    drain,
    reminders,
    running_worker,
    shift_at,
    sign_up,
    texts_at_fake,
)
from volunteer_hub import scheduler
from volunteer_hub.db import utcnow
from volunteer_hub.devtools.fake_twilio_account import FROM_NUMBER
from volunteer_hub.events.services import EventInput, ShiftInput, update_event
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.reminders.services import sweep
from volunteer_hub.sms import services as sms
from volunteer_hub.sms.models import OutgoingSms, SmsStatus
from volunteer_hub.sms.replies import format_time
from volunteer_hub.sms.tasks import send_sms

pytestmark = pytest.mark.slow


@pytest.fixture
def start(app, twilio_gateway):
    """The shift's start, three days from now; the app sends through the fake Twilio."""
    app.extensions["sms_gateway"] = twilio_gateway
    return (utcnow() + timedelta(days=3)).replace(second=0, microsecond=0)


def _due_24(start):
    return start - 24 * HOUR + MINUTE


def _due_2(start):
    return start - 2 * HOUR + MINUTE


def _people_on(shift, n):
    return [sign_up(shift, at=utcnow()) for _ in range(n)]


def phone_of(signup) -> str:
    return db.session.get(Person, signup.person_id).phone


def _phones(texts):
    return sorted(text["to"] for text in texts)


# -- exactly once ------------------------------------------------------------------------


def test_each_due_reminder_is_sent_once_though_the_actor_is_delivered_twice(
    broker, fake_twilio, start
):
    _event, shift = shift_at(start)
    signups = _people_on(shift, 5)
    phones = sorted(phone_of(s) for s in signups)

    with running_worker(broker) as worker:
        assert sweep(_due_24(start)).queued == 5
        db.session.commit()  # the first actor message for each row
        for row in reminders():
            send_sms.send(row.id)  # and a duplicate delivery of each
        assert sweep(_due_24(start) + MINUTE).queued == 0  # the next minute's sweep
        db.session.commit()
        scheduler.tick(utcnow() + 5 * MINUTE)  # and the outbox recovery, for good measure
        drain(broker, worker)

    texts = texts_at_fake(fake_twilio)
    assert _phones(texts) == phones
    rows = reminders()
    assert {row.status for row in rows} == {SmsStatus.SENT}
    assert sorted(row.provider_sid for row in rows) == sorted(text["sid"] for text in texts)
    assert all(row.attempts == 1 for row in rows)


def test_two_workers_delivering_the_same_row_at_once_send_it_once(
    app, fake_twilio, twilio_gateway, start
):
    _event, shift = shift_at(start)
    _people_on(shift, 1)
    sweep(_due_24(start))
    db.session.commit()
    [row] = reminders()
    row_id = row.id
    db.session.commit()  # on SQLite an open transaction would hold the write lock
    barrier = threading.Barrier(2)
    outcomes, errors = [], []

    def deliver():
        with app.app_context():
            try:
                barrier.wait()
                outcomes.append(sms.deliver(row_id, twilio_gateway).outcome)
            except Exception as exc:  # reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(outcomes) == ["sent", "skipped"]
    assert len(texts_at_fake(fake_twilio)) == 1
    assert reminders()[0].status == SmsStatus.SENT


# -- a worker killed mid-send ------------------------------------------------------------

_CRASHING_WORKER = textwrap.dedent(
    """
    import sys

    from volunteer_hub import create_app
    from volunteer_hub.sms.backends.twilio import TwilioGateway
    from volunteer_hub.sms.services import deliver

    url, row_id, base_url, account_sid, auth_token, from_number = sys.argv[1:]
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "SQLALCHEMY_ENGINE_OPTIONS": (
            {"connect_args": {"timeout": 30}} if url.startswith("sqlite") else {}
        ),
        "REDIS_URL": None,
        "RATELIMIT_STORAGE_URI": "memory://",
        "SECRET_KEY": "crashing-worker",
        "EMBEDDED_WORKER": False,
    })
    with app.app_context():
        gateway = TwilioGateway(
            account_sid=account_sid,
            auth_token=auth_token,
            from_number=from_number,
            api_base_url=base_url,
            timeout=600,
        )
        deliver(int(row_id), gateway)
    """
)


def _worker_killed_while_provider_thinks(database_url, fake, row_id):
    """Run ``deliver`` for the row in a separate process and kill it (SIGKILL) once its
    request has reached the provider and before the provider has answered: the row was
    claimed, the text may or may not go out, and nobody recorded which."""
    db.session.commit()  # on SQLite an open transaction would hold the write lock
    fake.delay_next(600)  # the provider takes its time over this one
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _CRASHING_WORKER,
            database_url,
            str(row_id),
            fake.base_url,
            fake.account_sid,
            fake.auth_token,
            FROM_NUMBER,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    try:
        while fake.requests < 1 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        child.send_signal(signal.SIGKILL)  # no clean-up of any kind: a crash
        _out, err = child.communicate()
    assert fake.requests == 1, f"the worker never reached the provider: {err.decode()[-2000:]}"
    assert child.returncode == -signal.SIGKILL, err.decode()[-2000:]


def test_a_worker_killed_mid_send_sends_nothing_twice_and_loses_nothing(
    database_url, broker, fake_twilio, start
):
    _event, shift = shift_at(start)
    in_flight, lost = _people_on(shift, 2)
    sweep(_due_24(start))
    db.session.commit()
    rows = {row.signup_id: row.id for row in reminders()}
    broker.flush_all()  # every actor message is lost (the worker died with them)

    _worker_killed_while_provider_thinks(database_url, fake_twilio, rows[in_flight.id])
    db.session.expire_all()
    stuck = db.session.get(OutgoingSms, rows[in_flight.id])
    assert (stuck.status, stuck.attempts) == (SmsStatus.SENDING, 1)

    now = utcnow()
    with running_worker(broker) as worker:
        # The restarted scheduler ticks on: each tick as of a minute later.
        for minutes in (1, 3, 5, 11, 12, 30):
            scheduler.tick(now + minutes * MINUTE)
            drain(broker, worker)

    db.session.expire_all()
    stuck = db.session.get(OutgoingSms, rows[in_flight.id])
    sent = db.session.get(OutgoingSms, rows[lost.id])
    # The lost one went out once; the one in flight waits for a person, never resent.
    assert (sent.status, sent.attempts) == (SmsStatus.SENT, 1)
    assert (stuck.status, stuck.attempts) == (SmsStatus.REVIEW, 1)
    assert [text["to"] for text in texts_at_fake(fake_twilio)] == [phone_of(lost)]
    # One request for the crashed send (still unanswered), one per text accepted since.
    assert fake_twilio.requests == 1 + len(fake_twilio.messages)


# -- opt-out -----------------------------------------------------------------------------


def test_opted_out_people_get_no_texts(broker, fake_twilio, start):
    _event, shift = shift_at(start)
    before, between, late, keeps = _people_on(shift, 4)
    phone = {s.id: phone_of(s) for s in (before, between, late, keeps)}
    sms.opt_out(before.person_id, channel="sms", keyword="TD")
    db.session.commit()

    with running_worker(broker) as worker:
        sweep(_due_24(start))
        db.session.commit()
        drain(broker, worker)
    sms.opt_out(between.person_id, channel="sms", keyword="退订")
    db.session.commit()
    texts_to_between = len(fake_twilio.messages_to(phone[between.id]))

    sweep(_due_2(start))
    db.session.commit()  # actor messages wait in the broker: no worker is running
    sms.opt_out(late.person_id, channel="sms", keyword="STOP")  # queued, not yet sent
    db.session.commit()
    with running_worker(broker) as worker:
        drain(broker, worker)

    reminder_phones = _phones(texts_at_fake(fake_twilio))
    assert reminder_phones == sorted(
        [phone[between.id], phone[late.id], phone[keeps.id], phone[keeps.id]]
    )
    assert fake_twilio.messages_to(phone[before.id]) == []  # nothing at all, ever
    assert len(fake_twilio.messages_to(phone[between.id])) == texts_to_between
    [late_2h] = [r for r in reminders() if r.signup_id == late.id and ":2h:" in r.dedupe_key]
    assert late_2h.status == SmsStatus.CANCELLED


# -- provider trouble ----------------------------------------------------------------------


def test_429_then_success_is_retried_and_sent_once(broker, fake_twilio, start, monkeypatch):
    # Dramatiq's own backoff is seconds; the retry is what is tested, not the wait.
    monkeypatch.setattr(
        send_sms, "options", {**send_sms.options, "min_backoff": 1, "max_backoff": 5}
    )
    _event, shift = shift_at(start)
    [signup] = _people_on(shift, 1)
    broker.flush_all()  # only the reminder goes to the fake in this test
    fake_twilio.fail_next(429)

    with running_worker(broker) as worker:
        sweep(_due_24(start))
        db.session.commit()
        drain(broker, worker)

    [row] = reminders()
    assert (row.status, row.attempts) == (SmsStatus.SENT, 2)
    assert fake_twilio.statuses[429] == 1
    assert [text["to"] for text in texts_at_fake(fake_twilio)] == [phone_of(signup)]
    assert row.provider_sid == texts_at_fake(fake_twilio)[0]["sid"]


# -- a moved shift -----------------------------------------------------------------------


def test_a_moved_shift_gets_new_reminders_and_none_of_the_old(broker, fake_twilio, start):
    event, shift = shift_at(start)
    signups = _people_on(shift, 2)
    sweep(_due_24(start))
    db.session.commit()  # the old reminders are queued; no worker has run yet
    old_keys = {row.dedupe_key for row in reminders()}

    moved_to = start + 3 * HOUR
    update_event(
        event.id,
        EventInput(title=event.title, category_id=event.category_id, location=event.location),
        [
            ShiftInput(
                id=shift.id,
                starts_at=moved_to,
                ends_at=moved_to + 2 * HOUR,
                capacity=shift.capacity,
            )
        ],
    )
    db.session.commit()

    with running_worker(broker) as worker:
        drain(broker, worker)
        assert texts_at_fake(fake_twilio) == []  # the queued old ones were not sent
        assert sweep(_due_24(start) + MINUTE).queued == 0  # nothing due for the old time
        assert sweep(_due_24(moved_to)).queued == 2
        db.session.commit()
        drain(broker, worker)

    texts = texts_at_fake(fake_twilio)
    assert _phones(texts) == sorted(phone_of(s) for s in signups)
    assert all(f"将于{format_time(moved_to)}开始" in text["body"] for text in texts)
    assert not any(format_time(start) in text["body"] for text in texts)
    by_key = {row.dedupe_key: row for row in reminders()}
    assert {by_key[key].error_message for key in old_keys} == {"shift moved"}
    assert {row.status for key, row in by_key.items() if key not in old_keys} == {SmsStatus.SENT}
    assert all(text["body"].startswith(REMINDER_PREFIX) for text in texts)
