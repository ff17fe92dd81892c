"""``flask sms pauses`` and ``flask sms resume BACKEND``: the SMS backends' pauses from
the command line, for an operator without the /ops page at hand (the same state, the
same resume)."""

from __future__ import annotations

import os

import click
from flask import current_app

from volunteer_hub.extensions import db
from volunteer_hub.sms import pauses
from volunteer_hub.sms.backends import backends_in_use
from volunteer_hub.sms.cli import sms


@sms.command("pauses")
def pauses_command():
    """Each backend in use: sending, or paused since when and why."""
    for name in sorted(backends_in_use(current_app.config)):
        pause = pauses.current(name)
        if pause is None:
            click.echo(f"{name}: sending")
        else:
            ends = f", resumes by itself at {pause.until.isoformat()}" if pause.until else ""
            click.echo(
                f"{name}: paused since {pause.since.isoformat()}{ends} ({pause.code})"
                f" {pause.reason}"
            )


@sms.command("resume")
@click.argument("backend")
def resume_command(backend: str):
    """After topping up the provider account: send through BACKEND again, and the texts
    that waited for it."""
    if backend not in backends_in_use(current_app.config):
        raise click.UsageError(f"{backend} is not a backend in use (SMS_BACKEND, SMS_ROUTES)")
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or "unknown"
    resumed = pauses.resume(backend, by=f"flask sms resume (user {user})")
    db.session.commit()  # the after-commit queue then sends their actors
    if resumed is None:
        click.echo(f"{backend} is not paused")
    else:
        click.echo(f"{backend} resumed: {resumed[1]} waiting texts sent again")
