"""Shared helpers of the call-out tests."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import select

from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.callouts import services
from volunteer_hub.extensions import db
from volunteer_hub.sms.models import OutgoingSms


def viewer(person):
    return viewer_for(person)


def data(shifts, *, teams=None, unit=None, rings=(), **kwargs) -> services.CalloutInput:
    return services.CalloutInput(
        shift_ids=[s.id for s in shifts],
        audience=services.RingInput(
            team_ids=[t.id for t in teams] if teams is not None else None,
            unit_id=unit.id if unit is not None else None,
        ),
        rings=list(rings),
        **kwargs,
    )


def member_with_an_open_callout(make):
    """A team member texted by an urgent call-out for a three-seat shift."""
    team = make.team()
    member = make.member(team)
    shift = make.shifts_of(make.event(team, capacity=3))[0]
    services.start(viewer(make.leader(team)), data([shift], teams=[team], urgent=True))
    db.session.commit()
    return member, shift


def texts_to(person_ids=None, like="callout:%") -> list[OutgoingSms]:
    """Outbox rows of call-outs (``like``: the dedupe key pattern)."""
    query = select(OutgoingSms).where(OutgoingSms.dedupe_key.like(like)).order_by(OutgoingSms.id)
    if person_ids is not None:
        query = query.where(OutgoingSms.person_id.in_(person_ids))
    return list(db.session.scalars(query))


def run_together(app, jobs):
    """Each job in its own thread, app context and connection, released together."""
    db.session.commit()  # on SQLite an open transaction would hold the write lock
    barrier = threading.Barrier(len(jobs))

    def run(job):
        with app.app_context():
            barrier.wait()
            try:
                result = job()
                db.session.commit()
                return result
            except Exception as exc:  # reported by the test as a failed outcome
                db.session.rollback()
                return f"error: {exc!r}"
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        return list(pool.map(run, jobs))
