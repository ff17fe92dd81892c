"""A second app on the test database, for settings that act when the app is built
(TRUSTED_PROXY_HOPS, a private Redis): ``with other_app(app, NAME=value) as second:``.

Flask-Limiter's ``limiter`` and Dramatiq's global broker are single objects that the
newest app binds to, so on the way out they are given back to the session's app.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from volunteer_hub import create_app
from volunteer_hub.broker import bind_actors
from volunteer_hub.extensions import db, limiter


@contextmanager
def other_app(app: Flask, **overrides) -> Iterator[Flask]:
    settings = {
        key: app.config[key]
        for key in (
            "TESTING",
            "SQLALCHEMY_DATABASE_URI",
            "SQLALCHEMY_ENGINE_OPTIONS",
            "SECRET_KEY",
            "WTF_CSRF_ENABLED",
            "REDIS_URL",
            "RATELIMIT_STORAGE_URI",
            "RATELIMIT_KEY_PREFIX",
            "SERVER_NAME",
            "EMBEDDED_WORKER",
            "DRAMATIQ_NAMESPACE",
        )
    }
    settings.update(overrides)
    db.session.commit()  # SQLite: an open transaction of the test would hold the write lock
    second = None
    try:
        second = create_app(settings)  # which may refuse the settings, half-way through
        yield second
    finally:
        if second is not None:
            with second.app_context():
                db.session.remove()
                db.engine.dispose()
        limiter.init_app(app)  # the session app's storage again (hooks are not added twice)
        # Flask-Limiter keeps "storage unreachable" on the object: a private Redis the
        # second app used may have been stopped; the session app's storage is fine.
        limiter._storage_dead = False
        bind_actors(app.extensions["dramatiq"].broker)
