"""Flask CLI commands (see CONTRACTS.md: Commands)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from volunteer_hub.errors import DomainError
from volunteer_hub.extensions import db

users_cli = AppGroup("users", help="Staff accounts and API tokens.")


@users_cli.command("create")
@click.option("--phone", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["admin", "coordinator", "leader"]), required=True)
@click.option("--unit", "unit_id", type=int, help="coordinator: the unit they oversee")
@click.option("--team", "team_id", type=int, help="leader: the team they lead")
@click.option("--password", help="omit to be asked (hidden input)")
def create_user_command(phone, name, role, unit_id, team_id, password):
    """Create or promote a member of staff."""
    from volunteer_hub.auth.services import create_user

    if password is None:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        person = create_user(phone, name, role, password, unit_id=unit_id, team_id=team_id)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(f"{role} #{person.id} {person.name} ({person.phone})")


@users_cli.command("token")
@click.option("--phone", required=True)
@click.option("--name", default="cli", help="a label to recognise the token by")
def token_command(phone, name):
    """Mint an API bearer token for a member of staff (shown once)."""
    from volunteer_hub.auth.services import mint_token

    person = _person_by_phone(phone)
    try:
        _token, plain = mint_token(person, name)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    db.session.commit()
    click.echo(plain)


@users_cli.command("deactivate")
@click.option("--phone", required=True)
def deactivate_command(phone):
    """Switch an account off: no more logins, API tokens refused, and every session
    and remember cookie it has ends now."""
    from volunteer_hub.auth.services import deactivate

    person = _person_by_phone(phone)
    deactivate(person)
    db.session.commit()
    click.echo(f"deactivated #{person.id} {person.name}; all sessions ended")


def _person_by_phone(phone: str):
    """The person with this phone, or a ClickException that says why there is none."""
    from volunteer_hub.people.services import find_by_phone

    try:
        person = find_by_phone(phone)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    if person is None:
        raise click.ClickException("no person with that phone")
    return person


reminders_cli = AppGroup("reminders", help="Reminder texts before shifts.")


@reminders_cli.command("sweep")
@click.option(
    "--now",
    "as_of",
    help="run as of this ISO 8601 time (default: now); without an offset it is read "
    "in the display time zone (Asia/Shanghai). A time still ahead is a dry run: it lists "
    "the reminders that would be due then and queues nothing, so that no text goes out "
    "before its time",
)
def reminders_sweep_command(as_of):
    """Queue every reminder that is due (what the scheduler does each minute)."""
    from volunteer_hub.reminders.services import report, sweep_by_hand

    result = sweep_by_hand(_parse_now(as_of) if as_of else None)
    db.session.commit()
    click.echo("\n".join(report(result)))


def _parse_now(value: str):
    from datetime import datetime

    from volunteer_hub.i18n import from_local

    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            "时间格式不对，请用 ISO 8601，例如 2026-12-01T08:00+08:00", param_hint="--now"
        ) from None
    return from_local(parsed)


@click.command("seed-demo")
@click.option("--scale", type=int, default=0, help="add N synthetic teams (417 = Ezhou size)")
@click.option(
    "--volunteers", type=int, default=None, help="synthetic volunteers (default 12.6 per team)"
)
def seed_demo_command(scale, volunteers):
    """Idempotent demo data from the source documents; --scale adds synthetic load."""
    from volunteer_hub.devtools.demo import seed_demo

    seed_demo(scale=scale, volunteers=volunteers, echo=click.echo)


@click.command("scheduler")
@click.option("--once", is_flag=True, help="run one tick and exit")
def scheduler_command(once):
    """The periodic tick (every minute): recover the outbox, release old shift codes,
    queue due reminders."""
    import threading

    from flask import current_app

    from volunteer_hub import scheduler

    if once:
        result = scheduler.tick()
        click.echo(
            f"texts requeued {result.requeued_texts}, flagged {result.flagged_texts}; "
            f"codes released {result.released_codes}; "
            f"reminders queued {result.queued_reminders}, dropped {result.dropped_reminders}"
        )
        return
    stop = threading.Event()
    click.echo(f"scheduler: one tick every {scheduler.TICK_SECONDS} s (Ctrl+C to stop)")
    try:
        scheduler.run_forever(current_app._get_current_object(), stop)
    except KeyboardInterrupt:
        stop.set()


def register(app: Flask) -> None:
    from volunteer_hub.calendar.cli import feeds
    from volunteer_hub.hours.cli import hours
    from volunteer_hub.roster.cli import roster
    from volunteer_hub.sms import pause_cli  # noqa: F401  (adds sms pauses, sms resume)
    from volunteer_hub.sms.cli import sms

    app.cli.add_command(feeds)
    app.cli.add_command(hours)
    app.cli.add_command(roster)
    app.cli.add_command(sms)
    app.cli.add_command(users_cli)
    app.cli.add_command(reminders_cli)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(scheduler_command)
