"""Fault tests: the product as deployed (gunicorn, a Dramatiq worker, PostgreSQL, Redis,
the fake Twilio) on private servers that a test may stop and restart. The shared
PostgreSQL and Redis of the machine are never touched.

Without redis-server or PostgreSQL's initdb these tests skip; with VH_REQUIRE_SERVERS=1
(CI) a missing binary is a failure instead.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from volunteer_hub.devtools.fake_twilio import FakeTwilio
from volunteer_hub.devtools.servers import (
    ROOT,
    DramatiqWorker,
    Gunicorn,
    PostgresCluster,
    RedisServer,
    ServerUnavailable,
    log_tail,
    wait_until,
)

#: the fake provider's time per message
PROVIDER_DELAY = 0.05
#: texts per second (SMS_RATE_PER_SECOND) unless a test module sets its own
SMS_RATE = 20
#: members of the event's team: each sign-up and code request below uses one of its own
MEMBERS = 800
#: outbox rows that went through the provider (a reply to a text travels in the webhook's
#: answer, recorded as sent with this provider, and never reaches the fake)
PROVIDER_ROWS = "coalesce(provider, '') <> 'webhook-reply'"


@pytest.fixture(autouse=True)
def _clean_database() -> Iterator[None]:
    """Replaces the suite's: these tests bring their own database and never use the
    test app (so none is built for them)."""
    yield


def _unavailable(reason: str) -> None:
    if os.environ.get("VH_REQUIRE_SERVERS"):
        pytest.fail(f"{reason} (VH_REQUIRE_SERVERS is set: the fault tests must run)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    try:
        cluster = PostgresCluster()
    except ServerUnavailable as exc:
        _unavailable(str(exc))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def redis_server(tmp_path) -> Iterator[RedisServer]:
    try:
        server = RedisServer(tmp_path / "redis")
    except ServerUnavailable as exc:
        _unavailable(str(exc))
    with server:
        yield server


@dataclass
class Stack:
    """One deployment on the private servers, and what the tests ask of it."""

    env: dict[str, str]
    logs: Path
    fake: FakeTwilio
    web: Gunicorn
    worker: DramatiqWorker
    data: dict
    database_url: str
    statuses: dict[str, Counter] = field(default_factory=dict)
    #: the first answer of each kind and unexpected status, for failure messages
    samples: dict[tuple[str, int], str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.web.base_url

    # -- requests, each kind recorded by its status (or the transport error) ----------------

    def record(self, kind: str, outcome: int | str, response=None) -> int | str:
        with RECORD_LOCK:  # requests come from several threads
            self.statuses.setdefault(kind, Counter())[outcome] += 1
            if response is not None and isinstance(outcome, int) and outcome >= 400:
                self.samples.setdefault((kind, outcome), response.text[:300])
        return outcome

    def api_signup(self, phone: str, name: str) -> int | str:
        try:
            response = httpx.post(
                f"{self.base_url}/api/v1/shifts/{self.data['shift_id']}/signups",
                json={"phone": phone, "name": name},
                headers={"Authorization": f"Bearer {self.data['token']}"},
                timeout=30,
            )
        except httpx.HTTPError as exc:
            return self.record("api signup", type(exc).__name__)
        return self.record("api signup", response.status_code, response)

    def sms_signup(self, phone: str) -> int | str:
        import requests

        try:
            response = self.fake.send_inbound(
                f"{self.base_url}/sms/inbound", phone, f"报名 {self.data['code']}"
            )
        except requests.RequestException as exc:
            return self.record("sms signup", type(exc).__name__)
        if response.status_code == 200 and "<Message>" not in response.text:
            return self.record("sms signup", "200 without a reply")
        return self.record("sms signup", response.status_code, response)

    def _form_post(self, kind: str, page: str, form: dict[str, str]) -> int | str:
        """GET the page (session cookie, CSRF token), then POST the form, as a browser."""
        try:
            with httpx.Client(base_url=self.base_url, timeout=30) as client:
                shown = client.get(page)
                self.record(f"{kind} page", shown.status_code, shown)
                match = CSRF_TOKEN.search(shown.text)
                if match is None:
                    return self.record(kind, f"page {shown.status_code} without a form")
                posted = client.post(page, data={**form, "csrf_token": match.group(1)})
        except httpx.HTTPError as exc:
            return self.record(kind, type(exc).__name__)
        return self.record(kind, posted.status_code, posted)

    def staff_login(self) -> int | str:
        form = {"phone": self.data["admin_phone"], "password": self.data["password"]}
        return self._form_post("staff login", "/login", form)

    def code_request(self, phone: str) -> int | str:
        return self._form_post("code request", "/me/login", {"phone": phone})

    # -- the outbox and the provider --------------------------------------------------------

    def sql(self, query: str, *params) -> list[tuple]:
        with psycopg.connect(self.database_url, connect_timeout=5) as conn:
            return conn.execute(query, params).fetchall()

    def outbox_statuses(self) -> Counter:
        rows = self.sql(
            f"SELECT status, count(*) FROM outgoing_sms WHERE {PROVIDER_ROWS} GROUP BY 1"
        )
        return Counter(dict(rows))

    def tick(self) -> str:
        """The scheduler's tick, clock moved on (see app_commands.tick)."""
        return run_app_command(self.env, "tick")

    def wait_for_outbox(self, timeout: float) -> Counter:
        """Poll until no provider-bound row is queued or sending, or the deadline; the
        statuses at the end."""
        wait_until(lambda: not {"queued", "sending"} & set(+self.outbox_statuses()), timeout, 0.25)
        return self.outbox_statuses()

    def sent_once_check(self) -> tuple[Counter, Counter]:
        """(rows, provider): each provider-bound outbox row as (to, body), and each message
        the fake accepted the same way; equal when every row was sent exactly once."""
        rows = Counter(
            (to, body)
            for to, body in self.sql(
                f"SELECT to_phone, body FROM outgoing_sms WHERE {PROVIDER_ROWS}"
            )
        )
        provider = Counter((m["to"], m["body"]) for m in self.fake.messages)
        return rows, provider

    def log_errors(self) -> str:
        """The exception lines of gunicorn's and the worker's logs, for failure messages."""
        return (
            f"answers: {self.samples}\n"
            f"gunicorn:\n{exception_lines(self.web.log_path)}\n"
            f"worker:\n{exception_lines(self.worker.log_path)}"
        )


