"""Extension objects, bound to the app in create_app()."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from volunteer_hub.db import Base, render_migration_item

db = SQLAlchemy(model_class=Base)
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=get_remote_address, default_limits=[])

#: where ``flask db`` keeps the migration scripts; set by create_app
MIGRATIONS_DIRECTORY_KEY = "MIGRATIONS_DIRECTORY"


def init_migrate(app: Flask) -> None:
    """Bind Flask-Migrate to ``app``. Flask-Migrate imports Alembic (about 10 MB), which
    only ``flask db`` and code that runs migrations need, so no web or worker process
    calls this: ``flask db`` does (LazyMigrateGroup), and so does upgrade_database()."""
    if "migrate" in app.extensions:
        return
    from flask_migrate import Migrate

    Migrate(
        app,
        db,
        directory=app.config[MIGRATIONS_DIRECTORY_KEY],
        compare_type=True,
        render_as_batch=True,
        render_item=render_migration_item,
    )


def upgrade_database() -> None:
    """Migrate the current app's database to the newest revision (``flask db upgrade``)."""
    init_migrate(current_app._get_current_object())  # type: ignore[attr-defined]
    from flask_migrate import upgrade

    upgrade()


class LazyMigrateGroup(click.Group):
    """``flask db``: stands in for Flask-Migrate's command group, which is imported only
    when that command runs (Flask has pushed the app context by then). The group's own
    context is made by Flask-Migrate's group, so its options, subcommands and help are
    Flask-Migrate's own."""

    def make_context(self, info_name, args, parent=None, **extra) -> click.Context:  # type: ignore[no-untyped-def]
        init_migrate(current_app._get_current_object())  # type: ignore[attr-defined]
        from flask_migrate.cli import db as migrate_group

        return migrate_group.make_context(info_name, args, parent=parent, **extra)


def register_migrate_command(app: Flask, directory: str) -> None:
    app.config[MIGRATIONS_DIRECTORY_KEY] = directory
    app.cli.add_command(LazyMigrateGroup("db", help="Perform database migrations."))


def _install_hooks() -> None:
    from volunteer_hub import after_commit, held_writes
    from volunteer_hub.db import (
        install_binary_results_option,
        install_fork_guard,
        install_sqlite_hooks,
    )

    install_sqlite_hooks()
    install_binary_results_option()
    install_fork_guard()
    from flask_sqlalchemy.session import Session

    # On the class, so every session Flask-SQLAlchemy makes (any app, any thread) has it.
    after_commit.install(Session)
    held_writes.install(Session)


_install_hooks()
