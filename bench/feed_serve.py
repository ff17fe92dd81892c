#!/usr/bin/env python3
"""A unit feed of 1,000 events: served by gunicorn beside a static file of the same
bytes, and rebuilt by the worker's function, against icalendar alone.

    .venv/bin/python bench/feed_serve.py                 # the full run, 4–6 minutes
    .venv/bin/python bench/feed_serve.py --duration 4 --rounds 2 --repeat 3   # a quick look

What it does, on this machine only (everything on 127.0.0.1):

1. creates a fresh PostgreSQL database (127.0.0.1:5432, user postgres, trust auth) and
   picks an empty Redis database; ``flask db upgrade``;
2. makes the data through the real services (``bench/_feed_data.py``, a process of its
   own): 鄂城区 with four streets, eight teams and ``--events`` events (one to three
   shifts each, every 20th a weekly series with a week skipped and one moved, every
   25th cancelled, signups on every third), 华容区 with one team and ``--small-events``
   events, and a unit-scope feed of each district (``calendar.services.create_feed``);
3. rebuild: ``calendar.tasks.rebuild_feed`` (the actor's function, called directly:
   claim, queries, build, store, commit) for both feeds, ``--repeat`` times each,
   alternating with icalendar alone serialising the same events (``feed_build.py``'s
   ``bare_icalendar``); median times and SQL statements per rebuild;
4. serving: writes the big feed's stored body to a file and starts ``gunicorn -w 2`` on
   ``bench/_feed_serve_app.py`` (the real app plus that file as a Flask static route and
   as a bare WSGI file response); then in alternating slices, over keep-alive
   connections: ``GET /feeds/<token>.ics``, the static file through Flask, the bare file
   — each for the full body and with ``If-None-Match`` (304); and a what-if, the real
   view without the pool's pre-ping;
5. stops gunicorn, drops the database, empties the Redis database.

The aims (issue 4): the feed at least half the static file's requests/s, for the body
and for the 304; the same number of queries for 10 and 1,000 events; the rebuild within
1.5x of icalendar alone. A benchmark, not a test: exit status 0 unless it could not run.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _race_load import (  # bench/_race_load.py: the load client and helpers
    PG_ADMIN_URL,
    REDIS_HOST,
    REDIS_PORT,
    ROOT,
    SERVER_PID,
    VENV_BIN,
    Run,
    StdlibClient,
    empty_redis_db,
    free_port,
    load,
    machine,
    run_checked,
    wait_healthy,
)
from signup_race import clean_up

#: (name, path template) of what is served; the feed first, the references after
TARGETS = [
    ("feed", "/feeds/{token}.ics"),
    ("static (Flask send_file)", "/_bench/static.ics"),
    ("static (bare WSGI)", "/_bench/raw.ics"),
]
#: what-ifs beside them (the real view with one or two changes; see _feed_serve_app.py),
#: with the phases each runs in: full body (False), 304 (True)
WHAT_IFS = [
    ("what-if: no pre-ping", "/_bench/feed-noping/{token}.ics", (False, True)),
]
AIM_SERVE = 0.5
AIM_REBUILD = 1.5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000, help="events in the big unit")
    parser.add_argument("--small-events", type=int, default=10, help="events in the small one")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per phase")
    parser.add_argument("--rounds", type=int, default=5, help="alternating slices per phase")
    parser.add_argument("--concurrency", default="4", help="comma-separated connection counts")
    parser.add_argument("--max-requests", type=int, default=200_000, help="per phase")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--repeat", type=int, default=9, help="timed rebuilds per feed")
    parser.add_argument(
        "--profile",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="after the timed phases, sample the gunicorn workers with py-spy for this long "
        "while serving the full body, and print the top functions",
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
    workdir = Path(tempfile.mkdtemp(prefix="vh-bench-feed-"))
    static_file = workdir / "feed.ics"
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:5432/{db_name}",
        REDIS_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db}",
        SECRET_KEY=secrets.token_hex(32),
        SMS_BACKEND="console",
        PUBLIC_BASE_URL="https://vh.example.cn",
        INSTANCE_PATH=str(workdir / "instance"),
        BENCH_STATIC_FILE=str(static_file),
        PYTHONUNBUFFERED="1",
    )
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        env.pop(name, None)

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    server: subprocess.Popen | None = None
    server_log = workdir / "gunicorn.log"
    results: dict = {"machine": info, "database": db_name}
    helper = [VENV_BIN / "python", ROOT / "bench" / "_feed_data.py"]
    try:
        run_checked([VENV_BIN / "flask", "--app", "wsgi", "db", "upgrade"], env, "db upgrade")
        print(
            f"data: {args.events} + {args.small_events} events through the services …",
            flush=True,
        )
        setup = json.loads(
            run_checked([*helper, "setup", args.events, args.small_events], env, "setup")
            .strip()
            .splitlines()[-1]
        )
        big, small = setup["big"], setup["small"]
        print(
            f"data: {setup['teams']} teams, {setup['volunteers']} volunteers; 鄂城区 "
            f"{big['events']} events ({big['shifts']} shifts, {big['series']} weekly series, "
            f"{big['cancelled']} cancelled, {big['signups']} signups); 华容区 "
            f"{small['events']} events; made in {setup['made_in_s']} s",
            flush=True,
        )
        results["data"] = {k: v for k, v in setup.items() if k not in ("big", "small")} | {
            "big": {k: v for k, v in big.items() if k != "token"},
            "small": {k: v for k, v in small.items() if k != "token"},
        }

        # -- rebuild --------------------------------------------------------------------------
        print(f"rebuild: {args.repeat} timed runs per feed after a warm-up …", flush=True)
        rebuilt = json.loads(
            run_checked(
                [*helper, "rebuild", args.repeat, small["feed_id"], big["feed_id"]],
                env,
                "rebuild",
            )
            .strip()
            .splitlines()[-1]
        )
        rebuild_small, rebuild_big = rebuilt[str(small["feed_id"])], rebuilt[str(big["feed_id"])]
        results["rebuild"] = {"small": rebuild_small, "big": rebuild_big}
        print(
            f"{'feed':<10}{'VEVENT':>8}{'bytes':>10}{'queries':>9}{'rebuild ms':>12}"
            f"{'sql ms':>9}{'build ms':>10}{'other ms':>10}{'icalendar ms':>14}{'ratio':>8}"
        )
        for label, r in (("10", rebuild_small), ("1,000", rebuild_big)):
            queries = "/".join(str(q) for q in r["queries"])
            print(
                f"{label:<10}{r['events']:>8}{r['body_bytes']:>10,}{queries:>9}"
                f"{r['rebuild_ms']:>12.1f}{r['sql_ms']:>9.1f}{r['build_feed_ms']:>10.1f}"
                f"{r['other_ms']:>10.1f}{r['icalendar_alone_ms']:>14.1f}{r['ratio']:>7.2f}x",
                flush=True,
            )
        print("  statements of one rebuild (1,000 events):")
        for statement in rebuild_big["statements"]:
            print("   ", statement[:110])

        # -- serving --------------------------------------------------------------------------
        with psycopg.connect(env["DATABASE_URL"]) as conn:
            body, etag = conn.execute(
                "SELECT body, etag FROM feed WHERE id = %s", (big["feed_id"],)
            ).fetchone()
        body = bytes(body)
        static_file.write_bytes(body)
        size = len(body)
        with server_log.open("w") as log:
            server = subprocess.Popen(
                [
                    VENV_BIN / "gunicorn",
                    "-w",
                    str(args.workers),
                    "-b",
                    f"127.0.0.1:{port}",
                    "--pythonpath",
                    str(ROOT / "bench"),
                    "_feed_serve_app:app",
                ],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        SERVER_PID[:] = [server.pid]
        wait_healthy(base_url, server)

        paths = {
            name: tmpl.format(token=big["token"])
            for name, tmpl in [*TARGETS, *((n, t) for n, t, _ in WHAT_IFS)]
        }
        etags = {}
        for name, path in paths.items():
            response = httpx.get(base_url + path, timeout=30)
            if response.status_code != 200 or response.content != body:
                print(
                    f"{name}: {response.status_code}, {len(response.content)} bytes, not the body"
                )
                return 3
            etags[name] = response.headers["ETag"]
            check = httpx.get(base_url + path, headers={"If-None-Match": etags[name]}, timeout=30)
            if check.status_code != 304:
                print(f"{name}: If-None-Match answered {check.status_code}, not 304")
                return 3
        if etags["feed"] != f'"{etag}"':
            print(f"feed ETag {etags['feed']} is not the stored {etag}")
        print(
            f"serving: {size:,} bytes from each of {', '.join(paths)}; gunicorn "
            f"-w {args.workers} sync, client http.client keep-alive",
            flush=True,
        )

        def clients(name: str, conditional: bool):
            headers = {"If-None-Match": etags[name]} if conditional else {}
            return lambda: StdlibClient(base_url, headers)

        def requester(name: str):
            path = paths[name]
            return lambda client, _i: client.call("GET", path)

        def checker(run: Run, conditional: bool):
            lock = threading.Lock()

            def check(status: int, answer: bytes) -> None:
                ok = (status == 304 and not answer) if conditional else (answer == body)
                if not ok:
                    with lock:
                        run.errors[f"wrong answer {status}"] += 1

            return check

        phases = [
            (name, cond)
            for cond in (False, True)
            for name in [n for n, _ in TARGETS] + [n for n, _, c in WHAT_IFS if cond in c]
        ]
        for name, conditional in phases:  # warm both workers on every path
            warm = Run("warm-up", 4)
            load(clients(name, conditional), warm, requester(name), None, 200)

        print(
            f"{'phase':<36}{'conn':>5}{'requests':>10}{'req/s':>9}{'p50 ms':>8}{'p99 ms':>8}"
            f"{'srv ms':>8}{'cli ms':>8}{'other%':>8}  answers"
        )
        print(
            "  (srv ms, cli ms: CPU per request of the gunicorn workers and of this load client;"
            " other%: CPU of everything else — PostgreSQL, neighbours — of 100% per core)"
        )
        results["runs"] = []
        ratios: dict[str, dict[int, float]] = {
            "body": {},
            "304": {},
            "body_bare": {},
            "304_bare": {},
        }
        cpu_ratio: dict[str, dict[int, float]] = {"body": {}, "304": {}}
        for level in levels:
            runs = {
                (name, cond): Run(f"{name} {'304' if cond else 'body'}", level)
                for name, cond in phases
            }
            for _round in range(args.rounds):
                for (name, cond), run in runs.items():
                    load(
                        clients(name, cond),
                        run,
                        requester(name),
                        args.duration / args.rounds,
                        args.max_requests // args.rounds,
                        on_response=checker(run, cond),
                    )
            for run in runs.values():
                results["runs"].append(run.summary())
                print(
                    f"{run.name:<36}{level:>5}{run.count:>10}{run.rate:>9.0f}"
                    f"{run.pct(0.5):>8.2f}{run.pct(0.99):>8.2f}"
                    f"{run.server_cpu / max(run.count, 1) * 1000:>8.2f}"
                    f"{run.client_cpu / max(run.count, 1) * 1000:>8.2f}"
                    f"{run.others_pct:>8.0f}  {run.statuses_text()}",
                    flush=True,
                )
            flask_static, bare_static = TARGETS[1][0], TARGETS[2][0]
            for cond, key in ((False, "body"), (True, "304")):
                feed_run = runs[("feed", cond)]
                ratios[key][level] = feed_run.rate / max(runs[(flask_static, cond)].rate, 1e-9)
                ratios[key + "_bare"][level] = feed_run.rate / max(
                    runs[(bare_static, cond)].rate, 1e-9
                )
                per = {
                    n: runs[(n, cond)].server_cpu / max(runs[(n, cond)].count, 1)
                    for n, _ in TARGETS
                }
                cpu_ratio[key][level] = per["feed"] / max(per[flask_static], 1e-9)
                print(
                    f"  feed / static, {key:<5} at {level} conn: {ratios[key][level]:.2f} of Flask's"
                    f" static file, {ratios[key + '_bare'][level]:.2f} of the bare WSGI file;"
                    f" server CPU per request {cpu_ratio[key][level]:.2f}x Flask's static",
                    flush=True,
                )
            for name, _path, conds in WHAT_IFS:
                for cond in conds:
                    key = f"{'304' if cond else 'body'} {name}"
                    what_if = runs[(name, cond)].rate / max(runs[(flask_static, cond)].rate, 1e-9)
                    ratios.setdefault(key, {})[level] = what_if
                    print(
                        f"  {name} / static, {'304' if cond else 'body'} at {level} conn: "
                        f"{what_if:.2f} of Flask's static file",
                        flush=True,
                    )
        results["ratios"] = {
            k: {str(c): round(v, 3) for c, v in d.items()} for k, d in ratios.items()
        }
        results["server_cpu_ratio"] = {
            k: {str(c): round(v, 3) for c, v in d.items()} for k, d in cpu_ratio.items()
        }

        if args.profile:
            results["profile"] = {
                kind: profile(
                    server.pid,
                    args.profile,
                    clients("feed", cond),
                    requester("feed"),
                    workdir,
                    kind,
                )
                for kind, cond in (("body", False), ("304", True))
            }
            print("profile of one rebuild of 1,000 events (pyinstrument):", flush=True)
            report = subprocess.run(
                [str(c) for c in (*helper, "profile-rebuild", big["feed_id"])],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            print("\n".join(report.stderr.splitlines()[:90]))

        wrong = sum(sum(r["errors"].values()) for r in results["runs"])
        aims = {
            f"feed body >= {AIM_SERVE} of the static file (Flask)": all(
                v >= AIM_SERVE for v in ratios["body"].values()
            ),
            f"feed 304 >= {AIM_SERVE} of the static file's 304 (Flask)": all(
                v >= AIM_SERVE for v in ratios["304"].values()
            ),
            f"feed body >= {AIM_SERVE} of the bare WSGI file": all(
                v >= AIM_SERVE for v in ratios["body_bare"].values()
            ),
            f"feed 304 >= {AIM_SERVE} of the bare WSGI file's 304": all(
                v >= AIM_SERVE for v in ratios["304_bare"].values()
            ),
            "same queries for 10 and 1,000 events": (
                len(rebuild_small["queries"]) == 1
                and rebuild_small["queries"] == rebuild_big["queries"]
            ),
            f"rebuild of 1,000 events within {AIM_REBUILD}x of icalendar alone": (
                rebuild_big["ratio"] <= AIM_REBUILD
            ),
            "every answer the right body or an empty 304": wrong == 0,
        }
        results["aims"] = aims
        print("aims: " + "; ".join(f"{k}: {'met' if v else 'NOT met'}" for k, v in aims.items()))
        if args.json:
            args.json.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n")
        return 0
    finally:
        clean_up(server, db_name, redis_db, keep_db=args.keep_db)
        shutil.rmtree(workdir, ignore_errors=True)


def profile(
    master_pid: int, seconds: float, make_client, request, workdir: Path, kind: str
) -> dict:
    """Sample every gunicorn worker with py-spy while 4 connections fetch the feed (the
    body or the 304); print the functions with the most samples, inclusive and own."""
    spy = VENV_BIN / "py-spy"
    if not spy.exists():
        print("profile: py-spy is not installed (.venv/bin/pip install py-spy)")
        return {}
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    procs = []
    for pid in children:
        out = workdir / f"profile-{kind}-{pid}.txt"
        procs.append(
            (
                out,
                subprocess.Popen(
                    [
                        spy,
                        "record",
                        "--pid",
                        pid,
                        "--duration",
                        str(int(seconds)),
                        "--rate",
                        "250",
                        "--format",
                        "raw",
                        "--output",
                        out,
                        "--nonblocking",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                ),
            )
        )
    run = Run(f"feed {kind} (profiled)", 4)
    load(make_client, run, request, seconds + 1, 1_000_000)
    for _out, proc in procs:
        proc.wait(timeout=seconds + 30)
    inclusive: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for out, _proc in procs:
        if not out.exists():
            continue
        for line in out.read_text().splitlines():
            stack, _sep, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = [f.split(" (")[0] + " " + _short(f) for f in stack.split(";")[1:]]
            for frame in set(frames):
                inclusive[frame] = inclusive.get(frame, 0) + n
            if frames:
                own[frames[-1]] = own.get(frames[-1], 0) + n
    print(
        f"profile of the feed {kind}: {total} samples over {len(procs)} workers,"
        f" {run.rate:.0f} req/s meanwhile"
    )
    top_own = sorted(own.items(), key=lambda kv: -kv[1])[:15]
    # below the request handler: the frames above it are gunicorn's loop, in every sample
    top_inc = [
        kv for kv in sorted(inclusive.items(), key=lambda kv: -kv[1]) if kv[1] < 0.9 * max(total, 1)
    ][:30]
    print("  own time:")
    for frame, n in top_own:
        print(f"    {n / max(total, 1) * 100:5.1f}%  {frame}")
    print("  inclusive:")
    for frame, n in top_inc:
        print(f"    {n / max(total, 1) * 100:5.1f}%  {frame}")
    return {
        "samples": total,
        "own": {f: n for f, n in top_own},
        "inclusive": {f: n for f, n in top_inc},
    }


def _short(frame: str) -> str:
    """``fn (path/to/module.py:123)`` → ``(module.py:123)``."""
    if " (" not in frame:
        return ""
    where = frame.split(" (", 1)[1].rstrip(")")
    return "(" + where.rsplit("/", 1)[-1] + ")"


if __name__ == "__main__":
    sys.exit(main())
