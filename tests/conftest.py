"""Test fixtures.

The database is real: SQLite in a temporary file by default, PostgreSQL when
TEST_DATABASE_URL is set (a fresh database is created on that server for the run and
dropped after). The schema is built once per run by the migrations themselves; each
test then starts from empty tables (the seeded categories stay), so tests that use
threads or a real server see committed data like production does.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import event
from sqlalchemy.engine import make_url

from tests import factories
from volunteer_hub import create_app
from volunteer_hub.calendar.body_cache import EXTENSION_KEY as FEED_BODIES
from volunteer_hub.extensions import db

KEEP_TABLES = {"alembic_version"}


def _postgres_database(base_url: str) -> Iterator[str]:
    url = make_url(base_url).set(drivername="postgresql+psycopg")
    name = f"vh_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> Iterator[str]:
    base = os.environ.get("TEST_DATABASE_URL")
    if base:
        yield from _postgres_database(base)
    else:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"


@pytest.fixture(scope="session")
def redis_url() -> str | None:
    return os.environ.get("TEST_REDIS_URL") or None


@pytest.fixture(scope="session")
def app(database_url, redis_url, tmp_path_factory):
    from volunteer_hub.extensions import upgrade_database

    overrides = {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {
            "hide_parameters": True,
            **({"connect_args": {"timeout": 30}} if database_url.startswith("sqlite") else {}),
        },
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,
        "REDIS_URL": redis_url,
        "RATELIMIT_STORAGE_URI": redis_url or "memory://",
        "RATELIMIT_KEY_PREFIX": f"vh-test-{uuid.uuid4().hex[:8]}",
        "RATELIMIT_ENABLED": True,
        "SERVER_NAME": "localhost",
        "EMBEDDED_WORKER": False,  # tests run workers themselves (the `worker` fixture)
        "DRAMATIQ_NAMESPACE": f"vh-test-{uuid.uuid4().hex[:8]}",
    }
    os.environ.setdefault("INSTANCE_PATH", str(tmp_path_factory.mktemp("instance")))
    app = create_app(overrides)
    with app.app_context():
        upgrade_database()
        app.config["SEEDED_CATEGORY_MAX_ID"] = db.session.scalar(
            sa.text("SELECT max(id) FROM category")
        )
        db.session.remove()
    yield app
    with app.app_context():
        db.engine.dispose()
    if redis_url:
        _remove_keys(
            redis_url, app.config["DRAMATIQ_NAMESPACE"], app.config["RATELIMIT_KEY_PREFIX"]
        )


def _remove_keys(redis_url: str, *names: str) -> None:
    """What the session left in Redis under its own names (workers' heartbeats, the
    tick's last run, rate-limit counters): the queues are emptied test by test."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        for name in names:
            for key in client.scan_iter(match=f"*{name}*", count=1_000):
                client.delete(key)
    finally:
        client.close()


@pytest.fixture(autouse=True)
def _clean_database(app) -> Iterator[None]:
    """Each test in an app context, on empty tables; rows are deleted afterwards."""
    from volunteer_hub.broker import bind_actors

    bind_actors(app.extensions["dramatiq"].broker)  # a test may have built another app
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                if table.name in KEEP_TABLES:
                    continue
                if table.name == "category":
                    conn.execute(
                        table.delete().where(table.c.id > app.config["SEEDED_CATEGORY_MAX_ID"])
                    )
                    conn.execute(table.update().values(is_active=True))
                    continue
                if table.name == "unit":
                    conn.execute(table.update().values(parent_id=None))  # the tree refers to itself
                conn.execute(table.delete())
        from volunteer_hub.sms import pauses

        pauses.lift_all()  # a provider one test paused (in Redis or the app) is not the next's
    from volunteer_hub.extensions import limiter

    limiter.reset()
    app.extensions["dramatiq"].broker.flush_all()
    app.extensions.pop("sms_gateway", None)
    app.extensions.pop(FEED_BODIES, None)


@pytest.fixture
def broker(app):
    """The app's real broker: in-process by default, Redis when TEST_REDIS_URL is set."""
    return app.extensions["dramatiq"].broker


@pytest.fixture
def worker(broker):
    """A real Dramatiq worker on the app's broker; ``broker.join("sms")`` waits for it."""
    import dramatiq

    running = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    running.start()
    yield running
    # End the test's own transaction first: on SQLite it holds the write lock, and a
    # worker thread still finishing a message would wait for it while stop() waits for
    # that thread.
    db.session.rollback()
    stop_worker(broker, running)


def stop_worker(broker, running) -> None:
    """Stop a test's worker and leave the broker as if it had never run.

    Dramatiq leaves a stopped worker's middleware on the broker, and that middleware
    starts consumers for every queue declared afterwards: a ghost that takes messages
    nobody processes. And a stopped worker drops the messages it had taken (a delay
    queue's consumer holds them until due) while the StubBroker still counts them as
    unfinished. Either way a later broker.join() would wait forever.
    """
    running.stop()
    broker.middleware[:] = [
        m for m in broker.middleware if getattr(m, "worker", None) is not running
    ]
    if isinstance(broker, StubBroker):  # Redis keeps unacknowledged messages itself
        for queue in broker.queues.values():
            while queue.unfinished_tasks > queue.qsize():
                queue.task_done()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make():
    """Factories: ``make.team(...)``, ``make.leader(team)`` … (see tests/factories.py)."""
    return factories


class QueryCounter:
    def __init__(self):
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "BEGIN")):
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def statements(app):
    """The SQL statements sent while the test runs, upper-cased and on one line each;
    BEGIN and COMMIT are not among them (savepoints are)."""
    sent: list[str] = []

    def record(conn, cursor, statement, *args):
        statement = " ".join(statement.split()).upper()
        if not statement.startswith(("BEGIN", "COMMIT")):
            sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    yield sent
    event.remove(db.engine, "before_cursor_execute", record)


@pytest.fixture
def count_queries(app):
    """``with count_queries() as counter: ...`` then ``counter.count``."""

    @contextmanager
    def counting():
        counter = QueryCounter()
        event.listen(db.engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            event.remove(db.engine, "before_cursor_execute", counter)

    return counting


def login(client, person, password=factories.PASSWORD):
    response = client.post(
        "/login", data={"phone": person.phone, "password": password}, follow_redirects=False
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return response


@pytest.fixture
def csrf_on(app):
    """CSRF protection as in production (tests run without it by default)."""
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        yield
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)
