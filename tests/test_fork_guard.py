"""A pooled database connection never crosses a fork (``gunicorn --preload``): the child
opens its own, and the parent's stays usable."""

from __future__ import annotations

import json
import os

from sqlalchemy import text

from volunteer_hub.extensions import db


def _session_id(connection) -> int | None:
    """PostgreSQL's id of the session on the other end (None on SQLite: no server)."""
    if connection.dialect.name == "postgresql":
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
    return None


def test_a_forked_child_opens_its_own_connection(app):
    with app.app_context():
        engine = db.engine
        with engine.connect() as connection:  # opened here, then back in the pool
            parent_session = _session_id(connection)
            # Held, so that no new connection object can take its place in memory.
            parent_dbapi = connection.connection.dbapi_connection
        read_end, write_end = os.pipe()
        child = os.fork()
        if child == 0:  # the child: report and leave without running pytest's exit code
            try:
                with engine.connect() as connection:
                    answer = {
                        "session": _session_id(connection),
                        "inherited": connection.connection.dbapi_connection is parent_dbapi,
                    }
            except BaseException as exc:  # anything must reach the parent
                answer = {"error": repr(exc)}
            os.write(write_end, json.dumps(answer).encode())
            os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            answer = json.loads(pipe.read())
        os.waitpid(child, 0)

        assert "error" not in answer, answer["error"]
        assert not answer["inherited"]
        if parent_session is not None:
            assert answer["session"] != parent_session
        # The parent's pooled connection was neither closed nor disturbed by the child.
        with engine.connect() as connection:
            assert connection.connection.dbapi_connection is parent_dbapi
            assert _session_id(connection) == parent_session
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
