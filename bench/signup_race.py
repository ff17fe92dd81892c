#!/usr/bin/env python3
"""Sign-up throughput and latency through the HTTP API, beside GET /healthz.

    .venv/bin/python bench/signup_race.py                # the full run, about a minute
    .venv/bin/python bench/signup_race.py --duration 5 --concurrency 4,32 --burst 1000

What it does, on this machine only (everything on 127.0.0.1):

1. creates a fresh PostgreSQL database (127.0.0.1:5432, user postgres, trust auth) and
   picks an empty Redis database (redis://127.0.0.1:6379/<n>);
2. ``flask db upgrade``, then makes a team, a leader, a coordinator's API token and the shifts
   (``bench/_setup_data.py``, in a process of its own);
3. starts ``gunicorn -w 2`` on a free port and waits for /healthz;
4. for each concurrency level: GET /healthz for ``--duration`` seconds, then
   ``POST /api/v1/shifts/{id}/signups`` for as long — every request a new phone number,
   spread round-robin over many large shifts so the runs measure the sign-up path and not
   one hot row; then prints requests/s, p50 and p99 and the ratio of the two;
5. the burst: ``--burst`` sign-ups for one shift of ``--seats`` seats, all released at once,
   then counts confirmed / waitlisted answers and checks the database: confirmed rows,
   the shift's ``filled`` counter, oversold seats;
6. stops gunicorn, drops the database, empties the Redis database it used.

A benchmark, not a test: it prints figures and whether they meet the aims (sign-ups at
least a quarter of /healthz throughput, p99 under 100 ms at 4 connections, nothing
oversold, no 5xx); its exit status is 0 unless it could not run.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg
import redis

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
#: +86 139 02xx xxxx: one synthetic number per sign-up request
PHONE_BASE = 13902000000


# -- measuring --------------------------------------------------------------------------------
@dataclass
class Run:
    name: str
    concurrency: int
    latencies: list[float] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    #: for the burst: "confirmed" / "waitlisted" from the 201 bodies
    outcomes: Counter = field(default_factory=Counter)
    #: seconds of measuring, summed over the rounds
    wall: float = 0.0
    #: CPU seconds the load client itself used (all its threads)
    client_cpu: float = 0.0
    #: CPU seconds the gunicorn workers used, and the whole machine (all processes)
    server_cpu: float = 0.0
    machine_cpu: float = 0.0

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.wall if self.wall else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000

    @property
    def others_pct(self) -> float:
        """CPU % used by neither the load client nor gunicorn: PostgreSQL, Redis, and any
        other work on the machine (a busy neighbour makes the figures worse)."""
        if not self.wall:
            return 0.0
        return (self.machine_cpu - self.client_cpu - self.server_cpu) / self.wall * 100

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)

    def summary(self) -> dict:
        return {
            "name": self.name,
            "concurrency": self.concurrency,
            "requests": self.count,
            "wall_s": round(self.wall, 3),
            "client_cpu_ms_per_request": round(self.client_cpu / max(self.count, 1) * 1000, 3),
            "gunicorn_cpu_ms_per_request": round(self.server_cpu / max(self.count, 1) * 1000, 3),
            "machine_busy_pct": round(self.machine_cpu / self.wall * 100 if self.wall else 0, 1),
            "other_processes_pct": round(self.others_pct, 1),
            "req_per_s": round(self.rate, 1),
            "p50_ms": round(self.pct(0.50), 2),
            "p99_ms": round(self.pct(0.99), 2),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": dict(self.errors),
            "outcomes": dict(self.outcomes),
        }


class StdlibClient:
    """One keep-alive HTTP/1.1 connection (``http.client``), reopened when the server closes
    it. About 0.6 ms of client CPU per request here, against 1.5 ms for ``httpx.Client``:
    on a 2-core machine the load client shares the cores with the server it measures."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None):
        host, port = base_url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=30)
        self.headers = headers or {}

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        headers = dict(self.headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            raise

    def close(self) -> None:
        self.conn.close()


class HttpxClient:
    """The same interface over ``httpx.Client`` (keep-alive pool of one)."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None):
        self.client = httpx.Client(base_url=base_url, headers=headers, timeout=30.0)

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        response = self.client.request(method, path, json=body)
        return response.status_code, response.content

    def close(self) -> None:
        self.client.close()


CLIENTS = {"stdlib": StdlibClient, "httpx": HttpxClient}
CLIENT_ERRORS = (OSError, http.client.HTTPException, httpx.HTTPError)


def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine have used since boot (``/proc/stat``)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def process_tree_seconds(pid: int) -> float:
    """CPU seconds used by a process and its live children (gunicorn master and workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for each in pids:
        try:
            stat = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(stat[11]) + int(stat[12])) / tick
    return total


#: the gunicorn master's pid, once started: its CPU is accounted per run
SERVER_PID: list[int] = []


def load(
    make_client,  # () -> StdlibClient | HttpxClient
    run: Run,
    request,  # (client, i) -> (status, body)
    duration: float | None,
    max_requests: int,
    on_response=None,  # (status, body) -> None, in the worker thread
) -> Run:
    """``run.concurrency`` threads, one keep-alive connection each, released together; stops
    at ``duration`` seconds or ``max_requests`` requests, whichever comes first. Adds to
    ``run``, so several calls make one run out of rounds."""
    counter = itertools.count()
    barrier = threading.Barrier(run.concurrency + 1)
    lock = threading.Lock()
    deadline = [float("inf")]

    def worker() -> None:
        latencies: list[float] = []
        statuses: Counter = Counter()
        errors: Counter = Counter()
        client = make_client()
        try:
            barrier.wait()
            while time.perf_counter() < deadline[0]:
                i = next(counter)
                if i >= max_requests:
                    break
                started = time.perf_counter()
                try:
                    status, body = request(client, i)
                except CLIENT_ERRORS as exc:
                    errors[type(exc).__name__] += 1
                    continue
                latencies.append(time.perf_counter() - started)
                statuses[status] += 1
                if on_response is not None:
                    on_response(status, body)
        finally:
            client.close()
            with lock:
                run.latencies += latencies
                run.statuses.update(statuses)
                run.errors.update(errors)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(run.concurrency)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + duration if duration else float("inf")
    cpu_before = time.process_time()
    machine_before = machine_busy_seconds()
    server_before = process_tree_seconds(SERVER_PID[0]) if SERVER_PID else 0.0
    started = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    run.wall += time.perf_counter() - started
    run.client_cpu += time.process_time() - cpu_before
    run.machine_cpu += machine_busy_seconds() - machine_before
    if SERVER_PID:
        run.server_cpu += process_tree_seconds(SERVER_PID[0]) - server_before
    return run


# -- the environment --------------------------------------------------------------------------
def machine() -> dict:
    cpu_model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gib = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_gib = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    with psycopg.connect(PG_ADMIN_URL, connect_timeout=5) as conn:
        pg_version = conn.execute("SHOW server_version").fetchone()[0]
    gunicorn_version = subprocess.run(
        [VENV_BIN / "gunicorn", "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "memory": mem_gib,
        "cpu": cpu_model,
        "os": platform.platform(),
        "python": platform.python_version(),
        "postgresql": pg_version,
        "gunicorn": gunicorn_version,
        "commit": commit,
        "loadavg_before": Path("/proc/loadavg").read_text().split()[0],
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def empty_redis_db() -> int:
    """The highest-numbered Redis database with no keys: ours for the run, emptied after."""
    for n in range(15, 0, -1):
        if redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=n, socket_timeout=5).dbsize() == 0:
            return n
    raise SystemExit("no empty Redis database among 1–15; free one or stop the bench")


def run_checked(cmd: list, env: dict, what: str) -> str:
    result = subprocess.run(
        [str(c) for c in cmd], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"{what} failed (exit {result.returncode})")
    return result.stdout


def wait_healthy(base_url: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode} before answering")
        try:
            if httpx.get(base_url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /healthz in time")


def api_ready(base_url: str, token: str, shift_id: int) -> tuple[bool, str]:
    """Does POST /api/v1/shifts/<id>/signups exist and answer 201 or 409?"""
    response = httpx.post(
        f"{base_url}/api/v1/shifts/{shift_id}/signups",
        json={"phone": str(PHONE_BASE + 999_999), "name": "预热"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return response.status_code in (201, 409), f"{response.status_code} {response.text[:300]}"


# -- the bench --------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=12.0, help="seconds per phase")
    parser.add_argument("--rounds", type=int, default=4, help="alternating slices per level")
    parser.add_argument("--concurrency", default="4,32", help="comma-separated levels")
    parser.add_argument("--max-requests", type=int, default=100_000, help="per phase")
    parser.add_argument("--burst", type=int, default=1000, help="sign-ups in the burst")
    parser.add_argument("--seats", type=int, default=10, help="seats of the burst shift")
    parser.add_argument("--burst-concurrency", type=int, default=32)
    parser.add_argument("--shifts", type=int, default=200, help="shifts for throughput runs")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument(
        "--client", choices=sorted(CLIENTS), default="stdlib", help="HTTP client of the load"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep-db", action="store_true", help="don't drop the database")
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]

    info = machine()
    print("machine:", ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)

    db_name = f"vh_bench_{secrets.token_hex(4)}"
    redis_db = empty_redis_db()
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    workdir = Path(tempfile.mkdtemp(prefix="vh-bench-"))
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{db_name}",
        REDIS_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db}",
        SECRET_KEY=secrets.token_hex(32),
        SMS_BACKEND="console",
        INSTANCE_PATH=str(workdir / "instance"),
        PYTHONUNBUFFERED="1",
    )
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL"):
        env.pop(name, None)

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    server: subprocess.Popen | None = None
    server_log = workdir / "gunicorn.log"
    results: dict = {"machine": info, "runs": []}
    try:
        run_checked([VENV_BIN / "flask", "--app", "wsgi", "db", "upgrade"], env, "db upgrade")
        setup = json.loads(
            run_checked(
                [
                    VENV_BIN / "python",
                    ROOT / "bench" / "_setup_data.py",
                    args.shifts,
                    10_000,  # seats per shift: the timed runs never fill one
                    args.seats,
                ],
                env,
                "setup",
            ).strip()
        )
        token, shift_ids, burst_shift = setup["token"], setup["shift_ids"], setup["burst_shift_id"]

        with server_log.open("w") as log:
            server = subprocess.Popen(
                [
                    VENV_BIN / "gunicorn",
                    "-w",
                    str(args.workers),
                    "-b",
                    f"127.0.0.1:{port}",
                    "wsgi:app",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        SERVER_PID[:] = [server.pid]
        wait_healthy(base_url, server)
        ready, answer = api_ready(base_url, token, shift_ids[0])
        if not ready:
            print(f"POST /api/v1/shifts/<id>/signups is not there yet: {answer}")
            return 3

        auth = {"Authorization": f"Bearer {token}"}
        phones = itertools.count(PHONE_BASE)
        phone_lock = threading.Lock()

        def next_phone() -> int:
            with phone_lock:
                return next(phones)

        client_class = CLIENTS[args.client]

        def plain() -> StdlibClient | HttpxClient:
            return client_class(base_url)

        def authorised() -> StdlibClient | HttpxClient:
            return client_class(base_url, auth)

        def healthz(client, _i: int) -> tuple[int, bytes]:
            return client.call("GET", "/healthz")

        def sign_up(client, i: int) -> tuple[int, bytes]:
            phone = next_phone()
            return client.call(
                "POST",
                f"/api/v1/shifts/{shift_ids[i % len(shift_ids)]}/signups",
                {"phone": str(phone), "name": f"压测志愿者{phone % 1_000_000:06d}"},
            )

        # Warm both paths (imports, pools, caches) in both workers before measuring.
        load(plain, Run("warm-up", 4), healthz, None, 100)
        warm_signups = load(authorised, Run("warm-up", 4), sign_up, None, 100)

        print(
            f"{'phase':<28}{'conc':>5}{'requests':>10}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
            f"{'5xx':>6}{'srv ms':>8}{'cli ms':>8}{'other%':>8}  statuses"
        )
        print(
            "  (srv ms, cli ms: CPU per request in the gunicorn workers and in this load client;"
            " other%: CPU of everything else — PostgreSQL, Redis, neighbours — of 100% per core)"
        )
        ratios = {}
        p99_signup = {}
        for level in levels:
            pair = [Run("GET /healthz", level), Run("POST /shifts/{id}/signups", level)]
            # Alternate short slices of both, so a change in background load on the machine
            # weighs on both alike rather than on whichever ran second.
            for _round in range(args.rounds):
                for run, request, make_client in (
                    (pair[0], healthz, plain),
                    (pair[1], sign_up, authorised),
                ):
                    load(
                        make_client,
                        run,
                        request,
                        args.duration / args.rounds,
                        args.max_requests // args.rounds,
                    )
            for run in pair:
                name = run.name
                results["runs"].append(run.summary())
                statuses = " ".join(f"{k}:{v}" for k, v in sorted(run.statuses.items()))
                if run.errors:
                    statuses += " " + " ".join(f"{k}:{v}" for k, v in run.errors.items())
                print(
                    f"{name:<28}{level:>5}{run.count:>10}{run.rate:>9.0f}{run.pct(0.5):>9.1f}"
                    f"{run.pct(0.99):>9.1f}{run.server_errors:>6}"
                    f"{run.server_cpu / max(run.count, 1) * 1000:>8.2f}"
                    f"{run.client_cpu / max(run.count, 1) * 1000:>8.2f}"
                    f"{run.others_pct:>8.0f}  {statuses}",
                    flush=True,
                )
            ratios[level] = pair[1].rate / pair[0].rate if pair[0].rate else 0.0
            p99_signup[level] = pair[1].pct(0.99)
            print(f"{'  sign-ups / healthz':<28}{level:>5}{ratios[level]:>19.2f}", flush=True)

        # The burst: everyone at once for a few seats.
        burst = Run("burst", args.burst_concurrency)
        outcome_lock = threading.Lock()

        def burst_request(client, _i: int) -> tuple[int, bytes]:
            phone = next_phone()
            return client.call(
                "POST",
                f"/api/v1/shifts/{burst_shift}/signups",
                {"phone": str(phone), "name": f"抢位志愿者{phone % 1_000_000:06d}"},
            )

        def record(status: int, body: bytes) -> None:
            if status == 201:
                outcome = json.loads(body).get("status", "?")
                with outcome_lock:
                    burst.outcomes[outcome] += 1

        load(authorised, burst, burst_request, None, args.burst, on_response=record)
        with psycopg.connect(env["DATABASE_URL"]) as conn:
            filled, capacity_db = conn.execute(
                "SELECT filled, capacity FROM shift WHERE id = %s", (burst_shift,)
            ).fetchone()
            rows = dict(
                conn.execute(
                    "SELECT status, count(*) FROM signup WHERE shift_id = %s GROUP BY status",
                    (burst_shift,),
                ).fetchall()
            )
            total_signups = conn.execute("SELECT count(*) FROM signup").fetchone()[0]
        confirmed = burst.outcomes.get("confirmed", 0)
        oversold = max(confirmed - capacity_db, 0, rows.get("confirmed", 0) - capacity_db)
        burst_report = {
            **burst.summary(),
            "capacity": capacity_db,
            "confirmed": confirmed,
            "waitlisted": burst.outcomes.get("waitlisted", 0),
            "oversold": oversold,
            "filled": filled,
            "confirmed_rows": rows.get("confirmed", 0),
            "waitlisted_rows": rows.get("waitlisted", 0),
            "5xx": burst.server_errors,
        }
        results["burst"] = burst_report
        created = (
            1  # the probe
            + warm_signups.statuses.get(201, 0)
            + sum(r["statuses"].get("201", 0) for r in results["runs"] if "signups" in r["name"])
            + burst.statuses.get(201, 0)
        )
        print(
            f"burst: {burst.count} sign-ups for {capacity_db} seats at {burst.concurrency} "
            f"connections in {burst.wall:.2f} s: confirmed {confirmed}, waitlisted "
            f"{burst_report['waitlisted']}, oversold {oversold}, 5xx {burst.server_errors}, "
            f"other {dict((k, v) for k, v in burst.statuses.items() if k != 201)}; database: "
            f"filled {filled}, confirmed rows {burst_report['confirmed_rows']}, waitlisted rows "
            f"{burst_report['waitlisted_rows']}"
        )
        print(
            f"consistency: {created} sign-ups answered 201, {total_signups} signup rows "
            f"in the database ({'equal' if created == total_signups else 'DIFFERENT'})"
        )
        results["consistency"] = {"answered_201": created, "signup_rows": total_signups}

        server_errors = sum(
            r["statuses"].get(str(s), 0) for r in results["runs"] for s in range(500, 600)
        )
        aims = {
            "sign-ups >= 1/4 of /healthz throughput": all(r >= 0.25 for r in ratios.values()),
            "p99 < 100 ms at 4 connections": p99_signup.get(4, float("inf")) < 100,
            "0 oversold": oversold == 0 and filled == burst_report["confirmed_rows"],
            "0 5xx": server_errors + burst.server_errors == 0,
        }
        results["aims"] = aims
        results["ratios"] = {str(k): round(v, 3) for k, v in ratios.items()}
        print("aims: " + "; ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in aims.items()))
        if server_errors + burst.server_errors:
            print("--- gunicorn log (tail) ---")
            print("\n".join(server_log.read_text(errors="replace").splitlines()[-40:]))
        if args.json:
            args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
        return 0
    finally:
        clean_up(server, db_name, redis_db, keep_db=args.keep_db)


def clean_up(server, db_name: str, redis_db: int, *, keep_db: bool) -> None:
    """Stop gunicorn, drop the bench database (unless kept) and empty the Redis db."""
    if server is not None and server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    if not keep_db:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    else:
        print(f"kept database {db_name}")
    redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=redis_db).flushdb()


if __name__ == "__main__":
    sys.exit(main())
