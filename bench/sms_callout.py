"""A call-out to thousands: how fast the outbox drains, and whether the provider ever says 429.

Real processes end to end: PostgreSQL, Redis, `dramatiq volunteer_hub.worker` processes,
the real `twilio` client, and the project's fake Twilio REST server (which answers 429
beyond its own rate, like the real one, and takes PROVIDER_LATENCY per message).

Two runs on fresh databases:
  1. SMS_RATE_PER_SECOND at 80 % of the provider's cap (the advice in the README: our
     pacing holds every aligned second to the rate, and a sliding second to at most one
     100 ms slice more): the shared Redis rate limiter should keep every worker process
     together under the cap, so zero 429s;
  2. the app's rate set ten times above the cap: 429s appear and are retried, which
     is what run 1 avoids. Both must end with every text sent exactly once.

    .venv/bin/python bench/sms_callout.py [--texts 3000] [--rate 100] [--processes 2 --threads 16]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from _race_load import stop_process_group  # noqa: E402  (bench/_race_load.py)

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/0"
PROVIDER_LATENCY = 0.05  # seconds per message at the fake provider


def run(texts: int, app_rate: int, provider_rate: int, processes: int, threads: int) -> dict:
    import psycopg

    from volunteer_hub.devtools.fake_twilio import FakeTwilio

    name = f"vh_bench_sms_{uuid.uuid4().hex[:8]}"
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    fake = FakeTwilio(delay=PROVIDER_LATENCY, max_per_second=provider_rate).start()
    workers = None
    try:
        env = {
            **os.environ,
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}",
            "REDIS_URL": REDIS_URL,
            "DRAMATIQ_NAMESPACE": name,
            "SECRET_KEY": "bench",
            "SMS_RATE_PER_SECOND": str(app_rate),
            **{k: str(v) for k, v in fake.app_config().items() if v is not None},
        }
        flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
        subprocess.run(
            [*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True
        )
        queued_in = _queue_callout(env, texts)

        worker_log = open(ROOT / "bench" / "results" / f"{name}-workers.log", "w")  # noqa: SIM115
        started = time.perf_counter()
        workers = subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "volunteer_hub.worker",
             "--processes", str(processes), "--threads", str(threads)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=worker_log,
            start_new_session=True,
        )  # fmt: skip
        finished, counts = _wait_until_drained(env["DATABASE_URL"], texts, timeout=texts / 5 + 120)
        elapsed = time.perf_counter() - started
        messages = fake.messages
        recipients = [m["to"] for m in messages]
        return {
            "texts": texts,
            "app_rate_per_s": app_rate,
            "provider_cap_per_s": provider_rate,
            "workers": f"{processes}x{threads}",
            "queue_s": round(queued_in, 2),
            "drain_s": round(elapsed, 2),
            "texts_per_s": round(texts / elapsed, 1),
            "provider_429s": fake.statuses[429],
            "accepted_by_provider": len(messages),
            "sent_twice": len(recipients) - len(set(recipients)),
            "outbox": counts,
            "all_sent": finished,
        }
    finally:
        stop_process_group(workers)
        fake.stop()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _remove_keys(name)


def _remove_keys(namespace: str) -> None:
    """What the run wrote to Redis: the broker's queues under its namespace, and the
    send-rate counters (each run has a namespace of its own: its database's name)."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"*{namespace}*", count=1000))
    if keys:
        client.delete(*keys)


def _queue_callout(env: dict, texts: int) -> float:
    """People bulk-inserted, then one urgent text each through queue_text, in one commit
    (the after-commit queue sends one actor message per row)."""
    os.environ.update(env)
    from volunteer_hub import create_app
    from volunteer_hub.db import utcnow
    from volunteer_hub.extensions import db
    from volunteer_hub.people.models import Person
    from volunteer_hub.sms.services import queue_text
    from volunteer_hub.sms.templates import render

    call_out = render(
        "broadcast_one", title="紧急集合：管涌险情", when="12月1日 08:00", place="江堤二号闸口",
        code="1234",
    )  # fmt: skip
    app = create_app()
    with app.app_context():
        now = utcnow()
        db.session.execute(
            Person.__table__.insert(),
            [
                {"name": f"队员{i}", "phone": f"+86139{i:08d}", "is_veteran": True, "skills": "",
                 "is_admin": False, "is_active": True, "created_at": now, "updated_at": now}
                for i in range(texts)
            ],
        )  # fmt: skip
        people = db.session.execute(db.select(Person.id, Person.phone)).all()
        started = time.perf_counter()
        for person_id, phone in people:
            queue_text(
                to_phone=phone,
                text=call_out,
                kind="broadcast",
                dedupe_key=f"bench:{person_id}",
                person_id=person_id,
                is_urgent=True,
            )
        db.session.commit()
        elapsed = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    app.extensions["dramatiq"].broker.close()
    return elapsed


def _wait_until_drained(database_url: str, texts: int, timeout: float) -> tuple[bool, dict]:
    import psycopg

    deadline = time.monotonic() + timeout
    counts: dict = {}
    with psycopg.connect(database_url) as conn:
        while time.monotonic() < deadline:
            counts = dict(
                conn.execute("SELECT status, count(*) FROM outgoing_sms GROUP BY status").fetchall()
            )
            conn.commit()
            if counts.get("sent", 0) + counts.get("delivered", 0) == texts:
                return True, counts
            time.sleep(0.25)  # polling the database for progress; not a timing assertion
    return False, counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=3000)
    parser.add_argument("--rate", type=int, default=100, help="the provider's cap, texts/s")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    for app_rate in (args.rate * 8 // 10, args.rate * 10):
        result = run(args.texts, app_rate, args.rate, args.processes, args.threads)
        print(json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
