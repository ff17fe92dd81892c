"""Per-recipient caps (SMS_RECIPIENT_HOURLY_CAP / SMS_RECIPIENT_DAILY_CAP): a text over a
cap is held until the window frees, or failed with ``recipient-cap`` when it would
expire first; urgent texts and login codes are never held. Texts go through the real
Aliyun backend to its local fake, so "held" also means "the provider never saw it"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.sms.domestic_fakes import mapping_file
from volunteer_hub.config import from_environment
from volunteer_hub.devtools.fake_aliyun import FakeAliyun
from volunteer_hub.extensions import db
from volunteer_hub.sms import services
from volunteer_hub.sms.backends import current_gateway
from volunteer_hub.sms.limits import CAP_CODE, Caps, capped_until, local_day
from volunteer_hub.sms.models import OutgoingSms, SmsKind, SmsStatus
from volunteer_hub.sms.templates import CATALOGUE, example

PHONE = "+8613800138000"
OTHER = "+8613900139000"
HELP = example(CATALOGUE["help"])
LOGIN = example(CATALOGUE["login_code"])
#: 10:00 in Beijing, well inside one local day
T0 = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
_keys = iter(range(1, 10**6))


@pytest.fixture
def aliyun(app, monkeypatch, tmp_path):
    """SMS_BACKEND=aliyun against its fake, caps off until a test sets them."""
    with FakeAliyun() as fake:
        settings = {
            **fake.app_config(),
            "SMS_TEMPLATES": mapping_file(tmp_path),
            "SMS_ROUTES": None,
            "SMS_RECIPIENT_HOURLY_CAP": 0,
            "SMS_RECIPIENT_DAILY_CAP": 0,
        }
        for key, value in settings.items():
            monkeypatch.setitem(app.config, key, value)
        app.extensions.pop("sms_gateway", None)
        yield fake
        gateway = app.extensions.pop("sms_gateway", None)
        getattr(gateway, "close", lambda: None)()


def caps(app, monkeypatch, *, hourly=0, daily=0):
    monkeypatch.setitem(app.config, "SMS_RECIPIENT_HOURLY_CAP", hourly)
    monkeypatch.setitem(app.config, "SMS_RECIPIENT_DAILY_CAP", daily)


def queue(phone=PHONE, *, text=HELP, kind="reply", **fields) -> OutgoingSms:
    row = services.queue_text(
        to_phone=phone, text=text, kind=kind, dedupe_key=f"cap:{next(_keys)}", **fields
    )
    db.session.commit()
    return row


def send(row: OutgoingSms, at: datetime) -> str:
    return services.deliver(row.id, current_gateway(row.to_phone), now=at).outcome


def reload(row: OutgoingSms) -> OutgoingSms:
    db.session.expire_all()
    return db.session.get(OutgoingSms, row.id)


def test_over_the_hourly_cap_a_text_waits_for_the_oldest_to_turn_an_hour_old(
    app, monkeypatch, aliyun
):
    caps(app, monkeypatch, hourly=2)
    first, second, third = queue(), queue(), queue()
    assert send(first, T0) == "sent"
    assert send(second, T0 + timedelta(minutes=10)) == "sent"

    assert send(third, T0 + timedelta(minutes=20)) == "held"
    held = reload(third)
    assert (held.status, held.error_code) == (SmsStatus.QUEUED, CAP_CODE)
    assert held.send_after == T0 + timedelta(hours=1)
    assert (held.attempts, held.claimed_at) == (0, None)  # the claim was undone
    assert len(aliyun.messages) == 2  # the provider never saw it

    # not before its time, then it goes
    assert send(third, T0 + timedelta(minutes=59)) == "skipped"
    assert send(third, T0 + timedelta(hours=1)) == "sent"
    assert len(aliyun.messages_to(PHONE)) == 3


def test_over_the_daily_cap_a_text_waits_for_the_next_local_day(app, monkeypatch, aliyun):
    caps(app, monkeypatch, daily=2)
    rows = [queue() for _ in range(3)]
    assert send(rows[0], T0) == "sent"
    assert send(rows[1], T0 + timedelta(hours=3)) == "sent"
    assert send(rows[2], T0 + timedelta(hours=5)) == "held"
    # midnight in Beijing is 16:00 UTC
    assert reload(rows[2]).send_after == datetime(2026, 12, 7, 16, 0, tzinfo=UTC)
    assert send(rows[2], datetime(2026, 12, 7, 16, 0, tzinfo=UTC)) == "sent"


def test_a_text_that_would_expire_while_held_fails_with_the_reason(app, monkeypatch, aliyun):
    caps(app, monkeypatch, hourly=1)
    assert send(queue(), T0) == "sent"
    late = queue(expires_at=T0 + timedelta(minutes=30))
    assert send(late, T0 + timedelta(minutes=5)) == "failed"
    row = reload(late)
    assert (row.status, row.error_code) == (SmsStatus.FAILED, CAP_CODE)
    assert "recipient cap" in row.error_message
    assert len(aliyun.messages) == 1


def test_urgent_texts_are_never_held_but_count(app, monkeypatch, aliyun, make):
    caps(app, monkeypatch, hourly=1)
    person = make.person(phone=PHONE)
    urgent = [queue(person_id=person.id, kind="broadcast", is_urgent=True) for _ in range(2)]
    assert [send(row, T0) for row in urgent] == ["sent", "sent"]
    # the urgent texts filled the hour: an ordinary text waits
    assert send(queue(person_id=person.id), T0 + timedelta(minutes=1)) == "held"


def test_login_codes_are_never_held_nor_counted(app, monkeypatch, aliyun, make):
    caps(app, monkeypatch, hourly=1, daily=1)
    person = make.person(phone=PHONE)
    codes = [queue(person_id=person.id, text=LOGIN, kind="login_code") for _ in range(3)]
    assert [send(row, T0) for row in codes] == ["sent"] * 3
    assert send(queue(person_id=person.id), T0 + timedelta(minutes=1)) == "sent"
    assert send(queue(person_id=person.id, text=LOGIN, kind="login_code"), T0) == "sent"


def test_the_opt_out_confirmation_is_never_held(app, monkeypatch, aliyun, make):
    caps(app, monkeypatch, hourly=1)
    person = make.person(phone=PHONE)
    assert send(queue(person_id=person.id), T0) == "sent"
    confirmation = queue(person_id=person.id, kind=SmsKind.OPT_OUT_CONFIRMATION)
    assert send(confirmation, T0 + timedelta(minutes=1)) == "sent"


def test_the_caps_are_per_number_and_off_at_zero(app, monkeypatch, aliyun):
    caps(app, monkeypatch, hourly=1)
    assert send(queue(PHONE), T0) == "sent"
    assert send(queue(OTHER), T0) == "sent"
    assert send(queue(PHONE), T0) == "held"
    caps(app, monkeypatch, hourly=0, daily=0)
    assert send(queue(PHONE), T0) == "sent"


def test_texts_the_provider_never_took_do_not_count(app, monkeypatch, aliyun):
    caps(app, monkeypatch, hourly=1)
    aliyun.invalid_numbers.add(PHONE)
    assert send(queue(), T0) == "failed"  # refused: an illegal number
    aliyun.invalid_numbers.clear()
    assert send(queue(), T0 + timedelta(minutes=1)) == "sent"


def test_the_minute_sweep_sends_a_held_text_once_its_time_has_come(app, monkeypatch, aliyun):
    caps(app, monkeypatch, hourly=1)
    assert send(queue(), T0) == "sent"
    held = queue()
    assert send(held, T0) == "held"
    requeued, _ = services.requeue_stuck(T0 + timedelta(minutes=30))
    assert requeued == 0
    requeued, _ = services.requeue_stuck(T0 + timedelta(hours=1))
    assert requeued == 1


def test_screen_is_the_one_check_before_a_hand_over(app, monkeypatch, aliyun, make):
    """The contract a batch send relies on: screen a claimed row, set aside what it
    returns, send the rest."""
    caps(app, monkeypatch, hourly=1)
    person = make.person(phone=PHONE)
    assert send(queue(person_id=person.id), T0) == "sent"
    row = reload(queue(person_id=person.id))
    row.status, row.claimed_at, row.attempts = SmsStatus.SENDING, T0, 1  # claimed
    verdict = services.screen(row, T0)
    assert (verdict.outcome, verdict.code, verdict.until) == (
        "held",
        CAP_CODE,
        T0 + timedelta(hours=1),
    )
    services.set_aside(row, verdict, T0)
    db.session.commit()
    assert (reload(row).status, reload(row).send_after) == (
        SmsStatus.QUEUED,
        T0 + timedelta(hours=1),
    )

    services.opt_out(person.id, channel="sms", now=T0)
    opted_out = reload(row)
    assert services.screen(opted_out, T0).outcome == "cancelled"
    assert services.screen(reload(queue(OTHER)), T0) is None


@pytest.mark.parametrize(
    ("hourly", "claimed_minutes_ago", "frees_in_minutes"),
    [
        (1, [5], 55),
        (2, [50, 5], 10),
        (2, [50, 30, 5], 30),  # urgent texts took it over the cap: below it once two are old
        (3, [50, 5], None),
        (2, [70, 5], None),  # the 70-minute-old one is out of the window
    ],
)
def test_when_the_hour_frees(app, hourly, claimed_minutes_ago, frees_in_minutes):
    for minutes in claimed_minutes_ago:
        row = queue()
        row.status, row.claimed_at = SmsStatus.SENT, T0 - timedelta(minutes=minutes)
    db.session.commit()
    until = capped_until(Caps(hourly=hourly, daily=0), PHONE, T0, UTC)
    expected = None if frees_in_minutes is None else T0 + timedelta(minutes=frees_in_minutes)
    assert until == expected


def test_the_local_day_is_beijings():
    from zoneinfo import ZoneInfo

    start, end = local_day(datetime(2026, 12, 7, 17, 0, tzinfo=UTC), ZoneInfo("Asia/Shanghai"))
    assert (start, end) == (
        datetime(2026, 12, 7, 16, 0, tzinfo=UTC),
        datetime(2026, 12, 8, 16, 0, tzinfo=UTC),
    )


def test_cap_settings_are_read_and_checked(tmp_path):
    config = from_environment(
        str(tmp_path), {"SMS_RECIPIENT_HOURLY_CAP": "4", "SMS_RECIPIENT_DAILY_CAP": "9"}
    )
    assert Caps.from_config(config) == Caps(hourly=4, daily=9)
    assert Caps.from_config(from_environment(str(tmp_path), {})).off
    for bad in ("-1", "many"):
        with pytest.raises(ValueError, match="SMS_RECIPIENT_DAILY_CAP"):
            from_environment(str(tmp_path), {"SMS_RECIPIENT_DAILY_CAP": bad})


def test_held_texts_stay_in_the_outbox(app, monkeypatch, aliyun):
    caps(app, monkeypatch, hourly=1)
    send(queue(), T0)
    send(queue(), T0)
    statuses = db.session.scalars(select(OutgoingSms.status).order_by(OutgoingSms.id)).all()
    assert statuses == [SmsStatus.SENT, SmsStatus.QUEUED]
