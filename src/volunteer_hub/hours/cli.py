"""``flask hours ...``: recompute the hour roll-ups by hand (after a restore, an import,
or to check them: a healthy database reports nothing changed)."""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from volunteer_hub.extensions import db

hours = AppGroup("hours", help="Service hours (志愿服务时长).")


@hours.command("rebuild")
def rebuild_command():
    """Recompute every roll-up row from the service records; report what changed."""
    from volunteer_hub.hours import rollups

    started = time.perf_counter()
    report = rollups.rebuild_all()
    db.session.commit()
    elapsed = time.perf_counter() - started

    def line(counts: dict[str, int]) -> str:
        return ", ".join(f"{name} {n}" for name, n in counts.items())

    click.echo(f"person rows: {line(report.person_rows)}")
    click.echo(f"team rows: {line(report.team_rows)}")
    click.echo(f"{report.changed} rows changed in {elapsed:.2f} s")
