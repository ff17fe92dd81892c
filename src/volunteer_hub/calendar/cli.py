"""``flask feeds ...``: rebuild calendar feeds by hand (after a deploy, a restore, or to
check that the stored bodies are current: a healthy database gives "0 changed")."""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from volunteer_hub.extensions import db

feeds = AppGroup("feeds", help="Calendar feeds.")


@feeds.command("rebuild")
def rebuild_command():
    """Rebuild every live feed now (one transaction per feed)."""
    from volunteer_hub.calendar import services

    started = time.perf_counter()
    built = changed = failed = 0
    size = 0
    for feed_id in services.live_feed_ids():
        try:
            # A rebuild owed by a change is paid by this one (claimed before reading,
            # so a change committed meanwhile marks the feed stale again).
            services.claim_stale(feed_id)
            result = services.rebuild_feed(feed_id)
            db.session.commit()
        except Exception as exc:  # one broken feed must not stop the others
            db.session.rollback()
            failed += 1
            click.echo(f"feed {feed_id}: {exc.__class__.__name__}: {exc}", err=True)
            continue
        if result is None:
            continue
        built += 1
        changed += result.changed
        size += result.size
    elapsed = time.perf_counter() - started
    click.echo(
        f"feeds rebuilt: {built}, changed {changed}, unchanged {built - changed}, "
        f"failed {failed}; {size} bytes in {elapsed:.2f} s"
    )
    if failed:
        raise SystemExit(1)
