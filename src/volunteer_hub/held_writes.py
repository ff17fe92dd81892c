"""Writes held until the transaction's next statement, then sent together.

Why: every statement a sign-up sends costs a round trip and its share of worker CPU
(SQLAlchemy and psycopg), and a sign-up writes two small rows nobody reads back in the
request: its confirmation text (``sms.notices.signup_placed``) and its feed change
(``calendar.tasks._note``). Held here, they reach PostgreSQL as one statement
(``WITH w0 AS (INSERT …), w1 AS (INSERT …) SELECT (SELECT id FROM w0), (SELECT id FROM
w1)``), usually at the commit; an SMS 报名 sends its reply and link
(``sms.inbound._record_reply``) with its feed change the same way. SQLite takes no DML
inside WITH: there the held writes go one by one, at the same moments.

What holds:

* Everything held is written before the session sends any other statement of the
  transaction (``db.session.execute``, ``scalar``, a lazy load, an ORM flush), before a
  savepoint begins and before the commit: whatever the transaction reads later sees the
  rows, and a held write never lives inside a savepoint it was not held in.
* On rollback (of the transaction, or of the savepoint it was held in) a held write is
  dropped: never written, its ``then`` never called, so nothing it would have queued
  after commit is queued.
* ``then(id)`` runs once the row is written (id None when the statement returned no row:
  a duplicate, an opted-out person), still inside the transaction; that is where a
  caller queues its after-commit message.

Only writes whose caller needs neither the id nor an error at once may be held: a
failure surfaces at the next statement or at the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from typing import Any, NamedTuple

from sqlalchemy import event, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction
from sqlalchemy.sql.expression import Executable

_HELD_KEY = "volunteer_hub.held_writes"
#: held writes per statement at most: a sign-up holds two or three; a transaction that
#: holds many (a roster's cancellations) sends a few statements, and the combinations
#: kept built stay few
MAX_TOGETHER = 8

#: ``build(prefix)``: a Core DML statement returning one id column, whose bind parameters
#: (and inner CTEs) are all named with ``prefix`` in front
Builder = Callable[[str], Executable]


class _Held(NamedTuple):
    key: Hashable
    build: Builder
    params: Mapping[str, Any]
    then: Callable[[int | None], None] | None


def hold(
    key: Hashable,
    build: Builder,
    params: Mapping[str, Any],
    then: Callable[[int | None], None] | None = None,
) -> None:
    """Write ``build("")`` with ``params`` before the transaction's next statement, or at
    its commit; then call ``then`` with the returned id (None: no row came back).

    ``key`` names the statement's shape: the statement is built once per key and prefix,
    and one combination per sequence of keys, so a key must always come with the same
    ``build``. ``params`` are the bind values without the prefix."""
    from volunteer_hub.extensions import db

    session = db.session()
    # Tied to a transaction, so that a rollback before any SQL still drops it.
    if not session.in_transaction():
        session.begin()
    session.info.setdefault(_HELD_KEY, []).append(_Held(key, build, params, then))


def install(session_class: type[Session] | Any) -> None:
    """Hook the held writes into a session class or scoped-session factory."""
    event.listen(session_class, "do_orm_execute", _before_statement)
    event.listen(session_class, "before_flush", _before_flush)
    event.listen(session_class, "before_commit", write_held)
    event.listen(session_class, "after_transaction_create", _before_savepoint)
    event.listen(session_class, "after_soft_rollback", _drop)
    event.listen(session_class, "after_transaction_end", _drop_at_end)


def write_held(session: Session, connection: Connection | None = None) -> None:
    """Write what the session holds now (on ``connection``, else the session's)."""
    # Popped first: the writes must not find themselves held when they run.
    held = session.info.pop(_HELD_KEY, None)
    if not held:
        return
    if connection is None:
        connection = session.connection()
    if connection.dialect.name != "postgresql":
        ids = [connection.execute(_statement(w.key, w.build, ""), w.params).scalar() for w in held]
    else:
        ids = []
        for start in range(0, len(held), MAX_TOGETHER):
            ids.extend(_write_together(connection, held[start : start + MAX_TOGETHER]))
    for written, row_id in zip(held, ids, strict=True):
        if written.then is not None:
            written.then(row_id)


# Built once per key and prefix, combined once per sequence of keys: the statements are
# prebuilt like any on the sign-up path (building one costs more CPU than its round trip).
# By key, not by builder: a builder may be a new closure or partial at every hold.
_statements: dict[tuple[Hashable, str], Executable] = {}
_combined: dict[tuple[Hashable, ...], Executable] = {}


def _statement(key: Hashable, build: Builder, prefix: str) -> Executable:
    statement = _statements.get((key, prefix))
    if statement is None:
        statement = _statements[key, prefix] = build(prefix)
    return statement


def _write_together(connection: Connection, held: list[_Held]) -> tuple:
    if len(held) == 1:
        [one] = held
        return (connection.execute(_statement(one.key, one.build, ""), one.params).scalar(),)
    params = {f"w{i}_{name}": value for i, w in enumerate(held) for name, value in w.params.items()}
    return tuple(connection.execute(_together(held), params).one())


def _together(held: list[_Held]) -> Executable:
    """PostgreSQL: the writes as CTEs of one SELECT of their ids. A scalar subquery per
    write, not a join: a write that returns no row must not hide the others' ids."""
    keys = tuple(w.key for w in held)
    statement = _combined.get(keys)
    if statement is None:
        ctes = [_statement(w.key, w.build, f"w{i}_").cte(f"w{i}") for i, w in enumerate(held)]
        statement = select(*(select(*cte.c).scalar_subquery() for cte in ctes))
        _combined[keys] = statement
    return statement


def _before_statement(state: ORMExecuteState) -> None:
    if _HELD_KEY in state.session.info:
        write_held(state.session)


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    # ORM rows and held rows reach the database in the order the code wrote them.
    if _HELD_KEY in session.info:
        write_held(session)


def _before_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if not transaction.nested or _HELD_KEY not in session.info:
        return
    # The savepoint is the session's transaction already, but not yet begun on the
    # connection: the enclosing transaction's connection writes them outside it.
    connection = transaction.parent._connection_for_bind(session.get_bind(), None)
    write_held(session, connection)


def _drop(session: Session, _previous: SessionTransaction) -> None:
    # Whatever is held belongs to the innermost transaction (a savepoint's beginning
    # writes what was held before it), and that is what this rollback ends.
    session.info.pop(_HELD_KEY, None)


def _drop_at_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None and not transaction.nested:
        # A commit wrote them all; what is left was closed without a commit.
        session.info.pop(_HELD_KEY, None)
