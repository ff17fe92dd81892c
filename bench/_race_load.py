"""The load client and the machine's accounting, shared by the HTTP benchmarks
(signup_race.py, feed_serve.py): keep-alive connections released together, latency per
request, CPU of the server, the client and everything else from ``/proc``; starting and
watching a gunicorn. Not meant to be run by hand."""

from __future__ import annotations

import http.client
import itertools
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
import psycopg
import redis

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = ROOT / ".venv" / "bin"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379


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

    def statuses_text(self) -> str:
        """The answers by status, then the client's errors by kind: "200:41 409:3"."""
        parts = [f"{k}:{v}" for k, v in sorted(self.statuses.items())]
        return " ".join(parts + [f"{k}:{v}" for k, v in self.errors.items()])

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

    def call(
        self,
        method: str,
        path: str,
        body: dict | None = None,
        *,
        form: dict | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """``body`` is sent as JSON, ``form`` as a form (a webhook); ``headers`` add to
        the connection's own."""
        headers = {**self.headers, **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        elif form is not None:
            data = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
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

    def call(self, method: str, path: str, body: dict | None = None, **extra) -> tuple[int, bytes]:
        """As ``StdlibClient.call``: ``form`` and ``headers`` in ``extra``."""
        response = self.client.request(
            method, path, json=body, data=extra.get("form"), headers=extra.get("headers")
        )
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
    server_pid: int | None = None,
) -> Run:
    """``run.concurrency`` threads, one keep-alive connection each, released together; stops
    at ``duration`` seconds or ``max_requests`` requests, whichever comes first. Adds to
    ``run``, so several calls make one run out of rounds. The CPU of ``server_pid``'s
    process tree (default: ``SERVER_PID``) is counted as the server's."""
    if server_pid is None and SERVER_PID:
        server_pid = SERVER_PID[0]
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
    server_before = process_tree_seconds(server_pid) if server_pid else 0.0
    started = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    run.wall += time.perf_counter() - started
    run.client_cpu += time.process_time() - cpu_before
    run.machine_cpu += machine_busy_seconds() - machine_before
    if server_pid:
        run.server_cpu += process_tree_seconds(server_pid) - server_before
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


def empty_redis_db(chosen: int | None = None) -> int:
    """The Redis database for the run, emptied after: ``chosen`` (``--redis-db``), which
    must hold no keys, or else the highest-numbered empty one among 1–15. Database 0 is
    never taken: it is everyone's default."""
    candidates = [chosen] if chosen is not None else range(15, 0, -1)
    for n in candidates:
        if redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=n, socket_timeout=5).dbsize() == 0:
            return n
    if chosen is not None:
        raise SystemExit(f"Redis database {chosen} holds keys; choose an empty one (--redis-db)")
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


def stop_process_group(process: subprocess.Popen | None, timeout: float = 30) -> None:
    """SIGTERM to a process started with ``start_new_session=True`` and its children
    (Dramatiq's worker processes), SIGKILL if they are still there after ``timeout``."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def remove_keys(redis_url: str, namespace: str) -> int:
    """What a run wrote to a shared Redis database: every key naming its namespace (the
    broker's queues, the send-rate counters; each run's namespace is its database's
    name). Returns how many were removed."""
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(match=f"*{namespace}*", count=1000))
    if keys:
        client.delete(*keys)
    return len(keys)
