"""``flask reminders sweep`` and the scheduler tick that runs the sweep every minute."""

from __future__ import annotations

from tests.reminders.support import HOUR, MINUTE, START, reminders, shift_at, sign_up
from volunteer_hub import scheduler
from volunteer_hub.broker import queue_depth

SIGNED_UP = START - 72 * HOUR


def test_sweep_command_runs_as_of_the_given_time_and_commits(app, runner, broker):
    _event, shift = shift_at()
    signup = sign_up(shift, at=SIGNED_UP)
    broker.flush_all()  # whatever the sign-up itself queued

    # 08:01 on 30 November in Shanghai: one minute after the 24 h reminder fell due.
    result = runner.invoke(args=["reminders", "sweep", "--now", "2031-11-30T08:01:00+08:00"])

    assert result.exit_code == 0, result.output
    assert "queued 1" in result.output
    assert "dropped past their window 0" in result.output
    assert [row.dedupe_key for row in reminders()] == [
        f"reminder:{signup.id}:24h:2031-12-01T00:00Z"
    ]
    assert queue_depth(broker, "sms") == 1  # sent to the worker once committed


def test_sweep_command_reads_a_time_without_offset_as_shanghai_time(app, runner):
    _event, shift = shift_at()
    sign_up(shift, at=SIGNED_UP)
    early = runner.invoke(args=["reminders", "sweep", "--now", "2031-11-30T07:59"])
    assert "queued 0" in early.output
    on_time = runner.invoke(args=["reminders", "sweep", "--now", "2031-11-30T08:00"])
    assert "queued 1" in on_time.output


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
