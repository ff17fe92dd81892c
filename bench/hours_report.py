#!/usr/bin/env python3
"""Coordinator hour reports from the roll-ups, beside a GROUP BY over the raw records;
and what keeping the roll-ups costs per verification.

    .venv/bin/python bench/hours_report.py                      # Ezhou, ~1,000,000 records
    .venv/bin/python bench/hours_report.py --records 100000 --repeat 5 --verifications 40

What it does, on this machine only (PostgreSQL on 127.0.0.1:5432, user postgres, trust):

1. creates a fresh database, ``flask db upgrade``, ``flask seed-demo --scale 417``
   (Ezhou: 417 synthetic teams and 5,246 volunteers under Ezhou's units, besides the
   named demo teams in Ezhou and Wuhan);
2. three years of events, shifts and service records (``bench/_hours_data.py``) with
   COPY, foreign-key triggers off during the load as ``pg_restore --disable-triggers``
   does, every foreign key checked by one anti-join each afterwards; then VACUUM ANALYZE;
3. ``hours.rollups.rebuild_all()`` (what ``flask hours rebuild`` runs), timed, and a
   second one, which must change nothing;
4. ``hours.reports.unit_report`` for 鄂州市 and for 鄂城区, over the last 12 and the last
   36 months, beside one statement over ``service_record`` (team → unit subtree,
   verified and not absent; GROUP BY the roll-up key, then GROUPING SETS by team,
   category, month and in all) computing the same figures — minutes, services and
   参与人次; both must give the same numbers. Report and raw alternate, ``--repeat``
   times each;
5. between those rounds, ``--verifications`` pending records verified one at a time as
   the app does: ``hours.verification.verify`` (admin viewer) and commit, then
   ``recompute_key`` for the key the commit announced, as the roll-up actor does, and
   commit; time and statements of each transaction;
6. afterwards the reports still equal the raw figures, and a rebuild changes nothing;
7. EXPLAIN (ANALYZE, BUFFERS) of every report statement and of the raw query, to
   ``bench/results/hours_report-*.txt``, summarised on the console;
8. drops the database (``--keep-db`` keeps it).

A benchmark, not a test: it prints figures and whether they meet the aims (report under
50 ms, at least 20 times faster than the raw GROUP BY); its exit status is 0 unless it
could not run or the figures disagree.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import re
import secrets
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

import _hours_data  # noqa: E402

VENV_BIN = ROOT / ".venv" / "bin"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
RESULTS = ROOT / "bench" / "results"
AIM_REPORT_MS = 50.0
AIM_RATIO = 20.0

#: the same figures as unit_report, by GROUP BY over the raw records: minutes, services
#: and 参与人次 (people counted once per team, category and month they served in, which is
#: what summing team_hours_rollup.volunteers gives), by team, category, month and in all
RAW_SQL = """
WITH cells AS (
    SELECT sr.person_id, sr.team_id, sr.category_id, sr.month,
           sum(sr.minutes) AS minutes, count(*) AS services
    FROM service_record sr
    JOIN team t ON t.id = sr.team_id
    JOIN unit u ON u.id = t.unit_id
    WHERE u.path LIKE %(path)s
      AND sr.status = 'verified' AND sr.attendance <> 'absent'
      AND sr.month >= %(start)s AND sr.month <= %(end)s
    GROUP BY sr.person_id, sr.team_id, sr.category_id, sr.month
)
SELECT GROUPING(team_id, category_id, month) AS g, team_id, category_id, month,
       sum(minutes) AS minutes, sum(services) AS services, count(*) AS volunteers
