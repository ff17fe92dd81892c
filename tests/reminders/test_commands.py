"""``flask reminders sweep`` and the scheduler tick that runs the sweep every minute."""

from __future__ import annotations

from datetime import datetime

from tests.reminders.support import HOUR, MINUTE, START, reminders, shift_at, sign_up
from volunteer_hub import scheduler
from volunteer_hub.broker import queue_depth
from volunteer_hub.db import utcnow
from volunteer_hub.i18n import to_local
from volunteer_hub.reminders.services import dedupe_key

SIGNED_UP = START - 72 * HOUR


def _soon() -> datetime:
    """A shift start 23 h 59 min from the clock: its 24 h reminder fell due a minute ago."""
    return utcnow().replace(second=0, microsecond=0) + 24 * HOUR - MINUTE


def test_sweep_command_runs_as_of_the_given_time_and_commits(app, runner, broker):
    _event, shift = shift_at(_soon())
    signup = sign_up(shift, at=shift.starts_at - 72 * HOUR)
    broker.flush_all()  # whatever the sign-up itself queued

    as_of = utcnow().replace(microsecond=0).isoformat()
    result = runner.invoke(args=["reminders", "sweep", "--now", as_of])

    assert result.exit_code == 0, result.output
    assert "queued 1" in result.output
    assert "dropped past their window 0" in result.output
    assert [row.dedupe_key for row in reminders()] == [dedupe_key(signup.id, 24, shift.starts_at)]
    assert queue_depth(broker, "sms") == 1  # sent to the worker once committed


def test_sweep_command_reads_a_time_without_offset_as_shanghai_time(app, runner):
    _event, shift = shift_at(_soon())
    sign_up(shift, at=shift.starts_at - 72 * HOUR)
    due = shift.starts_at - 24 * HOUR
    before = runner.invoke(
        args=["reminders", "sweep", "--now", f"{to_local(due - MINUTE):%Y-%m-%dT%H:%M}"]
    )
    assert "queued 0" in before.output
    on_time = runner.invoke(args=["reminders", "sweep", "--now", f"{to_local(due):%Y-%m-%dT%H:%M}"])
    assert "queued 1" in on_time.output


def test_a_future_now_is_a_dry_run_that_sends_nothing_early(app, runner, broker):
    # 08:01 on 30 November 2031 in Shanghai: the 24 h reminder would be due, years ahead.
    _event, shift = shift_at()
    signup = sign_up(shift, at=SIGNED_UP)
    broker.flush_all()

    result = runner.invoke(args=["reminders", "sweep", "--now", "2031-11-30T08:01:00+08:00"])

    assert result.exit_code == 0, result.output
    assert "dry run" in result.output and "would queue 1" in result.output
    assert f"signup {signup.id}: 24 h reminder of shift {shift.code}, due 2031-11-30 08:00" in (
        result.output
    )
    assert reminders() == []
    assert queue_depth(broker, "sms") == 0


def test_the_help_says_a_future_now_is_a_dry_run(runner):
    result = runner.invoke(args=["reminders", "sweep", "--help"])
    assert "dry run" in result.output


def test_sweep_command_refuses_a_bad_time_and_changes_nothing(app, runner):
    _event, shift = shift_at()
    sign_up(shift, at=SIGNED_UP)
    result = runner.invoke(args=["reminders", "sweep", "--now", "明天早上"])
    assert result.exit_code == 2
    assert "时间格式不对" in result.output
    assert reminders() == []


def test_tick_sweeps_reminders(app):
    _event, shift = shift_at()
    sign_up(shift, at=SIGNED_UP)

    result = scheduler.tick(now=START - 24 * HOUR + MINUTE)

    assert (result.queued_reminders, result.dropped_reminders) == (1, 0)
    assert len(reminders()) == 1
    later = scheduler.tick(now=START - 2 * HOUR + 31 * MINUTE)  # the 2 h window just closed
    assert (later.queued_reminders, later.dropped_reminders) == (0, 1)


def test_scheduler_once_reports_reminders(runner):
    result = runner.invoke(args=["scheduler", "--once"])
    assert result.exit_code == 0, result.output
    assert "reminders queued 0, dropped 0" in result.output
