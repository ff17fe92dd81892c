from datetime import timedelta

import pytest
from sqlalchemy import func, select

from volunteer_hub.broker import queue_depth
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.sms import services
from volunteer_hub.sms.gateway import PermanentSmsError, RecipientOptedOut, TransientSmsError
from volunteer_hub.sms.models import ConsentChange, OutgoingSms, SmsStatus
from volunteer_hub.sms.tasks import send_sms
from volunteer_hub.sms.templates import render

CONFIRMED = render(
    "signup_confirmed", team="长江卫士队", title="防汛巡堤", when="12月1日 08:00", place="江滩",
    code="1234",
)  # fmt: skip


def _queue(person, key="notice:1"):
    return services.queue_text(
        to_phone=person.phone, text=CONFIRMED, kind="notice", dedupe_key=key, person_id=person.id
    )


def _rows():
    return db.session.scalars(select(OutgoingSms).order_by(OutgoingSms.id)).all()


def test_a_text_is_a_row_with_the_signature_and_is_sent_after_commit(app, make, broker):
    person = make.person()
    row = _queue(person)
    assert row.body == app.config["SMS_SIGNATURE"] + CONFIRMED.text
    # beside the text, what a template backend sends instead
    assert row.template_key == "signup_confirmed"
    assert row.template_vars == {
        "team": "长江卫士队", "title": "防汛巡堤", "when": "12月1日 08:00", "place": "江滩",
        "code": "1234",
    }  # fmt: skip
    assert row.status == SmsStatus.QUEUED
    assert queue_depth(broker, "sms") == 0
    db.session.commit()
    assert queue_depth(broker, "sms") == 1  # the actor is sent only once the row is committed


def test_rolled_back_text_sends_nothing(make, broker):
    person = make.person()
    _queue(person)
    db.session.rollback()
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(OutgoingSms)) == 0
    assert queue_depth(broker, "sms") == 0


def test_same_dedupe_key_is_one_text(make):
    person = make.person()
    assert _queue(person) is not None
    assert _queue(person) is None
    db.session.commit()
    assert len(_rows()) == 1


def test_opted_out_person_gets_nothing_but_the_confirmation(make):
    person = make.person()
    services.opt_out(person.id, channel="sms", keyword="TD")
    assert _queue(person) is None
    confirmation = services.queue_text(
        to_phone=person.phone,
        text=render("opted_out"),
        kind="opt_out_confirmation",
        dedupe_key="optout:1",
        person_id=person.id,
    )
    db.session.commit()
    assert confirmation is not None
    assert [r.kind for r in _rows()] == ["opt_out_confirmation"]
    change = db.session.scalar(select(ConsentChange))
    assert (change.opted_in, change.channel, change.keyword) == (False, "sms", "TD")


def test_deliver_sends_once_however_often_it_is_called(make, provider):
    person = make.person()
    row_id = _queue(person).id
    db.session.commit()
    outcomes = [services.deliver(row_id, provider).outcome for _ in range(3)]
    assert outcomes == ["sent", "skipped", "skipped"]
    assert provider.sent == [(person.phone, db.session.get(OutgoingSms, row_id).body)]
    row = db.session.get(OutgoingSms, row_id)
    assert (row.status, row.provider_sid, row.attempts) == ("sent", "REC000001", 1)


def test_opt_out_after_queueing_cancels_the_waiting_text(make, provider):
    person = make.person()
    row_id = _queue(person).id
    db.session.commit()
    services.opt_out(person.id, channel="sms", keyword="STOP")
    db.session.commit()
    assert services.deliver(row_id, provider).outcome == "skipped"
    assert provider.sent == []
    assert db.session.get(OutgoingSms, row_id).status == SmsStatus.CANCELLED


def test_opt_out_between_claim_and_send_is_still_honoured(make, provider):
    person = make.person()
    row_id = _queue(person).id
    db.session.commit()
    db.session.get(Person, person.id).sms_opted_out_at = utcnow()  # e.g. set by another process
    db.session.commit()
    assert services.deliver(row_id, provider).outcome == "cancelled"
    assert provider.sent == []


def test_transient_failure_goes_back_to_the_queue_then_succeeds(make, provider):
    person = make.person()
    row_id = _queue(person).id
    db.session.commit()
    provider.fail_next(TransientSmsError("429 Too Many Requests", code="429"))
    first = services.deliver(row_id, provider)
    assert first.retry
    row = db.session.get(OutgoingSms, row_id)
    assert (row.status, row.error_code) == ("queued", "429")
    assert services.deliver(row_id, provider).outcome == "sent"
    assert len(provider.sent) == 1
    assert db.session.get(OutgoingSms, row_id).attempts == 2


def test_no_send_slot_leaves_the_text_queued_and_unclaimed(make, provider):
    """The wait for a slot of the send rate (Redis) comes before the claim: when it fails
    the text was never near the provider, so it stays queued, never "sending"."""
    row_id = _queue(make.person()).id
    db.session.commit()

    def redis_is_down():
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6390. Connection refused.")

    delivery = services.deliver(row_id, provider, pace=redis_is_down)
    assert (delivery.outcome, delivery.retry) == ("retry", True)
    row = db.session.get(OutgoingSms, row_id)
    assert (row.status, row.attempts, row.claimed_at) == ("queued", 0, None)
    assert row.error_code == "ConnectionError"
    assert provider.sent == []
    assert services.deliver(row_id, provider, pace=lambda: None).outcome == "sent"
    assert len(provider.sent) == 1