FROM cells
GROUP BY GROUPING SETS ((team_id), (category_id), (month), ())
"""


# -- environment ------------------------------------------------------------------------
def machine() -> dict:
    def first(path: str, prefix: str) -> str:
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith(prefix):
                    return line.split(":", 1)[1].strip()
        except OSError:
            pass
        return "?"

    mem = first("/proc/meminfo", "MemTotal")
    with psycopg.connect(PG_ADMIN_URL, connect_timeout=5) as conn:
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]
            for name in (
                "server_version",
                "shared_buffers",
                "work_mem",
                "jit",
                "max_parallel_workers_per_gather",
                "synchronous_commit",
            )
        }
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "src"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit + (" (+ uncommitted src changes)" if dirty else ""),
        "cores": os.cpu_count(),
        "cpu": first("/proc/cpuinfo", "model name"),
        "memory": f"{int(mem.split()[0]) / 1024 / 1024:.1f} GiB" if mem != "?" else mem,
        "os": platform.platform(),
        "python": platform.python_version(),
        "postgresql": settings.pop("server_version"),
        "pg_settings": settings,
        "loadavg_before": Path("/proc/loadavg").read_text().split()[0],
    }


def flask(args: list[str], env: dict, what: str) -> tuple[str, float]:
    started = time.perf_counter()
    result = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "wsgi", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        sys.stderr.write(result.stdout[-3000:] + result.stderr[-3000:])
        raise SystemExit(f"{what} failed (exit {result.returncode})")
    return result.stdout, time.perf_counter() - started


def say(*parts) -> None:
    print(*parts, flush=True)


# -- counting statements ------------------------------------------------------------------
class StatementLog:
    """Statements sent through the app's engine; ``capture`` keeps their SQL too."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.count = 0
        self.captured: list[tuple[str, object]] | None = None
        event.listen(engine, "before_cursor_execute", self._on_execute)

    def _on_execute(self, conn, cursor, statement, parameters, context, executemany):
        self.count += 1
        if self.captured is not None:
            self.captured.append((statement, parameters))


# -- the two ways of computing a unit report ---------------------------------------------
@dataclass(frozen=True)
class Scenario:
    name: str
    unit_name: str
    path: str
    month_from: date
    month_to: date


@dataclass
class Timings:
    report_s: list[float] = field(default_factory=list)
    report_statements: int = 0
    raw_s: list[float] = field(default_factory=list)
    #: CPU seconds summed over the runs: this process and the PostgreSQL backend serving it
    report_cpu: float = 0.0
    raw_cpu: float = 0.0

    @property
    def report_cpu_ms(self) -> float:
        return self.report_cpu / len(self.report_s) * 1000

    @property
    def raw_cpu_ms(self) -> float:
        return self.raw_cpu / len(self.raw_s) * 1000

    @property
    def report_ms(self) -> float:
        return statistics.median(self.report_s) * 1000

    @property
    def raw_ms(self) -> float:
        return statistics.median(self.raw_s) * 1000


def figures_of_report(report) -> dict:
    """{(kind, key): (minutes, services, volunteers)} without zero rows."""
    out = {}
    for row in report.by_team:
        if row.services:
            out[("team", row.team_id)] = (row.minutes, row.services, row.volunteers)
    for row in report.by_category:
        if row.services:
            out[("category", row.category_id)] = (row.minutes, row.services, row.volunteers)
    for row in report.by_month:
        if row.services:
            out[("month", row.month)] = (row.minutes, row.services, row.volunteers)
    totals = report.totals
    out[("total", None)] = (totals.minutes, totals.services, totals.volunteers)
    return out


def settle_marks(session, say) -> bool:
    """The keys ``seed-demo``'s writes marked owed a recompute, which the roll-up actor
    would have taken up had a worker run: recompute them as it would, so that each
    verification below leaves exactly its own key marked. The rebuild has made those
    rows right already, so settling them must change none."""
    from sqlalchemy import select

    from volunteer_hub.hours import rollups
    from volunteer_hub.hours.marks import RollupMark

    owed = [
        tuple(row)
        for row in session.execute(
            select(
                RollupMark.person_id, RollupMark.team_id, RollupMark.category_id, RollupMark.month
            )
        )
    ]
    session.rollback()
    outcomes: dict[str, int] = {}
    for key in owed:
        result = rollups.recompute_key(*key)
        session.commit()
        outcome = f"person {result.person_row} / team {result.team_row}"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    say(f"marks left by the seeding: {len(owed):,}, recomputed: {outcomes or 'none'}")
    return set(outcomes) <= {"person unchanged / team unchanged"}