RECORD_LOCK = threading.Lock()
CSRF_TOKEN = re.compile(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"')
EXCEPTION_LINE = re.compile(r"^(\S*(Error|Exception)\b.*|.*Traceback.*|\S+\.\S+: .*)$")


def exception_lines(path: Path, limit: int = 40) -> str:
    """Distinct exception lines of a log, most frequent first, with their counts."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"(no log at {path})"
    found = Counter(
        line.strip()[:240]
        for line in text.splitlines()
        if EXCEPTION_LINE.match(line.strip()) and "Traceback" not in line
    )
    if not found:
        return "(no exceptions)"
    return "\n".join(f"  {n}x {line}" for line, n in found.most_common(limit))


def run_app_command(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("app_commands.py")), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode:
        raise RuntimeError(f"app_commands {args} failed:\n{result.stdout}{result.stderr}")
    return result.stdout.strip()


def app_env(
    database_url: str, redis_url: str, fake: FakeTwilio, workdir: Path, sms_rate: int
) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TWILIO_", "TEST_", "DATABASE_", "REDIS_", "PUBLIC_BASE_URL"))
    }
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        DRAMATIQ_NAMESPACE=f"vh-faults-{uuid.uuid4().hex[:8]}",
        SECRET_KEY=secrets.token_hex(32),
        INSTANCE_PATH=str(workdir / "instance"),
        PYTHONUNBUFFERED="1",
        # The tests send many logins from one address: the limits must not be what answers.
        LOGIN_RATE_LIMIT="1000 per minute",
        LOGIN_CODE_RATE_LIMIT="100 per minute",
        LOGIN_CODE_IP_RATE_LIMIT="1000 per minute",
        SMS_RATE_PER_SECOND=str(sms_rate),
        SMS_SEND_TIMEOUT="5",
    )
    env.update({key: str(value) for key, value in fake.app_config().items() if value is not None})
    return env


@pytest.fixture
def stack(request, postgres_cluster, redis_server, tmp_path) -> Iterator[Stack]:
    """A fresh database on the private cluster, migrated and set up; gunicorn -w 2 and a
    Dramatiq worker (-p 1 -t 2) on it, the private Redis and a fake Twilio. A test module
    may set SMS_RATE_PER_SECOND."""
    sms_rate = getattr(request.module, "SMS_RATE_PER_SECOND", SMS_RATE)
    database_url = postgres_cluster.create_database(f"vh_faults_{uuid.uuid4().hex[:8]}")
    logs = tmp_path / "logs"
    logs.mkdir()
    with FakeTwilio(delay=PROVIDER_DELAY) as fake:
        env = app_env(database_url, redis_server.url(), fake, tmp_path, sms_rate)
        migrate = subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert migrate.returncode == 0, migrate.stderr[-3000:]
        data = json.loads(run_app_command(env, "setup", str(MEMBERS)))
        web = Gunicorn(env, logs / "gunicorn.log", workers=2)
        worker = DramatiqWorker(env, logs / "worker.log", processes=1, threads=2)
        try:
            web.start()
            worker.start()
            yield Stack(env, logs, fake, web, worker, data, database_url)
        finally:
            web.stop()
            worker.stop()
            print(f"logs of this test: {logs}")
            print(f"--- gunicorn (tail) ---\n{log_tail(web.log_path, 30)}")
            print(f"--- worker (tail) ---\n{log_tail(worker.log_path, 30)}")
