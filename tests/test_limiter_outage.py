"""A Redis outage does not stop logins: the rate limits fall back to each process's memory
(said once in the log), texts wait in the outbox, /healthz is 503 naming Redis; when
Redis is back the limits count there again.

Against a private redis-server on a free port that this test stops and starts (never the
shared one). Without redis-server on PATH the test skips, unless VH_REQUIRE_SERVERS=1.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time

import pytest
import redis

from tests.factories import PASSWORD
from tests.other_app import other_app
from tests.volunteers.conftest import code_from_outbox, login_texts
from volunteer_hub.extensions import db


class PrivateRedis:
    def __init__(self, workdir):
        self.workdir = workdir
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.client = redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        assert poll(self._answers, 20), "the private redis-server did not start"

    def stop(self) -> None:
        """An outage: the process ends, the port refuses connections."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=20)
        self.process = None

    def _answers(self) -> bool:
        try:
            return bool(self.client.ping())
        except redis.exceptions.ConnectionError:
            return False

    def limiter_keys(self) -> list[bytes]:
        return list(self.client.scan_iter("LIMITS*"))


def poll(predicate, timeout: float) -> bool:
    """Until ``predicate()`` holds or ``timeout`` seconds pass (a deadline, not a sleep)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture
def private_redis(tmp_path):
    if shutil.which("redis-server") is None:
        if os.environ.get("VH_REQUIRE_SERVERS") == "1":
            pytest.fail("redis-server is not on PATH and VH_REQUIRE_SERVERS=1")
        pytest.skip("redis-server is not on PATH")
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def ask_code(client, phone: str) -> int:
    return client.post("/me/login", data={"phone": phone}).status_code


def test_logins_work_and_stay_limited_while_redis_is_down(app, make, private_redis, caplog):
    leader = make.leader(make.team())
    volunteer = make.member(make.team())
    leader_phone, volunteer_phone, volunteer_id = leader.phone, volunteer.phone, volunteer.id
    caplog.set_level(logging.INFO)
    with other_app(
        app,
        REDIS_URL=private_redis.url,
        RATELIMIT_STORAGE_URI=private_redis.url,
        # room for the polling below; the per-phone limit (3 per 10 minutes) is the one
        # this test watches
        LOGIN_CODE_IP_RATE_LIMIT="1000 per hour",
    ) as second:
        client = second.test_client()
        assert client.get("/healthz").status_code == 200
        assert ask_code(client, "+8613700000001") == 302
        assert private_redis.limiter_keys(), "limits are counted in Redis while it is up"

        private_redis.stop()

        # Staff log in with a password.
        staff = second.test_client()
        response = staff.post("/login", data={"phone": leader_phone, "password": PASSWORD})
        assert response.status_code == 302, response.get_data(as_text=True)[:300]
        assert staff.get("/teams").status_code == 200

        # A volunteer asks for codes: limited per phone in this process's memory.
        statuses = [ask_code(client, volunteer_phone) for _ in range(4)]
        assert statuses == [302, 302, 302, 429]
        assert [text.status for text in login_texts(volunteer_id)] == ["queued"] * 3
        code = code_from_outbox(volunteer_id)
        db.session.rollback()  # SQLite: our read would hold off the request's write
        response = client.post("/me/login/code", data={"code": code})
        assert response.status_code == 302
        assert response.headers["Location"] == "/me"
        assert client.get("/me").status_code == 200

        health = client.get("/healthz")
        assert health.status_code == 503
        assert health.get_json()["checks"]["redis"] == "error: ConnectionError"
        assert health.get_json()["checks"]["database"] == "ok"

        fallbacks = [r for r in caplog.records if "falling back to in-memory" in r.getMessage()]
        assert len(fallbacks) == 1, "the outage is logged once, not once per request"

        private_redis.start()

        assert client.get("/healthz").status_code == 200
        # The limiter looks for Redis again after a back-off of a few seconds; unknown
        # numbers (no text, no row) until their counts show up in Redis.
        numbers = iter(range(2, 10_000))
        assert poll(
            lambda: (
                ask_code(client, f"+86137{next(numbers):08d}") == 302
                and private_redis.limiter_keys()
            ),
            timeout=90,
        ), "the limits never went back to Redis"
        # The count kept in memory during the outage is gone: Redis has its own.
        assert ask_code(client, volunteer_phone) == 302