def raw_figures(session, scenario: Scenario) -> dict:
    rows = (
        session.connection()
        .exec_driver_sql(
            RAW_SQL,
            {"path": scenario.path + "%", "start": scenario.month_from, "end": scenario.month_to},
        )
        .all()
    )
    out = {}
    for g, team_id, category_id, month, minutes, services, volunteers in rows:
        # GROUPING bits: team 4, category 2, month 1 (1 = rolled up)
        if g == 3:
            key = ("team", team_id)
        elif g == 5:
            key = ("category", category_id)
        elif g == 6:
            key = ("month", month)
        else:
            key = ("total", None)
        out[key] = (int(minutes or 0), int(services), int(volunteers))
    out.setdefault(("total", None), (0, 0, 0))
    return out


def compare(report: dict, raw: dict) -> list[str]:
    problems = []
    for key in sorted(set(report) | set(raw), key=repr):
        if report.get(key) != raw.get(key):
            problems.append(f"{key}: report {report.get(key)} raw {raw.get(key)}")
    return problems


def backend_cpu(pid: int) -> float:
    """CPU seconds a PostgreSQL backend has used (``/proc``), so that a busy machine, which
    stretches wall times, can be told apart from work done."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


# -- EXPLAIN --------------------------------------------------------------------------------
def explain(session, statement: str, parameters) -> str:
    rows = (
        session.connection()
        .exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS, SETTINGS) " + statement, parameters)
        .all()
    )
    return "\n".join(row[0] for row in rows)


def plan_summary(plan: str) -> str:
    """Execution time, JIT time, and the scans of the plan, in one line."""
    execution = re.search(r"Execution Time: ([\d.]+) ms", plan)
    jit = re.search(r"Timing: Generation [\d.]+ ms, Inlining [\d.]+ ms, .*Total ([\d.]+) ms", plan)
    scans = []
    for match in re.finditer(
        r"(Parallel )?(Seq Scan|Index Only Scan|Index Scan|Bitmap Heap Scan)"
        r"(?: using (\S+))? on (\S+)[^\n]*\(actual time=[\d.]+\.\.([\d.]+) rows=(\d+) loops=(\d+)",
        plan,
    ):
        parallel, kind, index, table, _end, rows, loops = match.groups()
        label = f"{'Parallel ' if parallel else ''}{kind} {table}"
        if index:
            label += f" ({index})"
        scans.append(f"{label}: {int(rows) * int(loops):,} rows")
    sort_disk = "external sort on disk" if "external merge" in plan else ""
    parts = [f"{float(execution.group(1)):.1f} ms" if execution else "? ms"]
    if jit:
        parts.append(f"JIT {float(jit.group(1)):.1f} ms")
    if sort_disk:
        parts.append(sort_disk)
    return "; ".join(parts + scans)


# -- the bench ------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="service records")
    parser.add_argument("--months", type=int, default=36, help="months of records")
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per report figure")
    parser.add_argument("--verifications", type=int, default=200)
    parser.add_argument("--scale", type=int, default=417, help="seed-demo --scale")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep-db", action="store_true", help="don't drop the database")
    args = parser.parse_args(argv)

    info = machine()
    say("machine:", ", ".join(f"{k} {v}" for k, v in info.items()))
    RESULTS.mkdir(exist_ok=True)

    db_name = f"vh_bench_hours_{secrets.token_hex(4)}"
    url = f"postgresql://postgres@127.0.0.1:5432/{db_name}"
    env = dict(os.environ)
    env.update(
        DATABASE_URL=url,
        SECRET_KEY=secrets.token_hex(32),
        SMS_BACKEND="console",
        EMBEDDED_WORKER="0",
        INSTANCE_PATH=str(RESULTS / f"{db_name}-instance"),
    )
    for name in ("REDIS_URL", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "PUBLIC_BASE_URL"):
        env.pop(name, None)

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    say(f"database {db_name}")
    results: dict = {"machine": info, "args": vars(args) | {"json": str(args.json)}}
    try:
        ok = run(args, env, url, results)
    finally:
        if args.keep_db:
            say(f"kept database {db_name}: DATABASE_URL={url}")
        else:
            with contextlib.suppress(Exception):  # best effort before the DROP
                _dispose_app()
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            say(f"dropped database {db_name}")
        import shutil

        shutil.rmtree(RESULTS / f"{db_name}-instance", ignore_errors=True)
    results["machine"]["loadavg_after"] = Path("/proc/loadavg").read_text().split()[0]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str, ensure_ascii=False))
    return 0 if ok else 1


_APP: list = []


def _dispose_app() -> None:
    if _APP:
        _app, context = _APP
        from volunteer_hub.extensions import db

        db.session.remove()
        db.engine.dispose()
        context.pop()


def run(args, env: dict, url: str, results: dict) -> bool:
    ok = True
    # 1. schema and Ezhou's teams and volunteers
    _out, upgrade_s = flask(["db", "upgrade"], env, "flask db upgrade")
    _out, seed_s = flask(["seed-demo", "--scale", str(args.scale)], env, "flask seed-demo")
    say(f"db upgrade {upgrade_s:.1f} s; seed-demo --scale {args.scale} {seed_s:.1f} s (wall)")

    # 2. three years of records
    now = datetime.now(UTC)
    local_today = _hours_data.to_local_date(now)
    last_month = date(local_today.year, local_today.month, 1)
    last_month = date(last_month.year - (last_month.month == 1), (last_month.month - 2) % 12 + 1, 1)
    first_month = _hours_data.months_back(last_month, args.months)[0]
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute("SET session_replication_role = replica")  # FK triggers off for COPY
        loaded = _hours_data.load(conn, args.records, last_month, args.months, now)
        conn.execute("SET session_replication_role = DEFAULT")
        t_fk = time.perf_counter()
        broken = _hours_data.check_foreign_keys(conn)
        fk_s = time.perf_counter() - t_fk
        conn.commit()
        conn.autocommit = True
        t_vac = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        vacuum_s = time.perf_counter() - t_vac
        shape = _hours_data.describe(conn)
    seed_records_s = time.perf_counter() - started
    loaded.update(fk_check_s=round(fk_s, 1), vacuum_analyze_s=round(vacuum_s, 1))
    results["seed"] = {
        "db_upgrade_s": round(upgrade_s, 1),
        "seed_demo_s": round(seed_s, 1),
        "records": loaded,
        "records_wall_s": round(seed_records_s, 1),
        "shape": shape,
        "months": f"{first_month:%Y-%m} … {last_month:%Y-%m}",
    }
    say(
        f"records: {loaded['records']:,} ({loaded['unplanned']:,} unplanned, shift_id NULL) on "
        f"{loaded['shifts']:,} shifts of {loaded['events']:,} events, {first_month:%Y-%m} … "
        f"{last_month:%Y-%m}; generated in {loaded['generate_s']} s, COPY {loaded['copy_s']} s, "
        f"FK check {fk_s:.1f} s, VACUUM ANALYZE {vacuum_s:.1f} s; "
        f"{seed_records_s:.1f} s in all"
    )
    say("  " + ", ".join(f"{k} {v:,}" for k, v in shape.items()))
    if broken:
        say("FOREIGN KEYS BROKEN:", broken)
        return False

    # the app, in this process
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "SECRET_KEY", "SMS_BACKEND")})
    os.environ.update(EMBEDDED_WORKER="0", INSTANCE_PATH=env["INSTANCE_PATH"])
    from sqlalchemy import select, text

    from volunteer_hub import create_app
    from volunteer_hub.auth.permissions import Viewer
    from volunteer_hub.extensions import db
    from volunteer_hub.hours import reports, rollups, verification
    from volunteer_hub.hours.marks import RollupMark
    from volunteer_hub.hours.models import HoursRollup, TeamHoursRollup
    from volunteer_hub.people.models import Person
    from volunteer_hub.units.models import Unit

    app = create_app()
    context = app.app_context()
    context.push()
    _APP[:] = [app, context]
    log = StatementLog(db.engine)
    session = db.session

    # 3. the roll-ups, twice
    t0 = time.perf_counter()
    first = rollups.rebuild_all()
    session.commit()
    rebuild_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    second = rollups.rebuild_all()
    session.commit()
    rebuild2_s = time.perf_counter() - t0
    session.connection().exec_driver_sql("ANALYZE hours_rollup, team_hours_rollup")
    session.commit()
    person_rows = session.scalar(select(text("count(*)")).select_from(HoursRollup))
    team_rows = session.scalar(select(text("count(*)")).select_from(TeamHoursRollup))
    results["rebuild"] = {
        "first_s": round(rebuild_s, 1),
        "first": {"person": first.person_rows, "team": first.team_rows},
        "second_s": round(rebuild2_s, 1),
        "second_changed": second.changed,
        "hours_rollup_rows": person_rows,
        "team_hours_rollup_rows": team_rows,
    }
    say(
        f"rebuild_all: {rebuild_s:.1f} s ({first.changed:,} rows written: "
        f"{person_rows:,} person rows, {team_rows:,} team rows); "
        f"second rebuild {rebuild2_s:.1f} s, {second.changed} changed"
    )
    if second.changed:
        say("SECOND REBUILD CHANGED ROWS:", second.person_rows, second.team_rows)
        ok = False
    ok &= settle_marks(session, say)

    # 4.–6. reports beside raw, with verifications between the rounds
    units = dict(
        session.execute(
            select(Unit.name, Unit.path).where(Unit.name.in_(["鄂州市", "鄂城区"]))
        ).all()
    )
    year_from = _hours_data.months_back(last_month, 12)[0]
    scenarios = [
        Scenario("鄂州市, 12 months", "鄂州市", units["鄂州市"], year_from, last_month),
        Scenario("鄂州市, 36 months", "鄂州市", units["鄂州市"], first_month, last_month),
        Scenario("鄂城区, 12 months", "鄂城区", units["鄂城区"], year_from, last_month),
        Scenario("鄂城区, 36 months", "鄂城区", units["鄂城区"], first_month, last_month),
    ]

    def report_of(s: Scenario):
        return reports.unit_report(s.path, month_from=s.month_from, month_to=s.month_to)

    def check_all(when: str) -> bool:
        good = True
        for s in scenarios:
            problems = compare(figures_of_report(report_of(s)), raw_figures(session, s))
            session.rollback()
            if problems:
                good = False
                say(f"MISMATCH {when}, {s.name}: {len(problems)} figures differ, e.g.")
                for line in problems[:5]:
                    say("   ", line)
        return good

    ok &= check_all("before the timed runs")
    admin_id = session.scalar(select(Person.id).where(Person.is_admin.is_(True)).limit(1))
    viewer = Viewer(person_id=admin_id, is_admin=True)
    ezhou_path = units["鄂州市"]
    pending = list(
        session.scalars(
            text(
                """
                SELECT sr.id FROM service_record sr
                JOIN team t ON t.id = sr.team_id JOIN unit u ON u.id = t.unit_id
                WHERE sr.status = 'pending' AND sr.attendance <> 'absent'
                  AND NOT (sr.checked_in_at IS NOT NULL AND sr.checked_out_at IS NULL
                           AND NOT sr.auto_closed)
                  AND u.path LIKE :path
                ORDER BY sr.id
                """
            ),
            {"path": ezhou_path + "%"},
        )
    )
    session.rollback()
    random.Random(7).shuffle(pending)
    to_verify = pending[: args.verifications]
    verify_s, verify_q, recompute_s, recompute_q, outcomes = [], [], [], [], {}

    def verify_one(record_id: int) -> None:
        before = log.count
        t = time.perf_counter()
        changed = verification.verify([record_id], viewer=viewer)
        session.commit()
        verify_s.append(time.perf_counter() - t)
        verify_q.append(log.count - before)
        # The keys the commit marked owed a recompute (the roll-up actor's work).
        keys = [
            tuple(row)
            for row in session.execute(
                select(
                    RollupMark.person_id,
                    RollupMark.team_id,
                    RollupMark.category_id,
                    RollupMark.month,
                )
            )
        ]
        session.rollback()
        if changed != 1 or len(keys) != 1:
            raise SystemExit(f"verify({record_id}) changed {changed}, keys {keys}")
        before = log.count
        t = time.perf_counter()
        result = rollups.recompute_key(*keys[0])
        session.commit()
        recompute_s.append(time.perf_counter() - t)
        recompute_q.append(log.count - before)
        outcome = f"person {result.person_row} / team {result.team_row}"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    # warm-up: one of each, untimed
    for s in scenarios:
        report_of(s)
        session.rollback()
        raw_figures(session, s)
        session.rollback()

    timings = {s.name: Timings() for s in scenarios}
    backend = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()

    def cpu() -> float:
        return time.process_time() + backend_cpu(backend)

    per_round = [
        len(to_verify) // args.repeat + (i < len(to_verify) % args.repeat)
        for i in range(args.repeat)
    ]
    queue = list(to_verify)
    say(
        f"timing: {args.repeat} rounds, report and raw alternating; {len(to_verify)} verifications between"
    )
    for round_no in range(args.repeat):
        for s in scenarios:
            t = timings[s.name]
            order = ("report", "raw") if round_no % 2 == 0 else ("raw", "report")
            for which in order:
                if which == "report":
                    before = log.count
                    c0, t0 = cpu(), time.perf_counter()
                    report_of(s)
                    t.report_s.append(time.perf_counter() - t0)
                    t.report_cpu += cpu() - c0
                    t.report_statements = log.count - before
                else:
                    c0, t0 = cpu(), time.perf_counter()
                    raw_figures(session, s)
                    t.raw_s.append(time.perf_counter() - t0)
                    t.raw_cpu += cpu() - c0
                session.rollback()
        for _ in range(per_round[round_no]):
            verify_one(queue.pop())
        sys.stderr.write(f"\rround {round_no + 1}/{args.repeat}")
        sys.stderr.flush()
    sys.stderr.write("\n")

    ok &= check_all("after the verifications")
    third = rollups.rebuild_all()
    session.commit()
    if third.changed:
        say("REBUILD AFTER THE VERIFICATIONS CHANGED ROWS:", third.person_rows, third.team_rows)
        ok = False

    # 7. EXPLAIN
    explained = {}
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for s in scenarios:
        log.captured = []
        report_of(s)
        statements, log.captured = log.captured, None
        session.rollback()
        slug = ("city" if s.unit_name == "鄂州市" else "district") + (
            "-12m" if s.month_from == year_from else f"-{args.months}m"
        )
        lines = []
        for n, (statement, parameters) in enumerate(statements, start=1):
            plan = explain(session, statement, parameters)
            session.rollback()
            (RESULTS / f"hours_report-{stamp}-{slug}-q{n}.txt").write_text(
                f"-- unit_report statement {n}, {s.name}\n{statement}\n-- {parameters}\n\n{plan}\n"
            )
            lines.append(f"q{n}: {plan_summary(plan)}")
        params = {"path": s.path + "%", "start": s.month_from, "end": s.month_to}
        plan = explain(session, RAW_SQL, params)
        session.rollback()
        (RESULTS / f"hours_report-{stamp}-{slug}-raw.txt").write_text(
            f"-- raw GROUP BY, {s.name}\n{RAW_SQL}\n-- {params}\n\n{plan}\n"
        )
        lines.append(f"raw: {plan_summary(plan)}")
        explained[s.name] = lines

    # figures
    say("")
    say(
        f"{'report':<20} {'unit_report ms':>15} {'stmts':>6} {'raw GROUP BY ms':>16} "
        f"{'ratio':>7}   {'CPU ms report':>13} {'CPU ms raw':>10} {'CPU ratio':>9}"
    )
    met_time = met_ratio = True
    results["reports"] = {}
    for s in scenarios:
        t = timings[s.name]
        ratio = t.raw_ms / t.report_ms
        met_time &= t.report_ms < AIM_REPORT_MS
        met_ratio &= ratio >= AIM_RATIO
        cpu_ratio = t.raw_cpu_ms / t.report_cpu_ms if t.report_cpu_ms else float("nan")
        say(
            f"{s.name:<20} {t.report_ms:>15.1f} {t.report_statements:>6} {t.raw_ms:>16.1f} "
            f"{ratio:>6.1f}×   {t.report_cpu_ms:>13.1f} {t.raw_cpu_ms:>10.1f} {cpu_ratio:>8.1f}×"
        )
        results["reports"][s.name] = {
            "report_ms_median": round(t.report_ms, 2),
            "report_ms_min": round(min(t.report_s) * 1000, 2),
            "report_ms_max": round(max(t.report_s) * 1000, 2),
            "report_statements": t.report_statements,
            "raw_ms_median": round(t.raw_ms, 2),
            "raw_ms_min": round(min(t.raw_s) * 1000, 2),
            "raw_ms_max": round(max(t.raw_s) * 1000, 2),
            "ratio": round(ratio, 1),
            "report_cpu_ms_mean": round(t.report_cpu_ms, 2),
            "raw_cpu_ms_mean": round(t.raw_cpu_ms, 2),
            "explain": explained[s.name],
        }
    say("")
    say("EXPLAIN ANALYZE (files in bench/results/hours_report-" + stamp + "-*):")
    for name, lines in explained.items():
        say(f"  {name}")
        for line in lines:
            say(f"    {line}")

    if verify_s:
        v = {
            "verifications": len(verify_s),
            "verify_ms_median": round(statistics.median(verify_s) * 1000, 2),
            "verify_ms_p90": round(_pct(verify_s, 0.9) * 1000, 2),
            "verify_statements_median": statistics.median(verify_q),
            "recompute_ms_median": round(statistics.median(recompute_s) * 1000, 2),
            "recompute_ms_p90": round(_pct(recompute_s, 0.9) * 1000, 2),
            "recompute_statements_median": statistics.median(recompute_q),
            "recompute_outcomes": outcomes,
        }
        results["verification"] = v
        say("")
        say(
            f"per verification ({v['verifications']}): verify + commit {v['verify_ms_median']:.2f} ms "
            f"median (p90 {v['verify_ms_p90']:.2f}), {v['verify_statements_median']:g} statements; "
            f"roll-up recompute + commit {v['recompute_ms_median']:.2f} ms median "
            f"(p90 {v['recompute_ms_p90']:.2f}), {v['recompute_statements_median']:g} statements"
        )
        say("  recompute outcomes: " + ", ".join(f"{k}: {n}" for k, n in outcomes.items()))

    say("")
    say(f"aim: report under {AIM_REPORT_MS:g} ms — {'MET' if met_time else 'NOT MET'}")
    say(
        f"aim: report at least {AIM_RATIO:g}× faster than raw — {'MET' if met_ratio else 'NOT MET'}"
    )
    say(f"figures equal report vs raw, rebuilds change nothing — {'YES' if ok else 'NO'}")
    results["aims"] = {"report_under_50ms": met_time, "ratio_20x": met_ratio, "consistent": ok}
    return ok


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


if __name__ == "__main__":
    sys.exit(main())
