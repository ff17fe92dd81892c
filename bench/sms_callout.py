"""A call-out to thousands: how fast it starts, how fast the outbox drains, and whether the
provider ever says 429 or is called more than it needs to be.

Real processes end to end: PostgreSQL, Redis, `dramatiq volunteer_hub.worker` processes,
the real provider SDKs (`twilio`, Alibaba Cloud's and Tencent Cloud's) and the project's
local fakes of their APIs, each taking PROVIDER_LATENCY per request.

Twilio (`--provider twilio`, the default), two runs on fresh databases:
  1. SMS_RATE_PER_SECOND at 80 % of the provider's cap (the advice in the README: our
     pacing holds every aligned second to the rate, and a sliding second to at most one
     100 ms slice more): the shared Redis rate limiter should keep every worker process
     together under the cap, so zero 429s;
  2. the app's rate set ten times above the cap: 429s appear and are retried, which
     is what run 1 avoids. Both must end with every text sent exactly once.

Aliyun and Tencent Cloud (`--provider aliyun` / `tencent`): Ezhou's 5,246 texts at
`--rate`, batch sending on (SMS_BATCH_SIZE=100) and off (0). Reported: the achieved rate
over the configured one (pacing counts texts, so it should be 0.9–1.0 either way when the
workers keep up) and provider calls per text.

    .venv/bin/python bench/sms_callout.py [--provider twilio|aliyun|tencent] [--texts N]
        [--rate R] [--processes 2 --threads 16]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from _race_load import remove_keys, stop_process_group  # noqa: E402  (bench/_race_load.py)

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PROVIDER_LATENCY = 0.05  # seconds per request at the fake provider
EZHOU_VOLUNTEERS = 5246


def run_twilio(texts: int, app_rate: int, provider_rate: int, workers: str) -> dict:
    from volunteer_hub.devtools.fake_twilio import FakeTwilio

    fake = FakeTwilio(delay=PROVIDER_LATENCY, max_per_second=provider_rate).start()
    with _callout(fake, fake.app_config(), texts, app_rate, workers) as outcome:
        pass
    recipients = [m["to"] for m in fake.messages]
    return {
        "provider": "twilio",
        "provider_cap_per_s": provider_rate,
        "provider_429s": fake.statuses[429],
        "sent_twice": len(recipients) - len(set(recipients)),
        **outcome,
    }


def run_domestic(provider: str, texts: int, app_rate: int, batch: int, workers: str) -> dict:
    from volunteer_hub.devtools.fake_aliyun import FakeAliyun
    from volunteer_hub.devtools.fake_tencent import FakeTencentSms
    from volunteer_hub.sms.cli import example_mapping_toml

    fake = (FakeAliyun if provider == "aliyun" else FakeTencentSms)(delay=PROVIDER_LATENCY)
    with tempfile.NamedTemporaryFile("w", suffix=".toml", encoding="utf-8") as mapping:
        mapping.write(example_mapping_toml())
        mapping.flush()
        fake.start()
        settings = {**fake.app_config(), "SMS_TEMPLATES": mapping.name, "SMS_BATCH_SIZE": batch}
        with _callout(fake, settings, texts, app_rate, workers) as outcome:
            pass
    counters = fake.counters
    recipients = [m[fake.phone_field] for m in fake.messages]
    return {
        "provider": provider,
        "batch_size": batch,
        "achieved_over_configured": round(outcome["steady_texts_per_s"] / app_rate, 2),
        "provider_calls": counters["calls"],
        "calls_per_text": round(counters["calls"] / max(counters["texts"], 1), 3),
        "sent_twice": len(recipients) - len(set(recipients)),
        **outcome,
    }


@contextlib.contextmanager
def _callout(fake, settings: dict, texts: int, app_rate: int, workers: str) -> Iterator[dict]:
    """A fresh database, the call-out queued (timed), the workers started and watched
    until every text is sent; yields the figures, then cleans everything up."""
    import psycopg

    name = f"vh_bench_sms_{uuid.uuid4().hex[:8]}"
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    fake.start()
    process = None
    try:
        env = {
            **os.environ,
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}",
            "REDIS_URL": REDIS_URL,
            "DRAMATIQ_NAMESPACE": name,
            "SECRET_KEY": "bench",
            "SMS_RATE_PER_SECOND": str(app_rate),
            **{k: str(v) for k, v in settings.items() if v is not None},
        }
        flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
        subprocess.run(
            [*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True
        )
        start_s = _queue_callout(env, texts)
        processes, threads = workers.split("x")
        worker_log = open(ROOT / "bench" / "results" / f"{name}-workers.log", "w")  # noqa: SIM115
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "volunteer_hub.worker",
             "--processes", processes, "--threads", threads],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=worker_log,
            start_new_session=True,
        )  # fmt: skip
        steady_rate = _watch_fake(fake, texts, timeout=texts / 5 + 120)
        finished, counts = _wait_until_drained(env["DATABASE_URL"], texts, timeout=60)
        elapsed = time.perf_counter() - started
        yield {
            "texts": texts,
            "app_rate_per_s": app_rate,
            "workers": workers,
            "start_s": round(start_s, 2),
            "drain_s": round(elapsed, 2),
            "texts_per_s": round(texts / elapsed, 1),
            "steady_texts_per_s": round(steady_rate, 1),
            "accepted_by_provider": len(fake.messages),
            "outbox": counts,
            "all_sent": finished,
        }
    finally:
        stop_process_group(process)
        fake.stop()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        remove_keys(REDIS_URL, name)


def _queue_callout(env: dict, texts: int) -> float:
    """People bulk-inserted, then the call-out as the product starts one: one urgent text
    each through ``queue_many`` and one commit, whose after-commit queue sends the actor
    messages. Returns the seconds from ``queue_many`` to the end of the commit."""
    os.environ.update(env)
    from volunteer_hub import create_app
    from volunteer_hub.db import utcnow
    from volunteer_hub.extensions import db
    from volunteer_hub.people.models import Person
    from volunteer_hub.sms.fanout import Text, queue_many
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
        db.session.commit()
        people = db.session.scalars(db.select(Person.id)).all()
        started = time.perf_counter()
        queue_many(
            (Text(person_id, call_out, f"bench:{person_id}") for person_id in people),
            kind="broadcast",
            is_urgent=True,
        )
        db.session.commit()
        elapsed = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    app.extensions["dramatiq"].broker.close()
    return elapsed


def _watch_fake(fake, texts: int, timeout: float) -> float:
    """Texts per second the provider received from its first accepted call to its last:
    the paced part of the run (the workers' start-up is left out). Polls the fake."""
    now = deadline = time.monotonic() + timeout
    first_at = first_texts = None
    accepted = 0
    while time.monotonic() < deadline:
        accepted = len(fake.messages)
        now = time.monotonic()
        if accepted and first_at is None:
            first_at, first_texts = now, accepted
        if accepted >= texts:
            break
        time.sleep(0.02)  # polling for progress; not a timing assertion
    if first_at is None or first_texts is None or now <= first_at:
        return 0.0
    return (accepted - first_texts) / (now - first_at)


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
    parser.add_argument("--provider", choices=["twilio", "aliyun", "tencent"], default="twilio")
    parser.add_argument("--texts", type=int, help="3000 for Twilio, Ezhou's 5,246 otherwise")
    parser.add_argument(
        "--rate", type=int, default=100, help="Twilio: the provider's cap; else the app's rate"
    )
    parser.add_argument("--batch", type=int, action="append", help="SMS_BATCH_SIZE (100 and 0)")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args()
    workers = f"{args.processes}x{args.threads}"
    if args.provider == "twilio":
        for app_rate in (args.rate * 8 // 10, args.rate * 10):
            result = run_twilio(args.texts or 3000, app_rate, args.rate, workers)
            print(json.dumps(result, ensure_ascii=False), flush=True)
        return
    for batch in args.batch or (100, 0):
        result = run_domestic(
            args.provider, args.texts or EZHOU_VOLUNTEERS, args.rate, batch, workers
        )
        print(json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
