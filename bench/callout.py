"""A flood-duty call-out at Ezhou scale: 5,246 people in a district, then 1,000 answers.

Real parts end to end: PostgreSQL, Redis, a `dramatiq volunteer_hub.worker` process
sending through the real `twilio` client to the project's fake Twilio, and the app served
by `gunicorn -w 2` (as deployed) taking Twilio-signed answers on POST /sms/inbound.

What it times:
  1. start: from "confirm" (``callouts.services.start``) to ring 0's recipient rows and
     outbox rows written and committed (the after-commit queue has sent the actor
     messages too), and to the first text the fake provider receives;
  2. a later ring (the city's other district, 1,000 people) fired by the scheduler's step;
  3. N signed answers "1" spread evenly over S seconds from many threads, for a shift of
     50 seats: how many seated (must be exactly the seats), 5xx count, reply p50/p99.

    .venv/bin/python bench/callout.py [--people 5246] [--replies 1000] [--seconds 10]
        [--seats 50] [--threads 32] [--redis-db 13]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and Redis on 127.0.0.1:6379; it
makes a database of its own and drops it afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from _race_load import remove_keys, stop_process_group  # noqa: E402  (bench/_race_load.py)

PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
#: teams the district's people are spread over (Ezhou's 鄂城区 has about this many)
TEAMS = 60
#: people of the city's other district, reached only by the second ring
OTHER_DISTRICT = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--people", type=int, default=5246)
    parser.add_argument("--replies", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--seats", type=int, default=50)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--redis-db", type=int, default=13)
    args = parser.parse_args()
    print(json.dumps(run(args), ensure_ascii=False, indent=2))


def run(args) -> dict:
    import psycopg

    from volunteer_hub.devtools.fake_twilio import FakeTwilio

    name = f"vh_bench_callout_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    fake = FakeTwilio().start()
    worker = None
    try:
        env = {
            "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{name}",
            "REDIS_URL": f"redis://127.0.0.1:6379/{args.redis_db}",
            "DRAMATIQ_NAMESPACE": name,
            "SECRET_KEY": "bench",
            "EMBEDDED_WORKER": "0",
            **{k: str(v) for k, v in fake.app_config().items() if v is not None},
        }
        os.environ.update(env)
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
            cwd=ROOT, env=os.environ, check=True, capture_output=True,
        )  # fmt: skip
        worker = subprocess.Popen(
            [sys.executable, "-m", "dramatiq", "volunteer_hub.worker", "--processes", "1",
             "--threads", "8"],
            cwd=ROOT, env=os.environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        return _measure(args, fake)
    finally:
        if worker is not None:
            stop_process_group(worker)
        fake.stop()
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        remove_keys(f"redis://127.0.0.1:6379/{args.redis_db}", name)


def _measure(args, fake) -> dict:
    from volunteer_hub import create_app
    from volunteer_hub.auth.permissions import viewer_for
    from volunteer_hub.callouts import services
    from volunteer_hub.callouts.rings import fire_due_rings
    from volunteer_hub.db import utcnow
    from volunteer_hub.extensions import db
    from volunteer_hub.people.models import Person

    app = create_app({"RATELIMIT_ENABLED": False})
    for noisy in ("werkzeug", "volunteer_hub.requests"):  # a line per request otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    with app.app_context():
        scene = _seed(args.people, args.seats)
        coordinator = db.session.get(Person, scene["coordinator_id"])
        now = utcnow()
        wanted = services.CalloutInput(
            shift_ids=[scene["shift_id"]],
            audience=services.RingInput(unit_id=scene["district_id"]),
            rings=[services.RingInput(unit_id=scene["city_id"], after_minutes=10)],
            message="江堤出现管涌，请带雨具",
            urgent=True,
        )
        caller = viewer_for(coordinator)
        started = time.perf_counter()
        services.preview(caller, wanted, now=now)
        db.session.rollback()
        previewed = time.perf_counter() - started

        first_call = _first_message_watch(fake)
        started = time.perf_counter()
        _callout, found = services.start(caller, wanted, now=now)
        db.session.flush()
        rows_written = time.perf_counter() - started
        db.session.commit()  # and the after-commit queue: an actor message per text
        committed = time.perf_counter() - started
        # The worker may take the first message while the commit is still queueing.
        first_call = first_call(timeout=60) and first_call.at - started

        started = time.perf_counter()
        fired = fire_due_rings(now + timedelta(minutes=11))
        db.session.commit()
        ring_fired = time.perf_counter() - started

        answers = _answer(app, fake, scene["phones"][: args.replies], args)
        seated, waitlisted = _seats(scene["shift_id"])
        return {
            "people_in_district": args.people,
            "ring0_texted": found.recipients,
            "preview_s": round(previewed, 2),
            "start_to_rows_written_s": round(rows_written, 2),
            "start_to_committed_and_queued_s": round(committed, 2),
            "start_to_first_provider_call_s": None if first_call is None else round(first_call, 2),
            "ring1_fired": fired,
            "ring1_fire_s": round(ring_fired, 2),
            **answers,
            "seats": args.seats,
            "seated": seated,
            "waitlisted": waitlisted,
            "oversold": max(0, seated - args.seats),
            "texts_at_provider_by_the_end": len(fake.messages),
        }


def _seed(people: int, seats: int) -> dict:
    """A city with two districts; ``people`` members over TEAMS teams of the first, 1,000
    in the second; a coordinator of the city; a shift of ``seats`` in two days."""
    from volunteer_hub.auth.services import create_user
    from volunteer_hub.db import utcnow
    from volunteer_hub.events.models import Shift
    from volunteer_hub.events.services import EventInput, ShiftInput, create_event, find_category
    from volunteer_hub.extensions import db
    from volunteer_hub.people.models import Person
    from volunteer_hub.teams.models import Membership
    from volunteer_hub.teams.services import create_team
    from volunteer_hub.units.services import create_unit

    city = create_unit("鄂州市", None)
    district = create_unit("鄂城区", city.id)
    other = create_unit("华容区", city.id)
    teams = [create_team(district.id, f"鄂城区第{i + 1}服务队") for i in range(TEAMS)]
    far = create_team(other.id, "华容区服务队")
    coordinator = create_user(
        "+8613900008001", "压测协调员", "coordinator", "bench-2026", unit_id=city.id
    )
    now = utcnow()
    total = people + OTHER_DISTRICT
    defaults = {"is_veteran": True, "skills": "", "is_admin": False, "is_active": True}
    stamps = {"created_at": now, "updated_at": now}
    rows = [
        {**defaults, **stamps, "name": f"队员{n}", "phone": f"+86137{n:08d}"} for n in range(total)
    ]
    db.session.execute(Person.__table__.insert(), rows)
    ids = db.session.execute(
        db.select(Person.id, Person.phone).where(Person.phone.like("+86137%")).order_by(Person.id)
    ).all()
    db.session.execute(
        Membership.__table__.insert(),
        [
            {"team_id": teams[n % TEAMS].id if n < people else far.id, "person_id": pid,
             "role": "member", "joined_at": now}
            for n, (pid, _phone) in enumerate(ids)
        ],
    )  # fmt: skip
    start = (now + timedelta(days=2)).replace(microsecond=0)
    event = create_event(
        teams[0].id,
        EventInput(
            title="江堤管涌抢险", category_id=find_category("防汛抗旱").id, location="三江港江堤"
        ),
        [ShiftInput(starts_at=start, ends_at=start + timedelta(hours=6), capacity=seats)],
        created_by_id=coordinator.id,
    )
    db.session.flush()
    shift_id = db.session.scalar(db.select(Shift.id).where(Shift.event_id == event.id))
    db.session.commit()
    return {
        "coordinator_id": coordinator.id,
        "city_id": city.id,
        "district_id": district.id,
        "shift_id": shift_id,
        "phones": [phone for _pid, phone in ids[:people]],
    }


def _serve() -> tuple[subprocess.Popen, int]:
    """The app under ``gunicorn -w 2`` (as deployed) on a free port, once /healthz answers."""
    import requests

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "wsgi:app"],
        cwd=ROOT, env=os.environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.ConnectionError):
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok:
                return server, port
        time.sleep(0.2)
    stop_process_group(server)
    raise RuntimeError("gunicorn did not answer /healthz within 60 s")


def _answer(app, fake, phones: list[str], args) -> dict:
    """``phones`` each text "1", evenly over ``args.seconds``, to the app served over HTTP
    by gunicorn."""
    import requests

    server, port = _serve()
    url = f"http://127.0.0.1:{port}/sms/inbound"
    gap = args.seconds / max(1, len(phones))
    began = time.perf_counter()
    session = threading.local()

    def send(index_phone):
        index, phone = index_phone
        delay = began + index * gap - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        if not hasattr(session, "http"):
            session.http = requests.Session()
        params = {"MessageSid": f"SMbench{index:027d}", "From": phone, "To": "+10000", "Body": "1"}
        headers = {"X-Twilio-Signature": fake.signature(url, params)}
        sent = time.perf_counter()
        response = session.http.post(url, data=params, headers=headers, timeout=60)
        return response.status_code, time.perf_counter() - sent

    try:
        with ThreadPoolExecutor(max_workers=args.threads) as pool:
            results = list(pool.map(send, enumerate(phones)))
    finally:
        stop_process_group(server)
    elapsed = time.perf_counter() - began
    latencies = sorted(seconds for _status, seconds in results)
    statuses: dict[str, int] = {}
    for status, _seconds in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    return {
        "replies": len(phones),
        "replies_over_s": round(elapsed, 2),
        "reply_statuses": statuses,
        "reply_5xx": sum(n for s, n in statuses.items() if s.startswith("5")),
        "reply_p50_ms": round(statistics.median(latencies) * 1000),
        "reply_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000),
    }


def _seats(shift_id: int) -> tuple[int, int]:
    from volunteer_hub.extensions import db
    from volunteer_hub.signups.models import Signup, SignupStatus

    db.session.rollback()
    counts = dict(
        db.session.execute(
            db.select(Signup.status, db.func.count())
            .where(Signup.shift_id == shift_id)
            .group_by(Signup.status)
        ).all()
    )
    return counts.get(SignupStatus.CONFIRMED, 0), counts.get(SignupStatus.WAITLISTED, 0)


def _first_message_watch(fake):
    """A thread noting when the fake provider receives its first text (every 5 ms);
    call the result with a timeout to wait for it, then read its ``at``."""
    seen = threading.Event()

    def watch():
        while not seen.is_set():
            if fake.messages:
                waiter.at = time.perf_counter()
                seen.set()
            time.sleep(0.005)

    def waiter(timeout: float) -> bool:
        found = seen.wait(timeout)
        seen.set()  # ends the thread either way
        return found

    waiter.at = None
    threading.Thread(target=watch, daemon=True).start()
    return waiter


if __name__ == "__main__":
    main()
