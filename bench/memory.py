#!/usr/bin/env python3
"""Memory of the long-lived processes: a gunicorn worker after 10,000 requests, and a
Dramatiq worker process after a 3,000-text call-out.

    .venv/bin/python bench/memory.py --redis-db 9               # both, about three minutes
    .venv/bin/python bench/memory.py --requests 2000 --texts 500   # a quick look

1. Web: a fresh database with the sign-up bench's data (``bench/_setup_data.py``),
   ``gunicorn -w 2 wsgi:app`` with the sign-up bench's settings (SMS_BACKEND=twilio), then
   ``--requests`` requests over 4 connections: API sign-ups, signed SMS sign-ups and
   GET /healthz (2 : 1 : 2). Prints each worker's resident memory (VmRSS) after the
   warm-up and at the end, and which heavy libraries a worker has loaded. Then the same
   for the sign-up bench's floor (``bench/_floor_app.py``: Flask, Flask-SQLAlchemy,
   psycopg and Twilio's signature check, the same requests, served the same way), as the
   yardstick of what those libraries alone hold.
2. Worker: a fresh database, ``--texts`` urgent texts queued in one commit (as
   ``bench/sms_callout.py`` does), one ``dramatiq volunteer_hub.worker`` process with 8
   threads sending them to the project's fake Twilio server; its worker process's VmRSS
   once every text is sent.

Aims (issue 15): a gunicorn worker ≤ 80 MB, a Dramatiq worker process ≤ 100 MB. Removes
what it wrote: both databases are dropped, the Redis database is emptied (it must be
empty to begin with: ``--redis-db``, else the highest empty one).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _race_load as race
from signup_race import Requests, app_env, clean_up, start_gunicorn, stop_servers

AIM_WEB_MB = 80
AIM_WORKER_MB = 100
#: libraries worth knowing whether a process has loaded them (import names)
HEAVY = (
    "openpyxl",
    "segno",
    "icalendar",
    "twilio.rest",
    "alibabacloud_dysmsapi20170525",
    "tencentcloud",
    "alembic",
    "matplotlib",
)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def shared_and_private_mb(pid: int) -> dict[str, float]:
    """Beside VmRSS: PSS (each shared page divided among the processes mapping it) and
    USS (pages only this process holds): what one more worker of the same server costs."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        name, _sep, rest = line.partition(":")
        if rest.strip().endswith("kB"):
            fields[name] = int(rest.split()[0]) / 1024
    private = fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0)
    return {"pss": round(fields.get("Pss", float("nan")), 1), "uss": round(private, 1)}


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def loaded_at_start(module: str, env: dict) -> list[str]:
    """The heavy libraries a process has imported once ``module`` is (what gunicorn and
    Dramatiq import before serving anything); asked of a fresh interpreter."""
    code = f"import sys, {module}; print(' '.join(n for n in {HEAVY!r} if n in sys.modules))"
    return race.run_checked([race.VENV_BIN / "python", "-c", code], env, "import check").split()


