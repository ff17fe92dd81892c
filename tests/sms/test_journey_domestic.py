"""Acceptance of issue 12: the whole SMS journey on a mainland provider, once with
SMS_BACKEND=aliyun and once with tencent.

A volunteer signs up, another is waitlisted and promoted when the first cancels, the
reminder goes out exactly once, the promoted volunteer confirms, checks in and out and
asks for their hours; the first opts out and back in; the leader broadcasts. Every text
a volunteer sends arrives as the provider's push to our endpoint; every text we send
goes through the real SDK to the local fake, by a real Dramatiq worker (on Redis when
TEST_REDIS_URL is set), and the fake's delivery reports come back by push. A replayed
push changes nothing; a forged secret is 404.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.sms.domestic_fakes import PROVIDERS, app_on_fake, push_url
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.hours.models import ServiceRecord
from volunteer_hub.people.models import Person
from volunteer_hub.reminders.services import sweep
from volunteer_hub.signups.models import Signup, SignupStatus
from volunteer_hub.sms.broadcast import broadcast_event
from volunteer_hub.sms.models import InboundSms, OutgoingSms, SmsStatus

pytestmark = pytest.mark.slow


@pytest.fixture(params=PROVIDERS, ids=[p.name for p in PROVIDERS])
def provider(request, app, monkeypatch, tmp_path):
    # check-in opens four hours early, so the shift below (3 h away) can be checked
    # into now, after its 2-hour reminder
    with app_on_fake(app, monkeypatch, tmp_path, request.param, CHECK_IN_EARLY_MINUTES=240) as fake:
        yield request.param, fake


@pytest.fixture
def scene(make):
    """A team with a leader and two members; a published one-seat shift 3 h from now,
    reminded 2 hours before."""
    team = make.team()
    leader = make.leader(team)
    first, second = make.member(team), make.member(team)
    starts_at = (utcnow() + timedelta(hours=3)).replace(second=0, microsecond=0)
    event = make.event(team, capacity=1, starts_at=starts_at, title="长江巡堤")
    event.reminder_hours = "2"
    db.session.commit()
    return event, make.shifts_of(event)[0], leader, first, second


def everything() -> tuple:
    """What a replayed or forged push must leave alone."""
    db.session.expire_all()
    return tuple(
        tuple(tuple(row) for row in db.session.execute(select(model.__table__).order_by("id")))
        for model in (InboundSms, OutgoingSms, Signup, ServiceRecord, Person)
    )


def test_the_whole_sms_journey(client, provider, scene, broker, worker):
    kind, fake = provider
    event, shift, leader, first, second = scene

    def texts(phone: str, words: str, payload=None):
        """``phone`` texts ``words``: the provider's push, then the worker's replies."""
        payload = payload or kind.reply_push(fake, phone, words)
        response = fake.push(push_url("inbound", kind), payload, client=client)
        assert response.status_code == 200, response.get_data(as_text=True)
        broker.join("sms", timeout=60_000)
        worker.join()
        db.session.expire_all()
        return payload

    def keys(person) -> list[str]:
        return kind.keys_sent_to(fake, person.phone)

    def signup_of(person) -> Signup:
        return db.session.scalar(
            select(Signup).where(Signup.person_id == person.id, Signup.shift_id == shift.id)
        )

    # Sign-up, waitlist, and a promotion when the seat frees up.
    texts(first.phone, f"报名 {shift.code}")
    texts(second.phone, f"BM{shift.code}")
    assert keys(first) == ["signup_confirmed"]
    assert keys(second) == ["signup_waitlisted"]
    texts(first.phone, f"取消 {shift.code}")
    assert signup_of(first).status == SignupStatus.CANCELLED
    assert signup_of(second).status == SignupStatus.CONFIRMED
    assert keys(second)[1:] == ["waitlist_promoted"]

    # The reminder, exactly once however often the sweep runs. The sweeps run as of the
    # moment it falls due; the worker sends it now, inside its window.
    for _ in range(2):
        sweep(now=shift.starts_at - timedelta(hours=2) + timedelta(minutes=1))
        db.session.commit()
        broker.join("sms", timeout=60_000)
        worker.join()
    assert keys(second).count("reminder") == 1
    assert "reminder" not in keys(first)  # cancelled: no reminder

    # Confirm, check in, check out, my hours.
    texts(second.phone, "确认")
    check_in = texts(second.phone, f"签到 {shift.code}")
    texts(second.phone, f"签退 {shift.code}")
    texts(second.phone, "我的时长")
    record = db.session.scalar(select(ServiceRecord).where(ServiceRecord.person_id == second.id))
    assert record.checked_in_at is not None and record.checked_out_at is not None
    assert keys(second)[3:] == [
        "confirm_thanks_shift",
        "checked_in",
        "checked_out_hours",
        "my_hours_pending",  # the leader has not verified the record yet
    ]

    # A replayed push (the provider did not get our answer in time) changes nothing.
    before = everything()
    texts(second.phone, "", payload=check_in)
    assert everything() == before

    # Opt out and back in: the confirmation of each, nothing else meanwhile.
    texts(first.phone, "TD")
    assert db.session.get(Person, first.id).sms_opted_out_at is not None
    texts(first.phone, "订阅")
    assert db.session.get(Person, first.id).sms_opted_out_at is None
    assert keys(first)[-2:] == ["opted_out", "opted_in"]

    # The leader's broadcast reaches both members, through the batch path.
    calls_before = fake.counters["calls"]
    broadcast_event(event.id, leader.id, urgent=True)
    db.session.commit()
    broker.join("sms", timeout=60_000)
    worker.join()
    for person in (first, second):
        assert keys(person)[-1].startswith("broadcast")
    assert keys(leader) == []
    assert fake.counters["calls"] == calls_before + 1  # two numbers, one call

    # Delivery reports by push move every text forward; a replay changes nothing.
    report = kind.report_push(fake, fake.messages)
    for _ in range(2):
        response = fake.push(push_url("status", kind), report, client=client)
        assert response.status_code == 200
    db.session.expire_all()
    sent = db.session.scalars(
        select(OutgoingSms.status).where(OutgoingSms.provider_sid.is_not(None))
    )
    assert set(sent) == {SmsStatus.DELIVERED}

    # Every text went out once: one provider record per outbox row sent.
    rows_sent = db.session.scalar(
        select(func.count()).select_from(OutgoingSms).where(OutgoingSms.provider_sid.is_not(None))
    )
    assert rows_sent == len(fake.messages)


def test_a_forged_secret_is_404_and_changes_nothing(client, provider, scene):
    kind, fake = provider
    _event, shift, _leader, first, _second = scene
    before = everything()
    for path_kind in ("inbound", "status"):
        payload = kind.reply_push(fake, first.phone, f"报名 {shift.code}")
        forged = push_url(path_kind, kind, secret="not-the-secret-" + "0" * 24)
        assert fake.push(forged, payload, client=client).status_code == 404
    assert everything() == before
