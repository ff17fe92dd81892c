"""PostgreSQL restarts while sign-ups keep coming: the same gunicorn (no worker replaced)
and the same Dramatiq worker serve again once it is back, and no text goes out twice."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from volunteer_hub.devtools.servers import wait_until

#: load threads, each one sign-up after another
THREADS = 3
#: a bound on each thread's requests (the test stops them long before)
MAX_PER_THREAD = 2_000
#: successes wanted before the restart, and after it, under the same load
BEFORE, AFTER = 20, 30
#: sequential sign-ups once recovered: every one must succeed
CHECK = 20


@pytest.mark.slow
def test_postgres_restart_under_load_recovers_without_restarting_gunicorn(stack, postgres_cluster):
    phones = iter(stack.data["members"])
    lock = threading.Lock()
    stop = threading.Event()
    log: list[tuple[str, int | str]] = []  # (phase, outcome) in the order answered
    phase = ["before"]

    def load() -> None:
        for _ in range(MAX_PER_THREAD):
            if stop.is_set():
                return
            with lock:
                phone = next(phones, None)
            if phone is None:
                return
            outcome = stack.api_signup(phone, "重启压测")
            with lock:
                log.append((phase[0], outcome))

    def successes(of_phase: str) -> int:
        with lock:
            return sum(1 for p, outcome in log if p == of_phase and outcome == 201)

    master = stack.web.process.pid
    workers_before = stack.web.worker_pids()
    threads = [threading.Thread(target=load, daemon=True) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    try:
        wait_until(lambda: successes("before") >= BEFORE or len(log) > 3 * BEFORE, 60)
        assert successes("before") >= BEFORE, stack.log_errors()
        with lock:
            phase[0] = "restart"
        postgres_cluster.restart("fast")  # every connection in every pool is now dead
        with lock:
            phase[0] = "after"
        recovered = wait_until(lambda: successes("after") >= AFTER, 60)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)

    outcomes = {
        p: dict(Counter(o for q, o in log if q == p)) for p in ("before", "restart", "after")
    }
    details = f"{outcomes}\n{stack.log_errors()}"
    assert recovered, details
    # Once the database is back, every request succeeds (pool_pre_ping replaced the dead
    # connections; nothing needed a restart).
    check_phones = [next(phones) for _ in range(CHECK)]
    check = [stack.api_signup(phone, "恢复后") for phone in check_phones]
    assert check == [201] * CHECK, details
    assert stack.web.process.poll() is None and stack.web.process.pid == master
    assert stack.web.worker_pids() == workers_before, "a gunicorn worker died and was replaced"
    assert stack.worker.process.poll() is None, "the Dramatiq worker exited"

    # The worker recovered too: texts of the sign-ups made since the restart all go out.
    statuses = stack.wait_for_outbox(timeout=60)
    rows, provider = stack.sent_once_check()
    assert provider - rows == {}, f"sent more than once: {provider - rows}"
    last_rows = stack.sql(
        "SELECT status, count(*) FROM outgoing_sms WHERE to_phone = ANY(%s) GROUP BY 1",
        check_phones,
    )
    assert dict(last_rows) == {"sent": CHECK}, (dict(statuses), details)
