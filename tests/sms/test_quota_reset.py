"""A pause for the account's own daily (or monthly) quota ends by itself: the provider
resets the quota at midnight Beijing time, and the first tick after that resumes the
backend and sends the texts that waited. An empty balance still waits for a person.
Through the real SDKs to the fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.sms.domestic_fakes import ALIYUN
from tests.sms.test_limits_pause import OTHER, deliver, empty_balance, queue
from volunteer_hub import scheduler
from volunteer_hub.broker import queue_depth
from volunteer_hub.sms import pauses

MINUTE = timedelta(minutes=1)


def daily_quota_used_up(kind, fake) -> str:
    """Script the fake's next answer: the account's daily quota (set in the console) is used."""
    code = "isv.DAY_LIMIT_CONTROL" if kind is ALIYUN else "LimitExceeded.AppDailyLimit"
    fake.fail_next(code)
    return code


def test_a_daily_quota_pause_ends_at_the_providers_midnight(provider, broker):
    kind, fake = provider
    code = daily_quota_used_up(kind, fake)
    waiting = [queue(), queue(OTHER)]
    assert [deliver(row) for row in waiting] == ["paused", "paused"]
    paused = pauses.current(kind.name)
    assert paused.code == code
    assert paused.until == pauses.quota_reset_after(paused.since, "day")
    beijing = paused.until.astimezone(pauses.PROVIDER_CLOCK)
    assert (beijing.hour, beijing.minute, beijing.second) == (0, 0, 0)
    assert timedelta(0) < paused.until - paused.since <= timedelta(days=1)
    assert scheduler.tick(paused.until - MINUTE).resumed_backends == ()
    assert pauses.current(kind.name) == paused
    assert deliver(waiting[1]) == "paused" and fake.messages == []  # still waiting

    broker.flush_all()
    assert scheduler.tick(paused.until + MINUTE).resumed_backends == (kind.name,)
    assert pauses.current(kind.name) is None
    assert queue_depth(broker, "sms") >= 2  # an actor for each waiting text
    assert [deliver(row) for row in waiting] == ["sent", "sent"]
    assert len(fake.messages) == 2
    assert scheduler.tick(paused.until + 2 * MINUTE).resumed_backends == ()


def test_the_pauses_command_says_when_a_quota_pause_ends(provider, runner):
    kind, fake = provider
    daily_quota_used_up(kind, fake)
    assert deliver(queue()) == "paused"
    until = pauses.current(kind.name).until

    output = runner.invoke(args=["sms", "pauses"]).output
    assert f"{kind.name}: paused since" in output
    assert f"resumes by itself at {until.isoformat()}" in output


def test_an_empty_balance_waits_for_a_person_however_long(provider, broker):
    kind, fake = provider
    empty_balance(kind, fake)
    assert deliver(queue()) == "paused"
    paused = pauses.current(kind.name)
    assert paused.until is None

    assert scheduler.tick(paused.since + timedelta(days=3)).resumed_backends == ()
    assert pauses.current(kind.name) == paused


@pytest.mark.parametrize(
    ("at", "period", "reset"),
    [
        # 23:59:59 in Beijing: the reset is one second away
        (
            datetime(2026, 12, 6, 15, 59, 59, tzinfo=UTC),
            "day",
            datetime(2026, 12, 6, 16, 0, tzinfo=UTC),
        ),
        # midnight itself: the quota just reset, so the next one is a day later
        (datetime(2026, 12, 6, 16, 0, tzinfo=UTC), "day", datetime(2026, 12, 7, 16, 0, tzinfo=UTC)),
        # early afternoon in UTC is already tomorrow in Beijing
        (datetime(2026, 12, 31, 17, 0, tzinfo=UTC), "day", datetime(2027, 1, 1, 16, 0, tzinfo=UTC)),
        (
            datetime(2026, 12, 15, 4, 0, tzinfo=UTC),
            "month",
            datetime(2026, 12, 31, 16, 0, tzinfo=UTC),
        ),
        # 1 January 00:30 in Beijing: the next monthly reset is 1 February
        (
            datetime(2026, 12, 31, 16, 30, tzinfo=UTC),
            "month",
            datetime(2027, 1, 31, 16, 0, tzinfo=UTC),
        ),
    ],
)
def test_quota_resets_follow_the_providers_clock(at, period, reset):
    assert pauses.quota_reset_after(at, period) == reset


def test_an_unknown_quota_period_is_refused():
    with pytest.raises(ValueError, match="fortnight"):
        pauses.quota_reset_after(datetime(2026, 12, 6, tzinfo=UTC), "fortnight")
