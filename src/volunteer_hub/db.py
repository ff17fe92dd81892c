"""Declarative base, naming convention and the UTC datetime type every model uses."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import DateTime, ForeignKey, Index, MetaData, func, literal_column, text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out, on PostgreSQL and on SQLite alike.

    SQLite has no time zones: we store naive UTC there and attach UTC on load.
    Naive datetimes are refused so that a local wall-clock time can never slip in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    # One registry carries both, as Flask-SQLAlchemy subclasses the base with SQLAlchemy 2.1.
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


def in_constants(column, values) -> ColumnElement[bool]:
    """``column IN ('a', 'b')`` with constants of the code written into the SQL, for
    prebuilt statements on hot paths: given as a list, the values are bound as an
    expanding parameter, and SQLAlchemy rewrites the statement's SQL on every execution."""
    if any("'" in str(value) for value in values):
        raise ValueError(f"not a plain constant: {values!r}")
    return column.in_([literal_column(f"'{value}'", column.type) for value in values])


def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index over the rows that meet ``where`` only, on PostgreSQL and on SQLite.

    Each dialect takes the condition under its own keyword, and one left out builds a
    full index there without a word: for a unique index, a rule that then refuses rows
    it should let in (a second, cancelled signup) on that database only.
    """
    condition = text(where)
    return Index(name, *columns, unique=unique, postgresql_where=condition, sqlite_where=condition)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.now()
    )


def install_sqlite_hooks() -> None:
    """Make SQLite behave for concurrent writers.

    pysqlite's own transaction handling breaks SAVEPOINT and starts transactions lazily,
    so a read followed by a write can fail with "database is locked" instead of waiting.
    We take over: BEGIN IMMEDIATE takes the write lock up front (writers queue politely,
    up to the connect timeout), WAL lets readers carry on meanwhile.
    """
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _on_connect(dbapi_connection, _record):
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

    @event.listens_for(Engine, "begin")
    def _on_begin(connection):
        if connection.dialect.name != "sqlite":
            return
        # A connection in autocommit (a lone read) takes no lock at all.
        if connection.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def install_fork_guard() -> None:
    """A pooled connection belongs to the process that opened it.

    ``gunicorn --preload`` builds the app once and forks its workers from it, so the
    workers share the imported code instead of each importing it again (README, "Running
    for real"). A connection the app opened before the fork would otherwise be handed to
    every child too: several processes talking over one PostgreSQL session. On checkout in
    another process, the pool forgets the inherited connection without closing it (the
    parent still uses it) and opens a new one: SQLAlchemy's recipe for pools and fork.
    """
    import os

    from sqlalchemy import event, exc
    from sqlalchemy.pool import Pool

    @event.listens_for(Pool, "connect")
    def _remember_process(_dbapi_connection, record):
        record.info["pid"] = os.getpid()

    @event.listens_for(Pool, "checkout")
    def _same_process(_dbapi_connection, record, proxy):
        if record.info.get("pid") != os.getpid():
            record.dbapi_connection = proxy.dbapi_connection = None
            raise exc.DisconnectionError("connection opened before a fork, in another process")


#: execution option: ask psycopg for the results in PostgreSQL's binary format
BINARY_RESULTS = "binary_results"


def install_binary_results_option() -> None:
    """Honour ``.execution_options(binary_results=True)`` on psycopg.

    SQLAlchemy's psycopg dialect reads every result in text format, where PostgreSQL
    sends ``bytea`` hex-encoded: a stored 1 MB feed body crosses the socket as 2 MB of
    hex that psycopg then decodes. psycopg can take the results of one ``execute`` in
    binary instead; this passes the option through at the one point where SQLAlchemy
    calls the cursor, so the statement still goes through the engine and its events
    (statement logging, the tests' query counts). Other drivers ignore the option.
    """
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "do_execute")
    def _execute_binary(cursor, statement, parameters, context):
        if context.execution_options.get(BINARY_RESULTS) and context.dialect.driver == "psycopg":
            cursor.execute(statement, parameters, binary=True)
            return True
        return None


def render_migration_item(type_: str, obj, autogen_context):
    """Alembic hook: migrations spell our UTC type as the plain column type it stores."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def insert_for(dialect: str):
    """The INSERT construct that takes ON CONFLICT clauses on ``dialect`` ("postgresql"
    or "sqlite"; both spell them alike)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def dialect_insert(session, entity):
    """An INSERT for ``entity`` that can take ON CONFLICT clauses, for the session's
    database."""
    return insert_for(session.get_bind().dialect.name)(entity)


def link_key(target: str, *, index: bool = False):
    """A column of a link table (call-out to shift, person to skill): part of its primary
    key, a foreign key to ``target`` ("person.id"), gone with the row it links."""
    return mapped_column(ForeignKey(target, ondelete="CASCADE"), primary_key=True, index=index)
