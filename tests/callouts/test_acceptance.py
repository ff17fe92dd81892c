"""Issue 14's acceptance, end to end: texts leave through the real ``twilio`` client to
the fake Twilio (devtools/fake_twilio.py), sent by a real Dramatiq worker; answers come
in through the SMS webhook's own handler. Seats never oversold when hundreds answer at
once (threads with their own connections: truly at once on PostgreSQL with
TEST_DATABASE_URL, serialised by SQLite's write lock otherwise); a ring fires once with
two schedulers; a person in two rings gets one text; a decline then a yes; a restart in
the middle of a ring loses nothing and sends nothing twice. The two rings also through
each mainland provider's real SDK to its fake, where a ring goes out in one batch."""

from __future__ import annotations

import itertools
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import dramatiq
import pytest

from tests.callouts.helpers import data, viewer
from tests.conftest import stop_worker
from tests.signups.checks import assert_seats_consistent
from tests.sms.domestic_fakes import PROVIDERS, app_on_fake
from volunteer_hub import scheduler
from volunteer_hub.callouts import services
from volunteer_hub.callouts.models import Callout, CalloutStatus
from volunteer_hub.callouts.rings import fire_due_rings
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.sms.inbound import handle_inbound
from volunteer_hub.teams.models import Membership

pytestmark = pytest.mark.slow

MINUTE = timedelta(minutes=1)
CALL = "能来请回复1"
_sids = itertools.count(1)


@pytest.fixture
def through_twilio(app, twilio_gateway):
    app.extensions["sms_gateway"] = twilio_gateway


def text_in(phone: str, body: str) -> str:
    """A text from ``phone``, through the webhook's handler; the reply, committed."""
    result = handle_inbound(
        message_sid=f"SMcallout{next(_sids):024d}", from_phone=phone, to_phone="+10000", body=body
    )
    db.session.commit()
    return result.reply or ""


def drain(broker, worker) -> None:
    broker.join("sms")
    worker.join()
    db.session.expire_all()


def calls_to(fake) -> Counter:
    return Counter(m["to"] for m in fake.messages if CALL in m["body"])


def _district(make, *, capacity=2):
    """Team A (3 people), team B (3 people); one more person in both. Ring 0: A; ring 1
    after 10 minutes: B."""
    unit = make.unit()
    a, b = make.team(unit), make.team(unit)
    coordinator = make.coordinator(unit)
    in_a = [make.member(a) for _ in range(3)]
    in_b = [make.member(b) for _ in range(3)]
    both = make.member(a)
    db.session.add(Membership(team_id=b.id, person_id=both.id))
    shift = make.shifts_of(make.event(a, capacity=capacity))[0]
    db.session.commit()
    rings = [services.RingInput(team_ids=[b.id], after_minutes=10)]
    return coordinator, shift, (a, in_a), (b, in_b), both, rings


def test_two_rings_through_twilio_one_text_each_then_seats_and_stand_down(
    broker, worker, fake_twilio, through_twilio, make
):
    coordinator, shift, (a, in_a), (_b, in_b), both, rings = _district(make)
    now = utcnow()
    callout, _ = services.start(
        viewer(coordinator), data([shift], teams=[a], urgent=True, rings=rings), now=now
    )
    db.session.commit()
    drain(broker, worker)
    assert calls_to(fake_twilio) == Counter(p.phone for p in [*in_a, both])

    # Two schedulers tick past ring 1's time: it fires once; the person in both teams
    # (texted by ring 0) is not texted again.
    assert scheduler.tick(now + 11 * MINUTE).fired_rings == 1
    assert scheduler.tick(now + 11 * MINUTE).fired_rings == 0
    drain(broker, worker)
    assert calls_to(fake_twilio) == Counter(p.phone for p in [*in_a, both, *in_b])

    # A decline, then a yes from the same person; another yes fills the two seats; a
    # third yes is waitlisted.
    first, second, late = in_a[0], in_b[0], in_b[1]
    assert "不能参加" in text_in(first.phone, "2")
    assert "已为您留位" in text_in(first.phone, "1")
    assert "已为您留位" in text_in(second.phone, f"1 {callout.code}")
    assert "候补第1位" in text_in(late.phone, "报名")
    db.session.expire_all()
    assert db.session.get(Callout, callout.id).status == CalloutStatus.FULL

    services.stop(viewer(coordinator), callout.id)
    db.session.commit()
    drain(broker, worker)
    stand_down = Counter(m["to"] for m in fake_twilio.messages if "召集已结束" in m["body"])
    assert stand_down == Counter([first.phone, second.phone, late.phone])  # one each
    assert_seats_consistent(shift.id, confirmed=2, waitlisted=1)


