"""Broadcasts and call-outs in batches: many numbers per provider call, each row its own
outcome, nothing sent twice, the send rate counted in texts.

Through the real SDKs against the local fakes of Aliyun and Tencent Cloud."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.sms.domestic_fakes import ALIYUN, TENCENT, app_on_fake
from volunteer_hub.broker import queue_depth
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.sms import pauses
from volunteer_hub.sms.backends import current_gateway
from volunteer_hub.sms.batches import deliver_batch
from volunteer_hub.sms.fanout import Text, queue_many
from volunteer_hub.sms.models import OutgoingSms, SmsKind, SmsStatus
from volunteer_hub.sms.templates import render

CALL = render(
    "broadcast_one", title="紧急集合", when="12月1日 08:00", place="江堤二号闸口", code="1234"
)


def call_out(people, key: str = "test", urgent: bool = True) -> list[int]:
    """The broadcast text to each of ``people``, queued and committed; the row ids."""
    queued = queue_many(
        (Text(person.id, CALL, f"{key}:{person.id}") for person in people),
        kind=SmsKind.BROADCAST,
        is_urgent=urgent,
    )
    db.session.commit()
    return [row.id for row in queued]


def rows() -> list[OutgoingSms]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutgoingSms).order_by(OutgoingSms.id)))


def statuses() -> list[str]:
    return [row.status for row in rows()]


@pytest.fixture
def aliyun(app, monkeypatch, tmp_path):
    with app_on_fake(app, monkeypatch, tmp_path, ALIYUN) as fake:
        yield fake


@pytest.fixture
def tencent(app, monkeypatch, tmp_path):
    with app_on_fake(app, monkeypatch, tmp_path, TENCENT) as fake:
        yield fake


def test_a_call_out_goes_a_hundred_numbers_a_call_through_a_real_worker(
    provider, make, broker, worker
):
    kind, fake = provider
    people = [make.person() for _ in range(130)]

    ids = call_out(people)

    broker.join("sms", timeout=60_000)
    worker.join()
    assert statuses() == [SmsStatus.SENT] * 130
    assert len(fake.messages) == 130
    for person in people:
        assert len(kind.texts_to(fake, person.phone)) == 1
    assert len({row.provider_sid for row in rows()}) == 130  # each report finds its row
    assert len(ids) == 130
    assert fake.counters == {"calls": 2, "texts": 130}  # 100 + 30 texts
    if kind is ALIYUN:
        assert fake.calls == ["SendBatchSms", "SendBatchSms"]


def test_one_actor_message_per_batch(provider, make, broker):
    call_out([make.person() for _ in range(250)])
    assert queue_depth(broker, "sms") == 3  # 100 + 100 + 50


def test_with_batching_off_each_text_is_its_own_call(
    app, provider, make, broker, worker, monkeypatch
):
    _, fake = provider
    monkeypatch.setitem(app.config, "SMS_BATCH_SIZE", 0)

    call_out([make.person() for _ in range(3)])

    broker.join("sms", timeout=60_000)
    worker.join()
    assert fake.counters == {"calls": 3, "texts": 3}


def test_a_backend_without_batches_gets_one_message_per_text(make, broker):
    # the console backend (the default in tests) sends one text per call
    call_out([make.person() for _ in range(3)])
    assert queue_depth(broker, "sms") == 3
    call_out([make.person() for _ in range(120)], key="many")
    assert queue_depth(broker, "sms") == 3 + 1  # the worker sends the 120 messages


def test_a_redelivered_batch_sends_nothing_twice(provider, make):
    _, fake = provider
    ids = call_out([make.person() for _ in range(3)])
    gateway = current_gateway()

    first = deliver_batch(ids, gateway)
    again = deliver_batch(ids, gateway)

    assert (first.sent, first.skipped) == (3, 0)
    assert (again.sent, again.skipped) == (0, 3)
    assert len(fake.messages) == 3
    assert statuses() == [SmsStatus.SENT] * 3


def test_the_send_rate_counts_texts_not_calls(aliyun, make):
    ids = call_out([make.person() for _ in range(5)])
    slots = []

    deliver_batch(ids, current_gateway(), pace=slots.append)

    assert slots == [5]  # five slots of the send rate for one provider call
    assert aliyun.calls == ["SendBatchSms"]


def test_no_send_slot_leaves_the_batch_queued_and_unclaimed(aliyun, make):
    ids = call_out([make.person() for _ in range(3)])

    def no_slot(texts):
        raise ConnectionError("redis away")

    delivery = deliver_batch(ids, current_gateway(), pace=no_slot)

    assert delivery.waiting == 3
    assert statuses() == [SmsStatus.QUEUED] * 3
    assert {row.attempts for row in rows()} == {0}
    assert aliyun.calls == []


def test_flow_control_puts_the_batch_back_and_the_retry_sends_it_once(aliyun, make):
    ids = call_out([make.person() for _ in range(3)])
    aliyun.fail_next("isv.BUSINESS_LIMIT_CONTROL")

    held = deliver_batch(ids, current_gateway())
    assert held.waiting == 3
    assert statuses() == [SmsStatus.QUEUED] * 3
    assert all("isv.BUSINESS_LIMIT_CONTROL" in row.error_message for row in rows())

    retried = deliver_batch(ids, current_gateway())
    assert (retried.sent, retried.waiting) == (3, 0)
    assert len(aliyun.messages) == 3
    assert aliyun.calls == ["SendBatchSms", "SendBatchSms"]


def test_an_empty_balance_pauses_the_whole_batch(aliyun, make):
    ids = call_out([make.person() for _ in range(2)])
    aliyun.balance = 1  # not enough for both: Aliyun refuses the whole call

    delivery = deliver_batch(ids, current_gateway())

    assert delivery.waiting == 2
    assert all("isv.AMOUNT_NOT_ENOUGH" in row.error_message for row in rows())
    assert aliyun.messages == []


def test_an_empty_balance_pauses_the_backend_until_an_operator_resumes_it(aliyun, make):
    ids = call_out([make.person() for _ in range(2)])
    aliyun.balance = 1

    assert deliver_batch(ids, current_gateway()).paused
    assert pauses.current("aliyun") is not None
    aliyun.balance = 1_000  # topped up, but nobody pressed 恢复发送 yet
    again = deliver_batch(ids, current_gateway())

    assert again.paused and again.waiting == 0
    assert statuses() == [SmsStatus.QUEUED] * 2
    assert {row.error_code for row in rows()} == {pauses.PAUSED_CODE}
    assert aliyun.messages == []


def test_a_recipient_at_the_cap_is_held_while_the_rest_of_the_batch_goes(
    aliyun, make, app, monkeypatch
):
    monkeypatch.setitem(app.config, "SMS_RECIPIENT_DAILY_CAP", 1)
    capped, free = make.person(), make.person()
    earlier = call_out([capped], key="earlier", urgent=False)
    assert deliver_batch(earlier, current_gateway()).sent == 1

    delivery = deliver_batch(call_out([capped, free], urgent=False), current_gateway())

    assert (delivery.sent, delivery.skipped) == (1, 1)
    held = next(row for row in rows() if row.person_id == capped.id and row.id not in earlier)
    assert held.status == SmsStatus.QUEUED and held.send_after is not None
    assert held.error_code == "recipient-cap"
    assert len(ALIYUN.texts_to(aliyun, capped.phone)) == 1  # the earlier text only
    assert len(ALIYUN.texts_to(aliyun, free.phone)) == 1


def test_each_number_keeps_its_own_outcome(tencent, make):
    kept, blocked, other = (make.person() for _ in range(3))
    ids = call_out([kept, blocked, other])
    tencent.number_errors[blocked.phone] = "FailedOperation.PhoneNumberInBlacklist"

    delivery = deliver_batch(ids, current_gateway())

    assert (delivery.sent, delivery.failed) == (2, 1)
    by_person = {row.person_id: row for row in rows()}
    assert by_person[blocked.id].status == SmsStatus.FAILED
    assert by_person[blocked.id].provider_sid is None
    # the carrier's do-not-disturb list means the person unsubscribed: so do we
    assert db.session.get(Person, blocked.id).sms_opted_out_at is not None
    for person in (kept, other):
        [text] = TENCENT.texts_to(tencent, person.phone)
        assert by_person[person.id].status == SmsStatus.SENT
        assert by_person[person.id].provider_sid == text["serial_no"]
    assert tencent.requests == 1


def test_an_invalid_number_fails_alone_at_aliyun(aliyun, make):
    good, bad = make.person(), make.person()
    ids = call_out([good, bad])
    aliyun.invalid_numbers.add(bad.phone)  # Aliyun refuses the whole batch for it

    delivery = deliver_batch(ids, current_gateway())

    assert (delivery.sent, delivery.failed) == (1, 1)
    by_person = {row.person_id: row.status for row in rows()}
    assert by_person == {good.id: SmsStatus.SENT, bad.id: SmsStatus.FAILED}
    assert [text["to"] for text in aliyun.messages] == [good.phone]


def test_a_text_past_its_time_is_screened_out_of_the_batch(provider, make):
    kind, fake = provider
    late, on_time = make.person(), make.person()
    ids = call_out([late, on_time])
    db.session.execute(
        update(OutgoingSms)
        .where(OutgoingSms.person_id == late.id)
        .values(expires_at=utcnow() - timedelta(minutes=1))
    )
    db.session.commit()

    delivery = deliver_batch(ids, current_gateway())

    assert (delivery.sent, delivery.cancelled) == (1, 1)
    by_person = {row.person_id: row for row in rows()}
    assert by_person[late.id].status == SmsStatus.CANCELLED
    assert by_person[late.id].error_message == "expired"
    assert kind.texts_to(fake, late.phone) == []
    assert len(kind.texts_to(fake, on_time.phone)) == 1


def test_tencent_groups_numbers_by_their_variables(tencent, make):
    first, second = make.person(), make.person()
    other = render(
        "broadcast_one", title="防汛值守", when="12月2日 08:00", place="闸口", code="5678"
    )
    queued = queue_many(
        [
            Text(first.id, CALL, f"a:{first.id}"),
            Text(second.id, other, f"b:{second.id}"),
        ],
        kind=SmsKind.BROADCAST,
    )
    db.session.commit()

    delivery = deliver_batch([row.id for row in queued], current_gateway())

    assert delivery.sent == 2
    assert tencent.requests == 2  # one parameter set per SendSms call
    [text] = TENCENT.texts_to(tencent, second.phone)
    assert "防汛值守" in text["params"]


def test_many_texts_for_a_backend_without_batches_are_fanned_out_by_the_worker(
    make, broker, worker
):
    # the console backend: a call-out to a district costs the request a few broker
    # messages; the worker sends each text's own message
    people = [make.person() for _ in range(120)]

    call_out(people)

    broker.join("sms", timeout=60_000)
    worker.join()
    assert statuses() == [SmsStatus.DELIVERED] * 120  # the console's final word


def test_a_broken_backend_setting_does_not_fail_the_call_out(app, make, broker, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_BACKEND", "aliyun")  # and no credentials at all
    app.extensions.pop("sms_gateway", None)

    ids = call_out([make.person() for _ in range(3)])

    assert len(ids) == 3
    assert queue_depth(broker, "sms") == 3  # one by one: each actor fails loudly
