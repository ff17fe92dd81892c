"""200 people sign up for 20 seats at the same moment, through the HTTP API served by a
real gunicorn (2 worker processes × 8 threads) on the test database."""

import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.signups.checks import assert_seats_consistent
from volunteer_hub.extensions import db

ROOT = Path(__file__).resolve().parents[2]
SEATS = 20
PEOPLE = 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def server(app, tmp_path):
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SECRET_KEY": "test-secret",
        "INSTANCE_PATH": str(tmp_path),
    }
    if app.config["REDIS_URL"]:
        env["REDIS_URL"] = app.config["REDIS_URL"]
        # The tests' own queues, which each test empties: not the default namespace's.
        env["DRAMATIQ_NAMESPACE"] = app.config["DRAMATIQ_NAMESPACE"]
    else:
        env.pop("REDIS_URL", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "2",
            "-k",
            "gthread",
            "--threads",
            "8",
            "-b",
            f"127.0.0.1:{port}",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:  # readiness poll, not a timing assumption
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait()
            pytest.fail(f"gunicorn did not start: {process.stderr.read().decode()[-2000:]}")
        time.sleep(0.1)
    yield base
    process.terminate()
    process.wait(timeout=30)
    process.stderr.close()


@pytest.mark.slow
def test_two_hundred_simultaneous_api_signups_for_twenty_seats(server, make):
    team = make.team()
    # A coordinator over the team: may sign up phones nobody registered yet.
    coordinator = make.coordinator(team.unit)
    shift_id = make.shifts_of(make.event(team, capacity=SEATS))[0].id
    token = make.api_token(coordinator)
    db.session.commit()

    barrier = threading.Barrier(PEOPLE)

    def sign_up(index):
        with httpx.Client(base_url=server, timeout=60) as http:
            barrier.wait()
            response = http.post(
                f"/api/v1/shifts/{shift_id}/signups",
                json={"phone": f"+86137{index:08d}", "name": f"志愿者{index}"},
                headers={"Authorization": f"Bearer {token}"},
            )
            body = response.json()
            return response.status_code, body.get("status"), body.get("waitlist_position")

    with ThreadPoolExecutor(max_workers=PEOPLE) as pool:
        outcomes = list(pool.map(sign_up, range(PEOPLE)))

    assert [code for code, _, _ in outcomes if code >= 500] == []
    assert {code for code, _, _ in outcomes} == {201}
    statuses = [status for _, status, _ in outcomes]
    assert statuses.count("confirmed") == SEATS
    assert statuses.count("waitlisted") == PEOPLE - SEATS
    # Each waitlisted answer tells the true place at commit: 1..180, once each.
    told = sorted(position for _, status, position in outcomes if status == "waitlisted")
    assert told == list(range(1, PEOPLE - SEATS + 1))

    assert_seats_consistent(shift_id, confirmed=SEATS, waitlisted=PEOPLE - SEATS)
