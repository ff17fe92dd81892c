"""Escalation rings from the database, and the end of a call-out with its stand-down."""

from datetime import timedelta

from sqlalchemy import func, select

from tests.callouts.helpers import data, run_together, texts_to, viewer
from volunteer_hub.callouts import answers, services
from volunteer_hub.callouts.models import CalloutRecipient, CalloutRing, CalloutStatus
from volunteer_hub.callouts.rings import fire_due_rings
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.teams.models import Membership

MINUTE = timedelta(minutes=1)


def _two_rings(make, *, capacity=10):
    """Ring 0: team A; ring 1 (after 10 min): team B; ring 2 (after 20 min): the unit,
    which holds both teams and team C. One person is in A and B."""
    unit = make.unit()
    a, b, c = (make.team(unit) for _ in range(3))
    coordinator = make.coordinator(unit)
    in_a = [make.member(a) for _ in range(3)]
    in_b = [make.member(b) for _ in range(3)]
    in_c = [make.member(c) for _ in range(2)]
    both = make.member(a)
    db.session.add(Membership(team_id=b.id, person_id=both.id))
    db.session.commit()
    shift = make.shifts_of(make.event(a, capacity=capacity))[0]
    now = utcnow()
    callout, _found = services.start(
        viewer(coordinator),
        data(
            [shift],
            teams=[a],
            urgent=True,
            rings=[
                services.RingInput(team_ids=[b.id], after_minutes=10),
                services.RingInput(unit_id=unit.id, after_minutes=20),
            ],
        ),
        now=now,
    )
    db.session.commit()
    return callout, now, {"a": in_a, "b": in_b, "c": in_c, "both": both}, shift


def _texted(callout):
    return set(
        db.session.scalars(
            select(CalloutRecipient.person_id).where(CalloutRecipient.callout_id == callout.id)
        )
    )


def test_rings_fire_when_due_and_each_person_is_texted_once(make):
    callout, now, people, _shift = _two_rings(make)
    ids = lambda group: {p.id for p in people[group]}  # noqa: E731
    assert _texted(callout) == ids("a") | {people["both"].id}

    assert fire_due_rings(now + 9 * MINUTE) == 0
    assert fire_due_rings(now + 10 * MINUTE) == 1
    db.session.commit()
    assert _texted(callout) == ids("a") | ids("b") | {people["both"].id}
    assert fire_due_rings(now + 11 * MINUTE) == 0  # fired already

    assert fire_due_rings(now + 25 * MINUTE) == 1
    db.session.commit()
    everyone = ids("a") | ids("b") | ids("c") | {people["both"].id}
    assert _texted(callout) == everyone
    rows = texts_to()
    assert sorted(r.person_id for r in rows) == sorted(everyone)  # one text each
    rings = db.session.scalars(
        select(CalloutRing).where(CalloutRing.callout_id == callout.id).order_by(CalloutRing.number)
    ).all()
    assert [r.texted for r in rings] == [4, 3, 2]


def test_a_ring_fires_once_with_two_schedulers_ticking(app, make):
    callout, now, _people, _shift = _two_rings(make)
    due = now + 30 * MINUTE
    outcomes = run_together(app, [lambda: fire_due_rings(due), lambda: fire_due_rings(due)])
    assert sorted(outcomes) == [0, 2] or sorted(outcomes) == [1, 1], outcomes
    db.session.expire_all()
    rows = texts_to()
    assert len(rows) == len({r.person_id for r in rows}) == 9
    fired = db.session.scalar(
        select(func.count()).where(
            CalloutRing.callout_id == callout.id, CalloutRing.fired_at.is_not(None)
        )
    )
    assert fired == 3


def test_no_ring_once_full_and_the_stand_down_goes_out_once(make):
    callout, now, people, shift = _two_rings(make, capacity=2)
    seated = people["a"][:2]
    waiting = people["a"][2]
    for person in [*seated, waiting]:
        answers.answer(person.id, None, True, now=now + MINUTE)
    db.session.commit()
    db.session.refresh(callout)
    assert callout.status == CalloutStatus.FULL  # ended by the seat that filled it
    assert fire_due_rings(now + 30 * MINUTE) == 0
    db.session.commit()
    assert _texted(callout) == {p.id for p in people["a"]} | {people["both"].id}

    # The stand-down went to the seated; who answered after (waitlisted) learnt it from
    # the reply, and gets it when the call-out is stopped; nobody gets it twice.
    stand_down = texts_to(like=f"callout:{callout.id}:stand-down:%")
    assert sorted(r.person_id for r in stand_down) == sorted(p.id for p in seated)
    assert f"签到 {shift.code}" in stand_down[0].body

    coordinator = db.session.get(Person, callout.created_by_id)
    services.stop(viewer(coordinator), callout.id)
    db.session.commit()
    stand_down = texts_to(like=f"callout:{callout.id}:stand-down:%")
    assert sorted(r.person_id for r in stand_down) == sorted(p.id for p in [*seated, waiting])
    assert "候补" in stand_down[-1].body and stand_down[-1].person_id == waiting.id

    fire_due_rings(now + 40 * MINUTE)
    db.session.commit()
    assert len(texts_to(like=f"callout:{callout.id}:stand-down:%")) == 3
    assert len(texts_to(like="callout:%")) == 4 + 3


def test_the_tick_ends_a_callout_when_its_shift_starts(make):
    callout, now, people, shift = _two_rings(make)
    answers.answer(people["a"][0].id, None, True, now=now)
    db.session.commit()
    assert fire_due_rings(shift.starts_at) == 0
    db.session.commit()
    db.session.refresh(callout)
    assert callout.status == CalloutStatus.STARTED
    assert [r.person_id for r in texts_to(like="%:stand-down:%")] == [people["a"][0].id]
    assert len(_texted(callout)) == 4  # the rings due by then did not fire


def test_stop_ends_the_rings(make):
    callout, now, _people, _shift = _two_rings(make)
    coordinator = db.session.get(Person, callout.created_by_id)
    services.stop(viewer(coordinator), callout.id, now=now + MINUTE)
    db.session.commit()
    assert fire_due_rings(now + 30 * MINUTE) == 0
    assert len(_texted(callout)) == 4


def test_a_full_callout_lets_go_of_replies_once_its_shift_starts(make):
    callout, now, people, shift = _two_rings(make, capacity=1)
    seated, late = people["a"][:2]
    answers.answer(seated.id, None, True, now=now)
    answers.answer(late.id, None, True, now=now + MINUTE)
    db.session.commit()
    db.session.refresh(callout)
    assert callout.status == CalloutStatus.FULL
    fire_due_rings(shift.starts_at)
    db.session.commit()
    db.session.refresh(callout)
    assert callout.status == CalloutStatus.STARTED
    stand_down = texts_to(like=f"callout:{callout.id}:stand-down:%")
    assert [r.person_id for r in stand_down] == [seated.id, late.id]
    # "Y" now confirms a reminder again, as the parser reads it
    assert answers.handle_callout_reply(late.id, "Y", now=shift.starts_at) is None
