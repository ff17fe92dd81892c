"""Seats by reply: the sign-up core behind every yes, a decline, the words."""

import os

import pytest
from sqlalchemy import func, select

from tests.callouts.helpers import data, run_together, viewer
from tests.signups.checks import assert_seats_consistent
from volunteer_hub.callouts import answers, services
from volunteer_hub.callouts.models import Answer, Callout, CalloutRecipient, CalloutStatus
from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.signups.models import Signup, SignupStatus


def _callout(make, *, members=5, capacity=2, shifts=1):
    team = make.team()
    leader = make.leader(team)
    people = [make.member(team) for _ in range(members)]
    event_shifts = make.shifts_of(make.event(team, shifts=shifts, capacity=capacity))
    callout, _found = services.start(viewer(leader), data(event_shifts, teams=[team], urgent=True))
    db.session.commit()
    return callout, people, event_shifts


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", (True, None)),
        ("1 2345", (True, "2345")),
        ("１", (True, None)),
        ("y", (True, None)),
        ("Y2345", (True, "2345")),
        ("是", (True, None)),
        ("到！", (True, None)),
        ("报名", (True, None)),
        ("报名 2345", (True, "2345")),
        ("报名2345", (True, "2345")),
        ("2", (False, None)),
        ("2 2345", (False, "2345")),
        ("不能", (False, None)),
        ("n", (False, None)),
        ("不能2345", (False, "2345")),
        ("12345", None),
        ("YES", None),
        ("确认", None),
        ("3", None),
        ("报名 12", None),
        ("", None),
    ],
)
def test_words(text, expected):
    assert answers.parse_reply(text) == expected


def test_first_come_first_seated_then_waitlisted_with_position(make):
    _made, people, (shift,) = _callout(make, capacity=2)
    replies = [answers.answer(p.id, None, True) for p in people[:4]]
    db.session.commit()
    assert [r.signup.status for r in replies] == [
        "confirmed",
        "confirmed",
        "waitlisted",
        "waitlisted",
    ]
    assert [r.waitlist_position for r in replies] == [None, None, 1, 2]
    assert (
        replies[0].text.startswith("已为您留位：长江巡堤")
        and f"签到 {shift.code}" in replies[0].text
    )
    assert "候补第2位" in replies[3].text
    assert_seats_consistent(shift.id, confirmed=2, waitlisted=2)


def test_decline_then_accept(make):
    callout, people, (shift,) = _callout(make, capacity=2)
    person = people[0]
    declined = answers.answer(person.id, callout.code, False)
    db.session.commit()
    assert "不能参加" in declined.text
    row = db.session.scalar(select(CalloutRecipient).where(CalloutRecipient.person_id == person.id))
    assert row.answer == Answer.DECLINED and row.signup_id is None

    accepted = answers.answer(person.id, None, True)
    db.session.commit()
    assert accepted.signup.status == SignupStatus.CONFIRMED
    db.session.refresh(row)
    assert row.answer == Answer.ACCEPTED and row.signup_id == accepted.signup.id

    # ... and a decline after that gives the seat back
    answers.answer(person.id, None, False)
    db.session.commit()
    assert db.session.get(Signup, accepted.signup.id).status == SignupStatus.CANCELLED
    assert db.session.get(Shift, shift.id).filled == 0


def test_a_second_yes_is_answered_without_a_second_signup(make):
    _made, people, _shifts = _callout(make)
    answers.answer(people[0].id, None, True)
    again = answers.answer(people[0].id, None, True)
    db.session.commit()
    assert again.text.startswith("您已报名")
    assert db.session.scalar(select(func.count()).select_from(Signup)) == 1


def test_handle_callout_reply_leaves_other_texts_to_the_parser(make):
    callout, people, _shifts = _callout(make)
    outsider = make.person()
    assert answers.handle_callout_reply(outsider.id, "1") is None  # never texted
    assert answers.handle_callout_reply(people[0].id, "签到 1234") is None
    assert answers.handle_callout_reply(people[0].id, "报名 99999") is None  # a shift's code
    assert answers.handle_callout_reply(people[0].id, f"1 {callout.code}").text.startswith(
        "已为您留位"
    )
    assert answers.handle_callout_reply(people[1].id, "不能").text.startswith("已记下")


