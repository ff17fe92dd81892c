"""Redis stops for about 20 seconds while people sign up (API and SMS) and log in (staff
password, volunteer code): no request gets a 5xx, and once Redis is back every text in
the outbox reaches the provider exactly once (counted at the fake Twilio)."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pprint import pformat

import httpx
import pytest

from volunteer_hub.devtools.servers import wait_until

#: rounds of requests while Redis is down, one every PACE seconds: about 20 s of outage
OUTAGE_ROUNDS = 40
PACE = 0.5
#: API sign-ups just before Redis stops: their texts are being sent when it goes
IN_FLIGHT = 12
#: a send rate the backlog saturates: the worker's threads spend most of their time
#: between claiming a row and getting a send slot from Redis, where an outage hurts
SMS_RATE_PER_SECOND = 5


@pytest.mark.slow
def test_redis_outage_loses_no_request_and_no_text(stack, redis_server):
    members = iter(stack.data["members"])

    # Everything works before the outage (the stack itself is sound).
    assert stack.api_signup(next(members), "演练报名") == 201
    assert stack.sms_signup(next(members)) == 200
    assert stack.staff_login() == 302
    assert stack.code_request(next(members)) == 302
    drained = stack.wait_for_outbox(timeout=30)
    assert set(drained) == {"sent"}, (drained, stack.log_errors())
    stack.statuses.clear()

    # A small call-out's worth of texts at once, then Redis goes away (nothing kept)
    # while the worker is in the middle of them: some sent, most not yet.
    in_flight = [next(members) for _ in range(IN_FLIGHT)]
    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        answers = list(pool.map(lambda phone: stack.api_signup(phone, "在途"), in_flight))
    assert answers == [201] * IN_FLIGHT, stack.log_errors()
    assert wait_until(lambda: any(stack.fake.messages_to(phone) for phone in in_flight), 30)
    redis_server.stop()
    sent_before_outage = sum(len(stack.fake.messages_to(phone)) for phone in in_flight)

    healthz = httpx.get(f"{stack.base_url}/healthz", timeout=30)
    started = time.monotonic()
    for i in range(OUTAGE_ROUNDS):
        stack.api_signup(next(members), f"停机报名{i}")
        stack.sms_signup(next(members))
        stack.staff_login()
        stack.code_request(next(members))
        # A steady pace, so the outage lasts as long as the rounds do.
        time.sleep(max(0.0, started + (i + 1) * PACE - time.monotonic()))
    answered = {kind: dict(counts) for kind, counts in stack.statuses.items()}

    redis_server.start()  # the same port, empty: every message that was in Redis is gone
    tick = stack.tick()
    statuses = stack.wait_for_outbox(timeout=45)
    rows, provider = stack.sent_once_check()
    sms_signups = stack.sql("SELECT count(*) FROM signup WHERE source = 'sms'")[0][0]

    expected = {
        "api signup": {201: OUTAGE_ROUNDS + IN_FLIGHT},
        "sms signup": {200: OUTAGE_ROUNDS},
        "staff login page": {200: OUTAGE_ROUNDS},
        "staff login": {302: OUTAGE_ROUNDS},
        "code request page": {200: OUTAGE_ROUNDS},
        "code request": {302: OUTAGE_ROUNDS},
    }
    server_errors = {
        kind: {status: n for status, n in counts.items() if not 100 <= _int(status) < 500}
        for kind, counts in answered.items()
    }
    # Every row queued one text to a number of its own: the warm-up's sign-up and code,
    # the sign-ups in flight and during the outage, the code requests during it.
    texts_expected = 2 + IN_FLIGHT + 2 * OUTAGE_ROUNDS
    problems = {
        "5xx or no answer during the outage": {k: v for k, v in server_errors.items() if v},
        "answers other than expected": {
            kind: counts for kind, counts in answered.items() if counts != expected.get(kind)
        },
        "/healthz during the outage (503 naming Redis)": (
            None
            if healthz.status_code == 503 and "redis" in healthz.text.lower()
            else f"{healthz.status_code} {healthz.text[:200]}"
        ),
        "sign-ups by text recorded": None if sms_signups == OUTAGE_ROUNDS + 1 else sms_signups,
        "texts in the outbox": None if rows.total() == texts_expected else rows.total(),
        "outbox rows not sent": {k: v for k, v in statuses.items() if k != "sent"},
        "never sent": sorted((rows - provider).elements())[:5],
        "sent more than once": sorted((provider - rows).elements())[:5],
        "texts to a number more than once": sorted(
            to for to, n in Counter(to for to, _ in provider.elements()).items() if n > 1
        ),
    }
    problems = {name: problem for name, problem in problems.items() if problem}
    assert not problems, (
        f"{pformat(problems, width=100)}\n"
        f"in flight: {sent_before_outage} of {IN_FLIGHT} sent before the outage; "
        f"after it, tick: {tick}\n{stack.log_errors()}"
    )


def _int(status: int | str) -> int:
    """A status code, or 0 for a transport error (no answer at all)."""
    return status if isinstance(status, int) else 0
