"""``flask roster import FILE``: the web page's roster import, for scripting (CONTRACTS.md).

It acts as an admin, previews like the page, then applies in this process (no worker
needed). ``--json`` prints one JSON object last; the exit status is 1 when rows have
errors and it is not a dry run (the rows without errors are applied all the same).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from volunteer_hub.errors import DomainError
from volunteer_hub.extensions import db

roster = AppGroup("roster", help="Roster import (花名册导入).")


@roster.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--team", "team_id", type=int, help="put every row into this team")
@click.option("--dry-run", is_flag=True, help="preview only: change nothing")
@click.option("--json", "as_json", is_flag=True, help="print the counts as one JSON object last")
def import_command(file: Path, team_id: int | None, dry_run: bool, as_json: bool):
    """Import a roster (XLSX or CSV) as an admin."""
    from volunteer_hub.roster import services

    content = file.read_bytes()
    try:
        if dry_run:
            scope = services.scope_for(services.CLI_VIEWER, team_id, None)
            summary = services.preview_summary(services.preview(content, file.name, scope))
            counts = summary["counts"]
        else:
            record = services.create_import(
                content, file.name, services.CLI_VIEWER, team_id, via="cli"
            )
            summary = record.preview
            services.mark_queued(record.id)
            db.session.commit()
            record = services.apply_import(record.id) or record
            counts = record.counts()
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    finally:
        db.session.rollback()  # a dry run leaves nothing behind
    for title in summary.get("hidden_sheets", []):
        click.echo(f"hidden sheet skipped: {title}", err=True)
    for error in summary["errors"]:
        click.echo(f"{error['sheet']} row {error['row']}: {error['reason']}", err=True)
    label = "preview" if dry_run else "imported"
    click.echo(
        f"{label}: new {counts['new']}, existing {counts['existing']}, "
        f"invited {counts['invited']}, errors {counts['errors']}, "
        f"teams created {counts['teams_created']}, held back {counts['held_back']}"
    )
    if as_json:
        click.echo(json.dumps(counts, ensure_ascii=False))
    if counts["errors"] and not dry_run:
        raise SystemExit(1)