def web(args, redis_db: int, workdir: Path) -> dict:
    db_name = f"vh_bench_mem_{secrets.token_hex(4)}"
    env = app_env(db_name, redis_db, workdir)
    with psycopg.connect(race.PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    servers: list[subprocess.Popen] = []
    try:
        race.run_checked(
            [race.VENV_BIN / "flask", "--app", "wsgi", "db", "upgrade"], env, "db upgrade"
        )
        setup = json.loads(
            race.run_checked(
                [race.VENV_BIN / "python", race.ROOT / "bench" / "_setup_data.py", 20, 10_000, 10,
                 2 * args.requests],
                env,
                "setup",
            ).strip()
        )  # fmt: skip
        # One Requests for both servers: every sign-up, ours or the floor's, a new phone.
        requests = Requests(setup, env["TWILIO_AUTH_TOKEN"])
        preload = ("--preload",) if args.preload else ()
        report = serve_and_measure(
            args, env, requests, setup["token"], "wsgi:app", preload, servers, workdir
        )
        report["heavy_libraries_at_start"] = loaded_at_start("wsgi", env)
        floor_args = ("--pythonpath", str(race.ROOT / "bench"), *preload)
        report["floor"] = serve_and_measure(
            args, env, requests, setup["token"], "_floor_app:app", floor_args, servers, workdir
        )
        report["preload"] = args.preload
        return report
    finally:
        clean_up(servers, db_name, redis_db, keep_db=False)


def serve_and_measure(args, env, requests, token, app, extra, servers, workdir) -> dict:
    """``gunicorn -w 2 app``, ``--requests`` of the mix over 4 connections, the workers'
    memory after the warm-up and at the end. The server is stopped before the next one
    starts, so each has the machine to itself."""
    port = race.free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = workdir / f"memory-{app.partition(':')[0]}.log"
    server = start_gunicorn(app, port, env, 2, log, *extra)
    servers.append(server)
    race.wait_healthy(base_url, server)
    client_class = race.CLIENTS["stdlib"]
    auth = {"Authorization": f"Bearer {token}"}
    mix = [requests.api_sign_up, requests.sms_sign_up, requests.healthz]

    def mixed(client, i: int):
        request = mix[(0, 0, 1, 2, 2)[i % 5]]
        return request(client, i)

    run = race.Run("memory", 4)
    race.load(lambda: client_class(base_url, auth), run, mixed, None, 100, server_pid=server.pid)
    workers = children(server.pid)
    warm = {pid: rss_mb(pid) for pid in workers}
    race.load(
        lambda: client_class(base_url, auth),
        run,
        mixed,
        None,
        args.requests - 100,
        server_pid=server.pid,
    )
    report = {
        "app": app,
        "requests": run.count,
        "statuses": {str(k): v for k, v in sorted(run.statuses.items())},
        "rss_mb_after_warm_up": [round(v, 1) for v in warm.values()],
        "rss_mb_at_end": [round(rss_mb(pid), 1) for pid in workers],
        "pss_uss_mb_at_end": [shared_and_private_mb(pid) for pid in workers],
    }
    stop_servers([server])
    return report


def worker(args, redis_db: int) -> dict:
    from sms_callout import _queue_callout, _wait_until_drained

    from volunteer_hub.devtools.fake_twilio import FakeTwilio

    db_name = f"vh_bench_mem_{secrets.token_hex(4)}"
    with psycopg.connect(race.PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    fake = FakeTwilio(delay=0.01, max_per_second=10_000).start()
    process = None
    try:
        env = {
            **os.environ,
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{db_name}",
            "REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}",
            "SECRET_KEY": "bench",
            "SMS_RATE_PER_SECOND": "1000",
            **{k: str(v) for k, v in fake.app_config().items() if v is not None},
        }
        race.run_checked(
            [race.VENV_BIN / "flask", "--app", "wsgi", "db", "upgrade"], env, "db upgrade"
        )
        _queue_callout(env, args.texts)
        process = subprocess.Popen(
            [race.VENV_BIN / "dramatiq", "volunteer_hub.worker", "--processes", "1",
             "--threads", "8"],
            cwd=race.ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        finished, counts = _wait_until_drained(
            env["DATABASE_URL"], args.texts, args.texts / 5 + 120
        )
        # Dramatiq's main process forks the worker process(es) that run the actors.
        pids = children(process.pid) or [process.pid]
        return {
            "texts": args.texts,
            "all_sent": finished,
            "outbox": counts,
            "rss_mb_worker_processes": [round(rss_mb(pid), 1) for pid in pids],
            "rss_mb_main_process": round(rss_mb(process.pid), 1),
            "heavy_libraries_at_start": loaded_at_start("volunteer_hub.worker", env),
        }
    finally:
        race.stop_process_group(process)
        fake.stop()
        clean_up([], db_name, redis_db, keep_db=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--texts", type=int, default=3000)
    parser.add_argument("--redis-db", type=int, help="an empty Redis database (1–15)")
    parser.add_argument("--only", choices=("web", "worker"), help="one of the two")
    parser.add_argument(
        "--preload",
        action="store_true",
        help="gunicorn --preload: the app imported once, before the fork",
    )
    args = parser.parse_args(argv)
    info = race.machine()
    print("machine:", ", ".join(f"{k} {v}" for k, v in info.items()), flush=True)
    redis_db = race.empty_redis_db(args.redis_db)
    workdir = Path(tempfile.mkdtemp(prefix="vh-bench-mem-"))
    results: dict = {"machine": info}
    started = time.perf_counter()
    if args.only in (None, "web"):
        results["web"] = web(args, redis_db, workdir)
        floor = results["web"].pop("floor")
        end = max(results["web"]["rss_mb_at_end"])
        floor_end = max(floor["rss_mb_at_end"])
        print(f"gunicorn workers: {json.dumps(results['web'], ensure_ascii=False)}")
        print(f"  aim ≤ {AIM_WEB_MB} MB: {'met' if end <= AIM_WEB_MB else 'NOT met'}")
        print(f"the floor's gunicorn workers: {json.dumps(floor, ensure_ascii=False)}")
        print(f"  ours ÷ floor (RSS at the end): {end / floor_end:.2f}")
        results["web"]["floor"] = floor
    if args.only in (None, "worker"):
        results["worker"] = worker(args, redis_db)
        end = max(results["worker"]["rss_mb_worker_processes"])
        print(f"dramatiq worker: {json.dumps(results['worker'], ensure_ascii=False)}")
        print(f"  aim ≤ {AIM_WORKER_MB} MB: {'met' if end <= AIM_WORKER_MB else 'NOT met'}")
    print(f"({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