def test_a_restart_in_the_middle_of_a_ring_loses_nothing(broker, fake_twilio, through_twilio, make):
    coordinator, shift, (a, in_a), (_b, in_b), both, rings = _district(make, capacity=5)
    now = utcnow()
    services.start(viewer(coordinator), data([shift], teams=[a], urgent=True, rings=rings), now=now)
    db.session.commit()
    # The process dies: its queued actor messages are gone, nothing was sent.
    broker.flush_all()
    # A tick that dies before its commit: the ring it had fired is undone with it.
    assert fire_due_rings(now + 11 * MINUTE) == 1
    db.session.rollback()

    # After the restart: a worker, and the scheduler's next ticks.
    restarted = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    restarted.start()
    try:
        assert scheduler.tick(now + 12 * MINUTE).fired_rings == 1
        scheduler.tick(utcnow() + 5 * MINUTE)  # the outbox's lost messages are sent again
        drain(broker, restarted)
    finally:
        db.session.rollback()
        stop_worker(broker, restarted)
    assert calls_to(fake_twilio) == Counter(p.phone for p in [*in_a, both, *in_b])


PEOPLE, SEATS, THREADS = 300, 40, 16


def test_hundreds_answering_at_once_never_oversell(app, make):
    team = make.team()
    leader = make.leader(team)
    people = [make.member(team) for _ in range(PEOPLE)]
    shift = make.shifts_of(make.event(team, capacity=SEATS))[0]
    services.start(viewer(leader), data([shift], teams=[team], urgent=True))
    db.session.commit()
    phones = [p.phone for p in people]

    def answer(phone):
        with app.app_context():
            try:
                return text_in(phone, "1")
            except Exception as exc:  # reported by the assertion below
                db.session.rollback()
                return f"error: {exc!r}"
            finally:
                db.session.remove()

    db.session.commit()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        replies = list(pool.map(answer, phones))

    assert [r for r in replies if r.startswith("error")] == []
    assert sum("已为您留位" in r for r in replies) == SEATS
    assert sum("候补第" in r for r in replies) == PEOPLE - SEATS
    db.session.expire_all()
    assert_seats_consistent(shift.id, confirmed=SEATS, waitlisted=PEOPLE - SEATS)
    told = sorted(int(m[1]) for r in replies if (m := re.search(r"候补第(\d+)位", r)))
    assert told == list(range(1, PEOPLE - SEATS + 1))  # each told their true place


@pytest.fixture(params=PROVIDERS, ids=[p.name for p in PROVIDERS])
def mainland(request, app, monkeypatch, tmp_path):
    """The app sending through a mainland provider's real SDK to its local fake."""
    with app_on_fake(app, monkeypatch, tmp_path, request.param) as fake:
        yield request.param, fake


def test_two_rings_through_a_mainland_provider_one_text_each_in_batches(
    broker, worker, mainland, make
):
    provider, fake = mainland
    coordinator, shift, (a, in_a), (_b, in_b), both, rings = _district(make)
    now = utcnow()
    services.start(viewer(coordinator), data([shift], teams=[a], urgent=True, rings=rings), now=now)
    db.session.commit()
    drain(broker, worker)

    def call_keys(person) -> list[str]:
        return [k for k in provider.keys_sent_to(fake, person.phone) if k.startswith("callout")]

    assert [call_keys(p) for p in [*in_a, both]] == [["callout_urgent"]] * 4
    assert fake.counters["calls"] == 1  # ring 0's four texts in one provider call

    assert scheduler.tick(now + 11 * MINUTE).fired_rings == 1
    assert scheduler.tick(now + 11 * MINUTE).fired_rings == 0
    drain(broker, worker)
    assert [len(call_keys(p)) for p in [*in_a, both, *in_b]] == [1] * 7
    assert fake.counters == {"calls": 2, "texts": 7}
