"""The reminder sweep: which reminders it writes, when, and what ``deliver`` still sends.

Times are fixed (a shift on 1 December 2031, 08:00 in Shanghai) and given to the sweep
and to ``deliver`` as ``now``; the provider is the recording stand-in of tests/messaging.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.reminders.support import HOUR, MINUTE, START, reminders, shift_at, sign_up
from volunteer_hub.events.services import EventInput, ShiftInput, cancel_event, update_event
from volunteer_hub.extensions import db
from volunteer_hub.reminders.services import dedupe_key, grace, parse_offsets, sweep
from volunteer_hub.signups import services as signups
from volunteer_hub.sms import services as sms
from volunteer_hub.sms.models import OutgoingSms, SmsKind, SmsStatus
from volunteer_hub.sms.templates import render

SIGNED_UP = START - 72 * HOUR  # well before any reminder is due
DUE_24 = START - 24 * HOUR
DUE_2 = START - 2 * HOUR


def _one_signup(**shift_options):
    event, shift = shift_at(**shift_options)
    return event, shift, sign_up(shift, at=SIGNED_UP)


# -- what is written, and when --------------------------------------------------------


def test_the_24_hour_reminder_is_written_when_due(app):
    _event, shift, signup = _one_signup()

    result = sweep(DUE_24 + MINUTE)
    db.session.commit()

    assert (result.queued, result.existing, result.dropped) == (1, 0, 0)
    [row] = reminders()
    assert row.dedupe_key == f"reminder:{signup.id}:24h:2031-12-01T00:00Z"
    assert (row.signup_id, row.shift_starts_at, row.person_id) == (
        signup.id,
        START,
        signup.person_id,
    )
    assert row.expires_at == DUE_24 + 6 * HOUR
    assert row.status == SmsStatus.QUEUED
    assert row.body == (
        "【退役军人志愿服务】提醒：您报名的“长江巡堤”将于12月1日 08:00开始，地点：鄂州市江堤。"
        f"回复“确认”确认参加，回复“取消 {shift.code}”取消。"
    )


def test_the_2_hour_reminder_follows_and_the_24_hour_one_is_not_written_again(app):
    _event, _shift, signup = _one_signup()
    sweep(DUE_24)  # exactly due counts as due
    db.session.commit()

    result = sweep(DUE_2 + MINUTE)
    db.session.commit()

    assert (result.queued, result.existing) == (1, 1)
    assert [row.dedupe_key for row in reminders()] == [
        f"reminder:{signup.id}:24h:2031-12-01T00:00Z",
        f"reminder:{signup.id}:2h:2031-12-01T00:00Z",
    ]
    assert reminders()[1].expires_at == DUE_2 + 30 * MINUTE


def test_nothing_before_it_is_due(app):
    _one_signup()
    result = sweep(DUE_24 - MINUTE)
    db.session.commit()
    assert result.queued == 0
    assert reminders() == []


@pytest.mark.parametrize("hours", ["", " ", "abc", "0", "-2"])
def test_reminders_off_or_nonsense_writes_nothing(app, hours):
    _one_signup(reminder_hours=hours)
    for now in (DUE_24 + MINUTE, DUE_2 + MINUTE):
        assert sweep(now).queued == 0
    db.session.commit()
    assert reminders() == []


def test_an_event_with_its_own_offsets(app):
    _event, _shift, _signup = _one_signup(reminder_hours="48，3")  # full-width comma, typed
    assert sweep(START - 48 * HOUR + MINUTE).queued == 1
    assert sweep(DUE_24 + MINUTE).queued == 0
    assert sweep(START - 3 * HOUR).queued == 1
    db.session.commit()
    assert [row.dedupe_key.split(":")[2] for row in reminders()] == ["48h", "3h"]


def test_offsets_are_parsed_forgivingly():
    assert parse_offsets("24,2") == (24, 2)
    assert parse_offsets(" 2, 24 ,24") == (24, 2)
    assert parse_offsets("２４、2；1") == (24, 2, 1)
    assert parse_offsets("24 2") == (24, 2)
    assert parse_offsets("24,,x,1.5,0,-1,9999,2") == (24, 2)
    assert parse_offsets("") == parse_offsets(None) == ()


def test_window_is_a_quarter_of_the_offset_and_at_least_15_minutes():
    assert grace(timedelta(hours=24)) == timedelta(hours=6)
    assert grace(timedelta(hours=2)) == timedelta(minutes=30)
    assert grace(timedelta(hours=1)) == timedelta(minutes=15)


def test_dedupe_key_names_the_start_in_utc():
    from datetime import datetime
    from zoneinfo import ZoneInfo

    local = datetime(2026, 12, 1, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert dedupe_key(41, 24, local) == "reminder:41:24h:2026-12-01T00:00Z"
    with pytest.raises(ValueError):
        dedupe_key(41, 24, local.replace(tzinfo=None))


# -- who gets none ------------------------------------------------------------------


def test_cancelled_signup_gets_none(app):
    _event, _shift, signup = _one_signup()
    signups.cancel(signup.id, now=SIGNED_UP + HOUR)
    db.session.commit()
    assert sweep(DUE_24 + MINUTE).queued == 0
    assert reminders() == []


def test_cancelled_shift_gets_none(app):
    _event, shift, _signup = _one_signup()
    signups.cancel_shift(shift.id, now=SIGNED_UP + HOUR)
    db.session.commit()
    assert sweep(DUE_24 + MINUTE).queued == 0
    assert reminders() == []


def test_cancelled_event_gets_none(app):
    event, _shift, _signup = _one_signup()
    cancel_event(event.id)
    db.session.commit()
    assert sweep(DUE_24 + MINUTE).queued == 0
    assert reminders() == []


def test_waitlisted_get_none_until_promoted_and_then_only_what_is_still_ahead(app):
    _event, shift = shift_at(capacity=1)
    seated = sign_up(shift, at=SIGNED_UP)
    waiting = sign_up(shift, at=SIGNED_UP + MINUTE)
    assert waiting.status == "waitlisted"

    sweep(DUE_24 + MINUTE)
    db.session.commit()
    assert [row.signup_id for row in reminders()] == [seated.id]

    promoted_at = DUE_24 + HOUR
    signups.cancel(seated.id, now=promoted_at)  # the seat goes to the waitlist
    db.session.commit()
    result = sweep(promoted_at + MINUTE)
    db.session.commit()
    # Their 24 h reminder fell due before they had a seat: the promotion notice says it.
    assert (result.queued, result.before_signup) == (0, 1)

    assert sweep(DUE_2 + MINUTE).queued == 1
    db.session.commit()
    assert [row.dedupe_key for row in reminders() if row.signup_id == waiting.id] == [
        f"reminder:{waiting.id}:2h:2031-12-01T00:00Z"
    ]


def test_signing_up_3_hours_before_gets_the_2_hour_reminder_only(app):
    _event, shift = shift_at()
    late = sign_up(shift, at=START - 3 * HOUR)
    result = sweep(START - 3 * HOUR + MINUTE)
    assert (result.queued, result.before_signup) == (0, 1)
    assert sweep(DUE_2 + MINUTE).queued == 1
    db.session.commit()
    assert [row.dedupe_key for row in reminders()] == [f"reminder:{late.id}:2h:2031-12-01T00:00Z"]


def test_signing_up_inside_the_24_hour_window_gets_no_24_hour_reminder(app):
    _event, shift = shift_at()
    sign_up(shift, at=DUE_24 + HOUR)  # the window is open until DUE_24 + 6 h
    result = sweep(DUE_24 + HOUR + MINUTE)
    db.session.commit()
    assert (result.queued, result.before_signup) == (0, 1)
    assert reminders() == []


def test_opted_out_person_gets_none(app):
    _event, _shift, signup = _one_signup()
    sms.opt_out(signup.person_id, channel="sms", keyword="TD")
    db.session.commit()
    result = sweep(DUE_24 + MINUTE)
    assert (result.queued, result.opted_out) == (0, 1)
    assert reminders() == []


# -- the window ------------------------------------------------------------------------


def test_a_late_sweep_still_sends_within_the_window(app):
    _one_signup()
    assert sweep(DUE_24 + 6 * HOUR).queued == 1  # the last moment of the 24 h window


def test_past_its_window_a_reminder_is_dropped_never_sent_late(app):
    _one_signup()
    # The scheduler was down for a long while: the 24 h window closed at DUE_24 + 6 h.
    result = sweep(DUE_24 + 6 * HOUR + MINUTE)
    assert (result.queued, result.dropped) == (0, 1)
    result = sweep(DUE_2 + 31 * MINUTE)  # and the 2 h one closed after 30 minutes
    db.session.commit()
    assert (result.queued, result.dropped) == (0, 2)
    assert reminders() == []


def test_a_queued_reminder_past_its_window_is_cancelled_at_send_time(app, provider):
    _one_signup()
    sweep(DUE_24 + MINUTE)
    db.session.commit()
    [row] = reminders()

    delivery = sms.deliver(row.id, provider, now=DUE_24 + 6 * HOUR + MINUTE)

    assert delivery.outcome == "cancelled"
    assert provider.sent == []
    [row] = reminders()
    assert (row.status, row.error_message) == (SmsStatus.CANCELLED, "expired")


# -- changes after the reminder was queued -------------------------------------------


def _move(event, shift, new_start):
    update_event(
        event.id,
        EventInput(title=event.title, category_id=event.category_id, location=event.location),
        [
            ShiftInput(
                id=shift.id,
                starts_at=new_start,
                ends_at=new_start + 2 * HOUR,
                capacity=shift.capacity,
                title=shift.title,
            )
        ],
    )
    db.session.commit()


def test_moved_shift_cancels_old_reminders_at_send_time_and_gets_new_ones(app, provider):
    event, shift, signup = _one_signup()
    sweep(DUE_24 + MINUTE)
    db.session.commit()
    [old] = reminders()

    moved_to = START + 3 * HOUR  # 11:00 in Shanghai
    _move(event, shift, moved_to)

    assert sms.deliver(old.id, provider, now=DUE_24 + 2 * MINUTE).outcome == "cancelled"
    result = sweep(moved_to - 24 * HOUR + MINUTE)
    db.session.commit()
    assert result.queued == 1
    old_row, new_row = reminders()
    assert (old_row.status, old_row.error_message) == (SmsStatus.CANCELLED, "shift moved")
    assert new_row.dedupe_key == f"reminder:{signup.id}:24h:2031-12-01T03:00Z"
    assert new_row.shift_starts_at == moved_to

    assert sms.deliver(new_row.id, provider, now=moved_to - 24 * HOUR + MINUTE).outcome == "sent"
    [(_phone, body)] = provider.sent
    assert "12月1日 11:00" in body


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda event, shift, signup: signups.cancel(signup.id), "signup cancelled"),
        (lambda event, shift, signup: signups.cancel_shift(shift.id), "signup cancelled"),
        (lambda event, shift, signup: cancel_event(event.id), "signup cancelled"),
    ],
    ids=["signup", "shift", "event"],
)
def test_cancelled_after_queueing_is_not_sent(app, provider, change, reason):
    event, shift, signup = _one_signup()
    sweep(DUE_24 + MINUTE)
    db.session.commit()
    [row] = reminders()

    change(event, shift, signup)
    db.session.commit()

    assert sms.deliver(row.id, provider, now=DUE_24 + 2 * MINUTE).outcome == "cancelled"
    assert provider.sent == []
    [row] = reminders()
    assert (row.status, row.error_message) == (SmsStatus.CANCELLED, reason)


def test_event_unpublished_after_queueing_is_not_sent(app, provider):
    event, _shift, _signup = _one_signup()
    sweep(DUE_24 + MINUTE)
    db.session.commit()
    [row] = reminders()
    event.status = "draft"
    db.session.commit()

    assert sms.deliver(row.id, provider, now=DUE_24 + 2 * MINUTE).outcome == "cancelled"
    assert reminders()[0].error_message == "event draft"
    assert provider.sent == []


def test_reminder_still_relevant_is_sent(app, provider):
    _event, _shift, _signup = _one_signup()
    sweep(DUE_24 + MINUTE)
    db.session.commit()
    [row] = reminders()
    assert sms.deliver(row.id, provider, now=DUE_24 + 2 * MINUTE).outcome == "sent"
    assert reminders()[0].status == SmsStatus.SENT
    assert len(provider.sent) == 1


def test_other_texts_are_not_checked_against_signups(app, provider, make):
    person = make.person()
    row = sms.queue_text(
        to_phone=person.phone,
        text=render("reminder", title="防汛巡堤", when="12月1日 08:00", place="江滩", code="1234"),
        kind=SmsKind.NOTICE,
        dedupe_key="notice:x",
        person_id=person.id,
    )
    db.session.commit()
    assert sms.deliver(row.id, provider).outcome == "sent"


# -- idempotent, concurrent, set-based ------------------------------------------------


def test_sweeping_twice_changes_nothing(app):
    _event, shift = shift_at()
    for _ in range(3):
        sign_up(shift, at=SIGNED_UP)
    first = sweep(DUE_24 + MINUTE)
    db.session.commit()
    second = sweep(DUE_24 + 2 * MINUTE)
    db.session.commit()
    assert (first.queued, second.queued, second.existing) == (3, 0, 3)
    assert len(reminders()) == 3


def test_two_sweeps_at_once_write_each_reminder_once(app):
    _event, shift = shift_at(capacity=30)
    expected = {
        f"reminder:{sign_up(shift, at=SIGNED_UP).id}:24h:2031-12-01T00:00Z" for _ in range(30)
    }
    db.session.commit()  # on SQLite an open transaction would hold the write lock
    barrier = threading.Barrier(2)
    results, errors = [], []

    def run():
        with app.app_context():
            try:
                barrier.wait()
                results.append(sweep(DUE_24 + MINUTE))
                db.session.commit()
            except Exception as exc:  # reported below
                db.session.rollback()
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sum(r.queued for r in results) == 30
    assert sum(r.existing for r in results) == 30
    assert {row.dedupe_key for row in reminders()} == expected
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(OutgoingSms)
            .where(OutgoingSms.kind == SmsKind.REMINDER)
        )
        == 30
    )


def _people_on(shift, n):
    return [sign_up(shift, at=SIGNED_UP) for _ in range(n)]


def _reads(statements):
    """What the sweep asked, leaving out ``queue_text``'s own work per new text (its
    opt-out check and its INSERT)."""
    return [
        s
        for s in statements
        if not s.lstrip().upper().startswith("INSERT INTO OUTGOING_SMS")
        and not s.lstrip().startswith("SELECT person.sms_opted_out_at \nFROM person")
    ]


@pytest.mark.slow
def test_query_count_does_not_grow_with_the_signups(app, count_queries):
    small_start, large_start = START, START + timedelta(days=10)
    _people_on(shift_at(small_start, capacity=10)[1], 10)
    _people_on(shift_at(large_start, capacity=200)[1], 200)

    measured = {}
    for n, start in ((10, small_start), (200, large_start)):
        now = start - 24 * HOUR + MINUTE
        with count_queries() as first:
            result = sweep(now)
        db.session.commit()
        assert result.queued == n
        with count_queries() as again:
            assert sweep(now + MINUTE).existing == n
        db.session.commit()
        measured[n] = (len(_reads(first.statements)), again.count)

    assert measured[10] == measured[200]
    reads, steady = measured[200]
    assert reads <= 3  # offsets in use, candidate signups, reminders already written
    assert steady <= 3  # every minute after: the same three reads, nothing per signup
