#!/usr/bin/env python3
"""Sign-up throughput and latency, ours against the floor, beside GET /healthz.

    .venv/bin/python bench/signup_race.py                # the full run, about three minutes
    .venv/bin/python bench/signup_race.py --duration 4 --rounds 2 --burst 200   # a quick look

What it does, on this machine only (everything on 127.0.0.1):

1. creates a fresh PostgreSQL database (127.0.0.1:5432, user postgres, trust auth) and
   takes an empty Redis database (``--redis-db``, else the highest empty one);
2. ``flask db upgrade``, then makes a team, a leader, a coordinator's API token, the
   shifts and the registered volunteers who sign up by text (``bench/_setup_data.py``);
3. starts two servers the same way, ``gunicorn -w 2`` each, on the same database: ours
   (``wsgi:app``, SMS_BACKEND=twilio) and the floor (``bench/_floor_app.py``, a minimal
   Flask + Flask-SQLAlchemy app doing the same work);
4. counts the statements one sign-up makes (``bench/_count_statements.py``);
5. for each concurrency level, in alternating short slices: GET /healthz (ours); an API
   sign-up (``POST /api/v1/shifts/{id}/signups``, a new phone each time) on ours and on
   the floor; a signed Twilio webhook sign-up (``POST /sms/inbound``, "报名 <code>" from a
   registered volunteer, a new one each time) on ours and on the floor; at the first
   level also a waitlist placement (a full shift) and a duplicate (409) on ours;
6. the burst: ``--burst`` sign-ups for one shift of ``--seats`` seats, all released at once,
   then counts confirmed / waitlisted answers and checks the database;
7. stops both servers, drops the database, empties the Redis database it used.

A benchmark, not a test: it prints figures and whether they meet the aims of issue 15
(sign-up ÷ floor ≥ 0.5 for the API and SMS at every level, p99 < 100 ms at 4
connections, waitlist ≤ 3× and duplicate ≤ 2× a /healthz, nothing oversold, no 5xx);
its exit status is 0 unless it could not run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import httpx
import psycopg
import redis
from twilio.request_validator import RequestValidator

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _race_load as race

#: +86 139 02xx xxxx: one synthetic number per API sign-up request
PHONE_BASE = 13902000000
#: what the webhook requests claim as their public origin (the URL Twilio signs)
PUBLIC_BASE_URL = "https://bench.invalid"
#: the aims of issue 15
AIM_FLOOR_RATIO = 0.5
AIM_WAITLIST_COST = 3.0
AIM_DUPLICATE_COST = 2.0


def app_env(db_name: str, redis_db: int, workdir: Path) -> dict[str, str]:
    """Our app's environment: Twilio as the SMS backend (texts are queued, never sent:
    no worker runs), so the webhook checks signatures with the real RequestValidator."""
    env = dict(os.environ)
    for name in ("PUBLIC_BASE_URL", "SMS_ROUTES", "TWILIO_MESSAGING_SERVICE_SID"):
        env.pop(name, None)
    env.update(
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{db_name}",
        REDIS_URL=f"redis://{race.REDIS_HOST}:{race.REDIS_PORT}/{redis_db}",
        SECRET_KEY=secrets.token_hex(32),
        SMS_BACKEND="twilio",
        TWILIO_ACCOUNT_SID="AC" + secrets.token_hex(16),
        TWILIO_AUTH_TOKEN=secrets.token_hex(16),
        TWILIO_FROM_NUMBER="+15005550006",
        TWILIO_API_BASE_URL="http://127.0.0.1:9",  # never called: nothing consumes the queue
        PUBLIC_BASE_URL=PUBLIC_BASE_URL,
        INSTANCE_PATH=str(workdir / "instance"),
        PYTHONUNBUFFERED="1",
    )
    return env


def start_gunicorn(app: str, port: int, env: dict, workers: int, log: Path, *extra: str):
    with log.open("w") as out:
        return subprocess.Popen(
            [
                race.VENV_BIN / "gunicorn",
                "-w",
                str(workers),
                "-b",
                f"127.0.0.1:{port}",
                *extra,
                app,
            ],
            cwd=race.ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def api_ready(base_url: str, token: str, shift_id: int) -> tuple[bool, str]:
    """Does POST /api/v1/shifts/<id>/signups exist and answer 201 or 409?"""
    response = httpx.post(
        f"{base_url}/api/v1/shifts/{shift_id}/signups",
        json={"phone": str(PHONE_BASE + 999_999), "name": "预热"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    return response.status_code in (201, 409), f"{response.status_code} {response.text[:300]}"


class Requests:
    """The requests of the run, each ``(client, i) -> (status, body)``; phones and
    texters are handed out once across both servers, so every sign-up is a new one."""

    def __init__(self, setup: dict, auth_token: str):
        self.shift_ids = setup["shift_ids"]
        self.codes = setup["shift_codes"]
        self.waitlist_shift_ids = setup["waitlist_shift_ids"]
        self.texters = setup["texter_phones"]
        self.validator = RequestValidator(auth_token)
        self.lock = threading.Lock()
        self.phones = itertools.count(PHONE_BASE)
        self.texter_index = itertools.count()
        #: (phone, shift id) pairs already signed up: every request for them is a 409
        self.duplicates: list[tuple[int, int]] = []

    def next_phone(self) -> int:
        with self.lock:
            return next(self.phones)

    def healthz(self, client, _i: int):
        return client.call("GET", "/healthz")

    def api_sign_up(self, client, i: int, shift_id: int | None = None, label: str = "压测"):
        phone = self.next_phone()
        return client.call(
            "POST",
            f"/api/v1/shifts/{shift_id or self.shift_ids[i % len(self.shift_ids)]}/signups",
            {"phone": str(phone), "name": f"{label}志愿者{phone % 1_000_000:06d}"},
        )

    def waitlisted(self, client, i: int):
        return self.api_sign_up(
            client, i, self.waitlist_shift_ids[i % len(self.waitlist_shift_ids)]
        )

    def duplicate(self, client, i: int):
        phone, shift_id = self.duplicates[i % len(self.duplicates)]
        return client.call(
            "POST", f"/api/v1/shifts/{shift_id}/signups", {"phone": str(phone), "name": "重复"}
        )

    def sms_sign_up(self, client, i: int):
        """A registered volunteer texts "报名 <code>", signed as Twilio signs it."""
        with self.lock:
            texter = self.texters[next(self.texter_index) % len(self.texters)]
        form = {
            "MessageSid": "SM" + secrets.token_hex(16),
            "AccountSid": "AC" + "0" * 32,
            "From": texter,
            "To": "+15005550006",
            "Body": f"报名 {self.codes[i % len(self.codes)]}",
            "NumMedia": "0",
        }
        signature = self.validator.compute_signature(PUBLIC_BASE_URL + "/sms/inbound", form)
        return client.call(
            "POST", "/sms/inbound", form=form, headers={"X-Twilio-Signature": signature}
        )


def print_run(run: race.Run, label: str) -> None:
    print(
        f"{label:<30}{run.concurrency:>5}{run.count:>9}{run.rate:>8.0f}{run.pct(0.5):>8.1f}"
        f"{run.pct(0.99):>8.1f}{run.server_errors:>5}"
        f"{run.server_cpu / max(run.count, 1) * 1000:>8.2f}"
        f"{run.client_cpu / max(run.count, 1) * 1000:>8.2f}"
        f"{run.others_pct:>7.0f}  {run.statuses_text()}",
        flush=True,
    )


def measure_level(level: int, phases: list, args, results: dict) -> dict[str, race.Run]:
    """Alternate short slices of every phase, so a change in the background load of the
    machine weighs on all of them alike; print each, return them by name."""
    runs = {name: race.Run(name, level) for name, *_rest in phases}
    for _round in range(args.rounds):
        for name, request, make_client, pid in phases:
            race.load(
                make_client,
                runs[name],
                request,
                args.duration / args.rounds,
                args.max_requests // args.rounds,
                server_pid=pid,
            )
    for name, run in runs.items():
        results["runs"].append(run.summary())
        print_run(run, name)
    return runs


def ratio(a: race.Run, b: race.Run) -> float:
    return a.rate / b.rate if b.rate else 0.0


def count_statements(env: dict, setup: dict, token: str) -> dict:
    output = race.run_checked(
        [race.VENV_BIN / "python", race.ROOT / "bench" / "_count_statements.py", json.dumps(
            {"token": token, "shift_id": setup["shift_ids"][1], "code": setup["shift_codes"][1],
             "texter": setup["texter_phones"][-1], "public_base_url": PUBLIC_BASE_URL}
        )],
        env,
        "counting statements",
    )  # fmt: skip
    return json.loads(output.strip().splitlines()[-1])


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
    parser.add_argument("--texters", type=int, default=40_000, help="volunteers who text")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--redis-db", type=int, help="an empty Redis database (1–15)")
    parser.add_argument("--client", choices=sorted(race.CLIENTS), default="stdlib")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep-db", action="store_true", help="don't drop the database")
    parser.add_argument(
        "--preload", action="store_true", help="both servers with gunicorn --preload (production)"
    )
    args = parser.parse_args(argv)
    levels = [int(c) for c in args.concurrency.split(",") if c.strip()]

    info = race.machine()
    print("machine:", ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    db_name = f"vh_bench_{secrets.token_hex(4)}"
    redis_db = race.empty_redis_db(args.redis_db)
    workdir = Path(tempfile.mkdtemp(prefix="vh-bench-"))
    env = app_env(db_name, redis_db, workdir)
    with psycopg.connect(race.PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    servers: list[subprocess.Popen] = []
    try:
        return _bench(args, levels, info, env, workdir, servers)
    finally:
        clean_up(servers, db_name, redis_db, keep_db=args.keep_db)


def _bench(args, levels: list[int], info: dict, env: dict, workdir: Path, servers: list) -> int:
    race.run_checked([race.VENV_BIN / "flask", "--app", "wsgi", "db", "upgrade"], env, "db upgrade")
    setup = json.loads(
        race.run_checked(
            [race.VENV_BIN / "python", race.ROOT / "bench" / "_setup_data.py",
             args.shifts, 10_000, args.seats, args.texters],
            env,
            "setup",
        ).strip()
    )  # fmt: skip
    token = setup["token"]
    ours_port, floor_port = race.free_port(), race.free_port()
    ours_url, floor_url = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{floor_port}"
    preload = ("--preload",) if args.preload else ()
    ours = start_gunicorn("wsgi:app", ours_port, env, args.workers, workdir / "ours.log", *preload)
    servers.append(ours)
    floor = start_gunicorn(
        "_floor_app:app", floor_port, env, args.workers, workdir / "floor.log",
        "--pythonpath", str(race.ROOT / "bench"), *preload,
    )  # fmt: skip
    servers.append(floor)
    race.SERVER_PID[:] = [ours.pid]
    race.wait_healthy(ours_url, ours)
    race.wait_healthy(floor_url, floor)
    ready, answer = api_ready(ours_url, token, setup["shift_ids"][0])
    if not ready:
        print(f"POST /api/v1/shifts/<id>/signups is not there yet: {answer}")
        return 3
    statements = count_statements(env, setup, token)
    print("statements per request (ours, besides BEGIN/COMMIT):", statements, flush=True)
    results: dict = {"machine": info, "runs": [], "statements": statements}

    requests = Requests(setup, env["TWILIO_AUTH_TOKEN"])
    client_class = race.CLIENTS[args.client]
    auth = {"Authorization": f"Bearer {token}"}

    def client_for(base_url: str, headers: dict | None = None):
        return lambda: client_class(base_url, headers)

    plain, ours_api, floor_api = (
        client_for(ours_url), client_for(ours_url, auth), client_for(floor_url, auth)
    )  # fmt: skip
    floor_plain = client_for(floor_url)
    # Fill the waitlist shifts (one seat each) and sign up the duplicates' first time.
    setup_run = race.Run("setup", 1)
    for shift_id in setup["waitlist_shift_ids"]:
        race.load(
            ours_api, setup_run, lambda c, i, s=shift_id: requests.api_sign_up(c, i, s), None, 1
        )
    for n in range(4):
        phone, shift_id = requests.next_phone(), setup["shift_ids"][-1 - n]
        requests.duplicates.append((phone, shift_id))
        race.load(
            ours_api,
            setup_run,
            lambda c, i, p=phone, s=shift_id: c.call(
                "POST", f"/api/v1/shifts/{s}/signups", {"phone": str(p), "name": "重复"}
            ),
            None,
            1,
        )
    # Warm every path (imports, pools, caches) in both workers of both servers; named by
    # kind, so the consistency check counts their answers with the rest.
    warm_runs = [race.Run(f"warm-up {name}", 4) for name in ("API", "SMS")]
    for make_client, request, run in (
        (plain, requests.healthz, warm_runs[0]), (ours_api, requests.api_sign_up, warm_runs[0]),
        (floor_api, requests.api_sign_up, warm_runs[0]), (plain, requests.sms_sign_up, warm_runs[1]),
        (floor_plain, requests.sms_sign_up, warm_runs[1]), (ours_api, requests.waitlisted, warm_runs[0]),
        (ours_api, requests.duplicate, warm_runs[0]),
    ):  # fmt: skip
        race.load(make_client, run, request, None, 100, server_pid=0)

    print(
        f"{'phase':<30}{'conc':>5}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'5xx':>5}{'srv ms':>8}{'cli ms':>8}{'other%':>7}  statuses\n"
        "  (srv ms, cli ms: CPU per request in that server's gunicorn and in this load client;"
        " other%: CPU of everything else — PostgreSQL, Redis, neighbours — of 100% per core)"
    )
    aims_ratios: dict[str, float] = {}
    p99_api: dict[int, float] = {}
    all_runs: list[race.Run] = [setup_run, *warm_runs]
    for n, level in enumerate(levels):
        phases = [
            ("GET /healthz", requests.healthz, plain, ours.pid),
            ("API sign-up, ours", requests.api_sign_up, ours_api, ours.pid),
            ("API sign-up, floor", requests.api_sign_up, floor_api, floor.pid),
            ("SMS sign-up, ours", requests.sms_sign_up, plain, ours.pid),
            ("SMS sign-up, floor", requests.sms_sign_up, floor_plain, floor.pid),
        ]
        if n == 0:
            phases += [
                ("API waitlist place, ours", requests.waitlisted, ours_api, ours.pid),
                ("API duplicate 409, ours", requests.duplicate, ours_api, ours.pid),
            ]
        runs = measure_level(level, phases, args, results)
        all_runs += runs.values()
        health = runs["GET /healthz"]
        figures = {
            f"API sign-up ÷ floor at {level}": ratio(
                runs["API sign-up, ours"], runs["API sign-up, floor"]
            ),
            f"SMS sign-up ÷ floor at {level}": ratio(
                runs["SMS sign-up, ours"], runs["SMS sign-up, floor"]
            ),
        }
        if n == 0:
            figures[f"waitlist place ÷ healthz cost at {level}"] = ratio(
                health, runs["API waitlist place, ours"]
            )
            figures[f"duplicate 409 ÷ healthz cost at {level}"] = ratio(
                health, runs["API duplicate 409, ours"]
            )
        for name, value in figures.items():
            print(f"  {name}: {value:.2f}", flush=True)
        aims_ratios.update(figures)
        p99_api[level] = runs["API sign-up, ours"].pct(0.99)

    burst_report, burst = run_burst(args, requests, ours_api, setup["burst_shift_id"], env)
    all_runs.append(burst)
    results["burst"] = burst_report
    results["consistency"] = consistency(all_runs, env["DATABASE_URL"])
    server_errors = sum(run.server_errors for run in all_runs)
    aims = {
        "sign-up ≥ 0.5 × floor (API and SMS, every level)": all(
            v >= AIM_FLOOR_RATIO for k, v in aims_ratios.items() if "floor" in k
        ),
        "p99 < 100 ms at 4 connections": p99_api.get(4, float("inf")) < 100,
        "waitlist ≤ 3 × healthz": all(
            v <= AIM_WAITLIST_COST for k, v in aims_ratios.items() if k.startswith("waitlist")
        ),
        "duplicate ≤ 2 × healthz": all(
            v <= AIM_DUPLICATE_COST for k, v in aims_ratios.items() if k.startswith("duplicate")
        ),
        "0 oversold": burst_report["oversold"] == 0
        and burst_report["filled"] == burst_report["confirmed_rows"],
        "0 5xx": server_errors == 0,
    }
    results["aims"] = aims
    results["ratios"] = {k: round(v, 3) for k, v in aims_ratios.items()}
    print("aims: " + "; ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in aims.items()))
    if server_errors:
        for log in ("ours.log", "floor.log"):
            print(f"--- {log} (tail) ---")
            print("\n".join((workdir / log).read_text(errors="replace").splitlines()[-40:]))
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    return 0


def run_burst(args, requests: Requests, make_client, shift_id: int, env: dict):
    """Everyone at once for a few seats; then the answers against the rows."""
    burst = race.Run("burst", args.burst_concurrency)
    outcome_lock = threading.Lock()

    def record(status: int, body: bytes) -> None:
        if status == 201:
            outcome = json.loads(body).get("status", "?")
            with outcome_lock:
                burst.outcomes[outcome] += 1

    race.load(
        make_client,
        burst,
        lambda c, i: requests.api_sign_up(c, i, shift_id, "抢位"),
        None,
        args.burst,
        on_response=record,
    )
    with psycopg.connect(env["DATABASE_URL"]) as conn:
        filled, capacity = conn.execute(
            "SELECT filled, capacity FROM shift WHERE id = %s", (shift_id,)
        ).fetchone()
        rows = dict(
            conn.execute(
                "SELECT status, count(*) FROM signup WHERE shift_id = %s GROUP BY status",
                (shift_id,),
            ).fetchall()
        )
    confirmed = burst.outcomes.get("confirmed", 0)
    report = {
        **burst.summary(),
        "capacity": capacity,
        "confirmed": confirmed,
        "waitlisted": burst.outcomes.get("waitlisted", 0),
        "oversold": max(confirmed - capacity, 0, rows.get("confirmed", 0) - capacity),
        "filled": filled,
        "confirmed_rows": rows.get("confirmed", 0),
        "waitlisted_rows": rows.get("waitlisted", 0),
        "5xx": burst.server_errors,
    }
    print(
        f"burst: {burst.count} sign-ups for {capacity} seats at {burst.concurrency} "
        f"connections in {burst.wall:.2f} s: confirmed {confirmed}, waitlisted "
        f"{report['waitlisted']}, oversold {report['oversold']}, 5xx {burst.server_errors}, "
        f"other {dict((k, v) for k, v in burst.statuses.items() if k != 201)}; database: "
        f"filled {filled}, confirmed rows {report['confirmed_rows']}, waitlisted rows "
        f"{report['waitlisted_rows']}"
    )
    return report, burst


def consistency(runs: list[race.Run], database_url: str) -> dict:
    """Every API 201 (ours and the floor's) is an API signup row and the other way round
    (+2: the readiness probe and the statement count's sign-up); every SMS sign-up
    answered is an SMS signup row (+1: the statement count's)."""
    api_201 = 2 + sum(run.statuses.get(201, 0) for run in runs if "SMS" not in run.name)
    sms_200 = 1 + sum(run.statuses.get(200, 0) for run in runs if "SMS" in run.name)
    with psycopg.connect(database_url) as conn:
        rows = dict(conn.execute("SELECT source, count(*) FROM signup GROUP BY source").fetchall())
    report = {
        "api_answered_201": api_201,
        "api_rows": rows.get("api", 0),
        "sms_answered_200": sms_200,
        "sms_rows": rows.get("sms", 0),
    }
    same = api_201 == report["api_rows"] and sms_200 == report["sms_rows"]
    print(f"consistency: {report} ({'equal' if same else 'DIFFERENT'})")
    return report


def stop_servers(servers) -> None:
    for server in servers:
        if server is not None and server.poll() is None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def clean_up(servers, db_name: str, redis_db: int, *, keep_db: bool) -> None:
    """Stop the servers, drop the bench database (unless kept) and empty the Redis db,
    which held nothing before the run (``empty_redis_db``)."""
    stop_servers(servers if isinstance(servers, list) else [servers])
    if not keep_db:
        with psycopg.connect(race.PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    else:
        print(f"kept database {db_name}")
    redis.Redis(host=race.REDIS_HOST, port=race.REDIS_PORT, db=redis_db).flushdb()


if __name__ == "__main__":
    sys.exit(main())