def test_several_open_callouts_ask_which(make):
    team = make.team()
    leader = make.leader(team)
    person = make.member(team)
    first = make.shifts_of(make.event(team, title="巡堤"))[0]
    second = make.shifts_of(make.event(team, title="转移群众", starts_at=make.future(96)))[0]
    one, _f = services.start(viewer(leader), data([first], teams=[team], urgent=True))
    two, _f = services.start(viewer(leader), data([second], teams=[team], urgent=True))
    db.session.commit()
    text = answers.handle_callout_reply(person.id, "1").text
    assert f"1 {one.code}" in text and f"1 {two.code}" in text
    assert db.session.scalar(select(func.count()).select_from(Signup)) == 0
    assert answers.handle_callout_reply(person.id, f"到{two.code}").text.startswith(
        "已为您留位：转移群众"
    )


def test_when_not_every_open_call_out_fits_the_urgent_and_soonest_are_listed(make):
    team = make.team()
    leader = make.leader(team)
    person = make.member(team)

    def call_out(title: str, hours: int, urgent: bool):
        shift = make.shifts_of(make.event(team, title=title, starts_at=make.future(hours)))[0]
        return services.start(viewer(leader), data([shift], teams=[team], urgent=urgent))[0]

    flood = call_out("长江防汛紧急抢险巡堤值守", 72, urgent=True)  # the oldest
    later = call_out("红色教育宣讲进社区活动", 96, urgent=False)
    sooner = call_out("八一拥军慰问驻地官兵", 48, urgent=False)
    db.session.commit()

    text = answers.handle_callout_reply(person.id, "1").text

    assert text.startswith("您有3个召集：长江")
    assert text.index(f"1 {flood.code}") < text.index(f"1 {sooner.code}")
    assert f"1 {later.code}" not in text  # the one left out is the least pressing


def test_stopped_callout_answers_closed(make):
    callout, people, _shifts = _callout(make)
    leader_viewer = viewer(db.session.get(Person, callout.created_by_id))
    services.stop(leader_viewer, callout.id)
    db.session.commit()
    assert "召集已结束" in answers.handle_callout_reply(people[0].id, f"1 {callout.code}").text
    assert answers.handle_callout_reply(people[0].id, "1") is None  # no open call-out
    assert db.session.scalar(select(func.count()).select_from(Signup)) == 0


def test_several_shifts_fill_in_order(make):
    callout, people, shifts = _callout(make, members=5, capacity=2, shifts=2)
    results = [answers.answer(p.id, None, True) for p in people]
    db.session.commit()
    assert [r.signup.shift_id for r in results] == [shifts[0].id] * 2 + [shifts[1].id] * 2 + [
        shifts[0].id
    ]
    assert results[-1].waitlist_position == 1
    assert db.session.get(Callout, callout.id).status == CalloutStatus.FULL


PEOPLE, SEATS = 60, 15


def test_capacity_never_exceeded_when_many_accept_at_once(app, make):
    """Threads with their own connections on PostgreSQL; one after another on SQLite,
    where BEGIN IMMEDIATE serialises writers anyway."""
    callout, people, (shift,) = _callout(make, members=PEOPLE, capacity=SEATS)
    ids = [p.id for p in people]

    def accept(person_id):
        def job():
            reply = answers.answer(person_id, callout.code, True)
            return reply.signup.status, reply.waitlist_position

        return job

    jobs = [accept(pid) for pid in ids]
    if os.environ.get("TEST_DATABASE_URL"):
        outcomes = run_together(app, jobs)
    else:
        outcomes = []
        for job in jobs:
            outcomes.append(job())
            db.session.commit()
    assert [o for o in outcomes if isinstance(o, str)] == []
    statuses = [status for status, _position in outcomes]
    assert statuses.count(SignupStatus.CONFIRMED) == SEATS
    positions = sorted(p for s, p in outcomes if s == SignupStatus.WAITLISTED)
    assert positions == list(range(1, PEOPLE - SEATS + 1))
    db.session.expire_all()
    assert_seats_consistent(shift.id, confirmed=SEATS, waitlisted=PEOPLE - SEATS)
