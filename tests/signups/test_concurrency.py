"""Capacity under contention: many people claim the same seats at the same moment.

Each thread has its own app context, hence its own session and database connection,
and all are released together by a barrier. Runs on file SQLite by default and on
PostgreSQL when TEST_DATABASE_URL is set.
"""

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from tests.signups.checks import assert_seats_consistent
from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.signups import services
from volunteer_hub.signups.models import Signup, SignupStatus

SEATS = 20
PEOPLE = 200


def _run_together(app, jobs):
    # End this test's own transaction: on SQLite an open one would hold the write lock.
    db.session.commit()
    barrier = threading.Barrier(len(jobs))

    def run(job):
        with app.app_context():
            barrier.wait()
            try:
                return job()
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))


def test_two_hundred_people_twenty_seats(app, make):
    """Every answer is true at commit: 20 confirmed, and the 180 waitlisted are told
    the places 1..180, each once (a count that could not see rows committed meanwhile
    told some people the same place)."""
    team = make.team()
    shift_id = make.shifts_of(make.event(team, capacity=SEATS))[0].id
    person_ids = [make.member(team).id for _ in range(PEOPLE)]

    def sign_up(person_id):
        def job():
            try:
                result = services.sign_up(shift_id, person_id, "api")
                answer = (result.signup.status, result.waitlist_position, result.signup.id)
                db.session.commit()
                return answer
            except Exception as exc:  # any error is a failure of the rule, reported below
                db.session.rollback()
                return (f"error: {exc!r}", None, None)

        return job

    outcomes = _run_together(app, [sign_up(pid) for pid in person_ids])

    assert [o for o, _position, _id in outcomes if o.startswith("error")] == []
    statuses = [status for status, _position, _id in outcomes]
    assert statuses.count(SignupStatus.CONFIRMED) == SEATS
    assert statuses.count(SignupStatus.WAITLISTED) == PEOPLE - SEATS

    told = sorted(
        (position, signup_id)
        for status, position, signup_id in outcomes
        if status == SignupStatus.WAITLISTED
    )
    assert [position for position, _id in told] == list(range(1, PEOPLE - SEATS + 1))
    # ... and the places follow the waitlist's own order (the order of ids).
    assert [signup_id for _position, signup_id in told] == sorted(i for _p, i in told)
    assert all(o[1] is None for o in outcomes if o[0] == SignupStatus.CONFIRMED)

    assert_seats_consistent(shift_id, confirmed=SEATS, waitlisted=PEOPLE - SEATS)


def test_cancellations_and_signups_racing_never_oversell(app, make):
    """Half the confirmed cancel while newcomers sign up: seats stay exact, the
    waitlist is promoted in order, nobody is lost."""
    team = make.team()
    shift_id = make.shifts_of(make.event(team, capacity=10))[0].id
    holders = [make.member(team).id for _ in range(10)]
    waiting = [make.member(team).id for _ in range(10)]
    newcomers = [make.member(team).id for _ in range(20)]
    held = [services.sign_up(shift_id, pid, "web").signup.id for pid in holders]
    for pid in waiting:
        services.sign_up(shift_id, pid, "web")
    db.session.commit()

    def cancel(signup_id):
        def job():
            services.cancel(signup_id)
            db.session.commit()
            return "cancelled"

        return job

    def sign_up(person_id):
        def job():
            result = services.sign_up(shift_id, person_id, "sms")
            db.session.commit()
            return result.signup.status

        return job

    jobs = [cancel(sid) for sid in held[:5]] + [sign_up(pid) for pid in newcomers]
    outcomes = _run_together(app, jobs)
    assert outcomes.count("cancelled") == 5

    shift = db.session.get(Shift, shift_id)
    rows = db.session.execute(
        select(Signup.person_id, Signup.status)
        .where(Signup.shift_id == shift_id)
        .order_by(Signup.id)
    ).all()
    confirmed = [pid for pid, status in rows if status == "confirmed"]
    assert shift.filled == len(confirmed) == 10
    # The five freed seats went to the first five of the original waitlist, who queued
    # before every newcomer.
    assert set(waiting[:5]) <= set(confirmed)
    assert not set(newcomers) & set(confirmed)
