"""A pooled database connection never crosses a fork (``gunicorn --preload``): the child
opens its own, and the parent's stay usable."""

from __future__ import annotations

import json
import os
from contextlib import ExitStack

from sqlalchemy import text

from volunteer_hub.extensions import db

POOLED = 3


def _session_id(connection) -> int | None:
    """PostgreSQL's id of the session on the other end (None on SQLite: no server)."""
    if connection.dialect.name == "postgresql":
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    return None


def test_a_forked_child_opens_its_own_connections(app):
    with app.app_context():
        engine = db.engine
        engine.dispose()
        # Connections opened here and back in the pool, as in a worker that has served
        # requests; held, so that no new connection object can take one's place in memory.
        with ExitStack() as stack:
            connections = [stack.enter_context(engine.connect()) for _ in range(POOLED)]
            parent_dbapi = [c.connection.dbapi_connection for c in connections]
            parent_sessions = {_session_id(c) for c in connections} - {None}
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:  # the child: report and leave without running pytest's exit code
            try:
                answers = []
                for _ in range(POOLED):
                    with engine.connect() as connection:
                        answers.append(
                            {
                                "session": _session_id(connection),
                                "inherited": any(
                                    connection.connection.dbapi_connection is d
                                    for d in parent_dbapi
                                ),
                            }
                        )
                answer = {"answers": answers}
            except BaseException as exc:  # anything must reach the parent
                answer = {"error": repr(exc)}
            os.write(write_end, json.dumps(answer).encode())
            os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            answer = json.loads(pipe.read())
        os.waitpid(child, 0)

        assert "error" not in answer, answer["error"]
        assert not any(a["inherited"] for a in answer["answers"]), answer
        assert not {a["session"] for a in answer["answers"]} & parent_sessions, answer
        # The parent's connections were neither closed nor disturbed by the child.
        for _ in range(POOLED):
            with engine.connect() as connection:
                assert connection.connection.dbapi_connection in parent_dbapi
                assert _session_id(connection) in parent_sessions | {None}
                assert connection.execute(text("SELECT 1")).scalar_one() == 1
