"""volunteer_hub: volunteer and activity scheduling for veteran volunteer teams."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import click
from flask import Flask

# Importing broker makes a placeholder the global broker, here with the package, so an
# actor module imported before any app is made (by a script, a bench) declares its
# actors where init_app finds and moves them, not on the Redis broker Dramatiq would make
# by default.
from volunteer_hub import broker, config
from volunteer_hub.extensions import (
    babel,
    csrf,
    db,
    limiter,
    login_manager,
    register_migrate_command,
)

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: shortest SMS_INBOUND_SECRET a process starts with (the push URLs' only check)
MIN_PUSH_SECRET_LENGTH = 24


def create_app(overrides: dict | None = None, *, serve_web: bool = True) -> Flask:
    """The app. ``serve_web=False`` is for worker processes, which run actors and never
    serve a request: they skip the blueprints (their views, forms and templates, about
    14 MB), the request hooks and the ``flask`` commands."""
    app = Flask(
        __name__,
        instance_path=os.environ.get("INSTANCE_PATH") or str(PROJECT_ROOT / "instance"),
        template_folder=str(PROJECT_ROOT / "templates"),
    )
    app.config.from_mapping(config.from_environment(app.instance_path))
    if overrides:
        app.config.update(overrides)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    _configure_logging(app)
    from volunteer_hub import boundary

    boundary.init_app(app)  # text input cleaned before any extension or view reads it
    from volunteer_hub import transactions

    transactions.init_app(app)  # first, so that it ends each request after every other hook
    _init_extensions(app)
    if click.get_current_context(silent=True) is None:
        # gunicorn or dramatiq, not a `flask` command: `flask sms templates` writes the
        # very template file the check asks for, and `flask db upgrade` sends nothing.
        _check_sms_settings(app)
    _init_broker(app)  # before the handlers import actor modules: actors land on it
    _subscribe_handlers(app)
    if serve_web:
        _init_web(app)
    _announce_mode(app)
    return app


def _init_web(app: Flask) -> None:
    from volunteer_hub import web
    from volunteer_hub.ops import request_log

    web.init_identity(app)
    _register_blueprints(app)
    _register_cli(app)

    web.init_app(app)
    request_log.init_app(app)
    _trust_proxies(app)  # outermost: the request log and the limits see the real client


def _trust_proxies(app: Flask) -> None:
    """Behind ``TRUSTED_PROXY_HOPS`` reverse proxies, take the client's address and scheme
    from the X-Forwarded-For and X-Forwarded-Proto they set (ProxyFix reads the n-th value
    from the right, so what a client put in front of them is skipped). With 0, those
    headers are ignored: anyone can send them. Host, port and prefix are not taken from
    headers; PUBLIC_BASE_URL is the public origin wherever one is needed."""
    hops = app.config["TRUSTED_PROXY_HOPS"]
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def _init_extensions(app: Flask) -> None:
    from volunteer_hub.i18n import select_locale, select_timezone

    db.init_app(app)
    register_migrate_command(app, str(PROJECT_ROOT / "migrations"))
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=select_timezone)
    limiter.init_app(app)

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    # "basic": a session seen from another address is marked not fresh rather than
    # dropped. Phones change address all day; "strong" would log volunteers out each time
    # and makes the remember-me cookie good for a single request.
    login_manager.session_protection = "basic"

    from volunteer_hub.auth.services import load_user

    login_manager.user_loader(load_user)

    # Import every model module so metadata is complete for migrations.
    from volunteer_hub import models  # noqa: F401


def _subscribe_handlers(app: Flask) -> None:
    from volunteer_hub import domain_events, handlers

    handlers.subscribe_all(domain_events.init_app(app))


def _init_broker(app: Flask) -> None:
    broker.init_app(app)
    # Declare every actor on the broker just chosen (web processes send to them).
    from volunteer_hub import tasks  # noqa: F401


def _register_blueprints(app: Flask) -> None:
    from volunteer_hub.api.views import bp as api_bp
    from volunteer_hub.auth.password_views import bp as passwords_bp
    from volunteer_hub.auth.staff_views import bp as staff_bp
    from volunteer_hub.auth.views import bp as auth_bp
    from volunteer_hub.calendar.views import bp as calendar_bp
    from volunteer_hub.callouts.views import bp as callouts_bp
    from volunteer_hub.devtools.views import bp as dev_bp
    from volunteer_hub.events.views import bp as events_bp
    from volunteer_hub.health import bp as health_bp
    from volunteer_hub.hours.report_views import bp as hour_reports_bp
    from volunteer_hub.hours.views import bp as hours_bp
    from volunteer_hub.ops.views import bp as ops_bp
    from volunteer_hub.people.admin_views import bp as people_admin_bp
    from volunteer_hub.roster.views import bp as roster_bp
    from volunteer_hub.sms.views import bp as sms_bp
    from volunteer_hub.teams.admin_views import bp as team_admin_bp
    from volunteer_hub.teams.views import bp as teams_bp
    from volunteer_hub.units.views import bp as units_bp
    from volunteer_hub.volunteers.views import bp as volunteers_bp

    blueprints = (
        auth_bp,
        passwords_bp,
        staff_bp,
        teams_bp,
        events_bp,
        callouts_bp,
        units_bp,
        health_bp,
        sms_bp,
        volunteers_bp,
        calendar_bp,
        hour_reports_bp,
        hours_bp,
        ops_bp,
        roster_bp,
        dev_bp,
        team_admin_bp,
        people_admin_bp,
    )
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # bearer tokens, not cookies


def _register_cli(app: Flask) -> None:
    from volunteer_hub.cli import register

    register(app)


def _configure_logging(app: Flask) -> None:
    # The twilio client logs eleven INFO lines per request (headers and all).
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
    # One line per event; gunicorn and flask run install no handler of their own for us.
    root = logging.getLogger()
    if not root.handlers and not app.config.get("TESTING"):
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )


def _check_sms_settings(app: Flask) -> None:
    """A key, template file or route missing for a backend in use stops a web or worker
    process here, not at its first text or provider push. The gateways are built again
    where they are used: one built now, before gunicorn forks, would share its
    connections between the workers."""
    from volunteer_hub.sms.backends import backends_in_use, gateway_for

    for name in sorted(backends_in_use(app.config)):
        gateway_for(app.config, name)
    # The push URLs' secret is all that proves a push comes from the provider.
    secret = app.config.get("SMS_INBOUND_SECRET") or ""
    if secret and len(secret) < MIN_PUSH_SECRET_LENGTH:
        raise RuntimeError(
            f"SMS_INBOUND_SECRET must be at least {MIN_PUSH_SECRET_LENGTH} characters"
            " (e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )


def _announce_mode(app: Flask) -> None:
    if app.config.get("TESTING"):
        return
    if app.config["SECRET_KEY_GENERATED"]:
        log.warning("SECRET_KEY is not set: using a generated development key")
    if not app.config["REDIS_URL"]:
        log.warning(
            "Embedded mode: %s, in-process broker and scheduler (set DATABASE_URL and "
            "REDIS_URL to run web, worker and scheduler as separate processes)",
            "SQLite" if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") else "database",
        )