def test_only_a_text_about_to_be_claimed_takes_a_send_slot(make, provider):
    person = make.person()
    sent = _queue(person, "sent").id
    later = services.queue_text(
        to_phone=person.phone,
        text=render("reminder", title="防汛巡堤", when="12月1日 08:00", place="江滩", code="1234"),
        kind="broadcast",
        dedupe_key="later",
        person_id=person.id,
        send_after=utcnow() + timedelta(hours=8),
    ).id
    db.session.commit()
    slots = []
    outcomes = [
        services.deliver(row_id, provider, pace=lambda: slots.append(1)).outcome
        for row_id in (sent, sent, later)
    ]
    assert outcomes == ["sent", "skipped", "skipped"]  # already sent; not yet due
    assert slots == [1]


def test_a_failure_during_the_provider_call_is_left_for_review(make, provider):
    """Only then may the provider have the text: resending could send it twice."""
    row_id = _queue(make.person()).id
    db.session.commit()
    provider.fail_next(RuntimeError("connection reset in the middle of the request"))
    with pytest.raises(RuntimeError):
        services.deliver(row_id, provider)
    db.session.rollback()
    assert db.session.get(OutgoingSms, row_id).status == SmsStatus.SENDING
    assert services.requeue_stuck(now=utcnow() + timedelta(minutes=15)) == (0, 1)
    db.session.commit()
    assert db.session.get(OutgoingSms, row_id).status == SmsStatus.REVIEW


def test_provider_says_unsubscribed_opts_the_person_out(make, provider):
    person = make.person()
    first, second = _queue(person, "a").id, _queue(person, "b").id
    db.session.commit()
    provider.fail_next(RecipientOptedOut("unsubscribed recipient", code="21610"))
    assert services.deliver(first, provider).outcome == "failed"
    assert db.session.get(Person, person.id).sms_opted_out
    assert services.deliver(second, provider).outcome == "skipped"  # cancelled with the opt-out
    assert provider.sent == []
    assert db.session.scalar(select(ConsentChange.channel)) == "provider"


def test_permanent_failure_is_not_retried(make, provider):
    row_id = _queue(make.person()).id
    db.session.commit()
    provider.fail_next(PermanentSmsError("invalid To", code="21211"))
    delivery = services.deliver(row_id, provider)
    assert (delivery.outcome, delivery.retry) == ("failed", False)
    row = db.session.get(OutgoingSms, row_id)
    assert (row.status, row.error_code) == ("failed", "21211")


def test_not_before_its_time(make, provider):
    person = make.person()
    row_id = services.queue_text(
        to_phone=person.phone,
        text=render("reminder", title="防汛巡堤", when="12月1日 08:00", place="江滩", code="1234"),
        kind="broadcast",
        dedupe_key="b:1",
        person_id=person.id,
        send_after=utcnow() + timedelta(hours=8),
    ).id
    db.session.commit()
    assert services.deliver(row_id, provider).outcome == "skipped"
    assert services.deliver(row_id, provider, now=utcnow() + timedelta(hours=9)).outcome == "sent"


def test_sweep_requeues_lost_texts_and_flags_stuck_ones(make, provider, broker):
    person = make.person()
    lost, stuck = _queue(person, "lost").id, _queue(person, "stuck").id
    db.session.commit()
    broker.flush_all()  # the first sends were lost (a worker died, Redis was flushed …)
    later = utcnow() + timedelta(minutes=15)
    services.deliver(stuck, provider)  # claimed …
    db.session.get(OutgoingSms, stuck).status = SmsStatus.SENDING  # … and its worker died mid-send
    db.session.commit()

    requeued, flagged = services.requeue_stuck(now=later)
    db.session.commit()

    assert (requeued, flagged) == (1, 1)
    assert queue_depth(broker, "sms") == 1
    assert db.session.get(OutgoingSms, stuck).status == SmsStatus.REVIEW
    assert services.deliver(lost, provider).outcome == "sent"
    assert services.requeue_stuck(now=later + timedelta(minutes=15)) == (0, 0)


@pytest.mark.slow
def test_actor_delivered_twice_at_once_sends_once(make, provider, broker, worker):
    person = make.person()
    row_id = _queue(person).id
    db.session.commit()  # enqueues the first message
    send_sms.send(row_id)  # a duplicate delivery, running concurrently on two worker threads
    broker.join("sms")
    worker.join()
    assert len(provider.sent) == 1
    db.session.expire_all()
    assert db.session.get(OutgoingSms, row_id).status == SmsStatus.SENT


@pytest.mark.slow
def test_actor_retries_transient_failures(make, provider, broker, worker, monkeypatch):
    # Dramatiq's own backoff is seconds; the retry policy is what we test, not the wait.
    monkeypatch.setattr(
        send_sms, "options", {**send_sms.options, "min_backoff": 1, "max_backoff": 5}
    )
    row_id = _queue(make.person()).id
    provider.fail_next(TransientSmsError("429", code="429"), TransientSmsError("503", code="503"))
    db.session.commit()
    broker.join("sms")
    worker.join()
    db.session.expire_all()
    row = db.session.get(OutgoingSms, row_id)
    assert (row.status, row.attempts) == ("sent", 3)
    assert len(provider.sent) == 1
