from datetime import timedelta

import pytest
from sqlalchemy import func, select

from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.events.models import Shift
from volunteer_hub.events.services import cancel_event
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.signups import services
from volunteer_hub.signups.models import Signup, SignupStatus


@pytest.fixture
def team(make):
    return make.team()


def _statuses(shift_id):
    return list(
        db.session.execute(
            select(Signup.person_id, Signup.status)
            .where(Signup.shift_id == shift_id)
            .order_by(Signup.id)
        )
    )


def test_seats_then_waitlist_in_order(make, team):
    shift = make.shifts_of(make.event(team, capacity=2))[0]
    people = [make.member(team) for _ in range(5)]
    results = [services.sign_up(shift.id, p.id, "web") for p in people]
    db.session.commit()

    assert [r.signup.status for r in results] == ["confirmed"] * 2 + ["waitlisted"] * 3
    assert [r.waitlist_position for r in results] == [None, None, 1, 2, 3]
    assert db.session.get(Shift, shift.id).filled == 2


def test_cancel_promotes_first_waitlisted_in_same_transaction(make, team):
    shift = make.shifts_of(make.event(team, capacity=1))[0]
    first, second, third = (make.member(team) for _ in range(3))
    held = services.sign_up(shift.id, first.id, "web").signup
    services.sign_up(shift.id, second.id, "sms")
    services.sign_up(shift.id, third.id, "api")
    db.session.commit()

    result = services.cancel(held.id)
    db.session.commit()

    assert [s.person_id for s in result.promoted] == [second.id]
    assert _statuses(shift.id) == [
        (first.id, "cancelled"),
        (second.id, "confirmed"),
        (third.id, "waitlisted"),
    ]
    assert db.session.get(Shift, shift.id).filled == 1
    third_signup = services.active_signup(shift.id, third.id)
    assert services.waitlist_position(third_signup) == 1


def test_cancelling_a_waitlisted_signup_frees_no_seat(make, team):
    shift = make.shifts_of(make.event(team, capacity=1))[0]
    a, b, c = (make.member(team) for _ in range(3))
    services.sign_up(shift.id, a.id, "web")
    waiting = services.sign_up(shift.id, b.id, "web").signup
    services.sign_up(shift.id, c.id, "web")
    db.session.commit()

    result = services.cancel(waiting.id)
    db.session.commit()

    assert result.promoted == []
    assert db.session.get(Shift, shift.id).filled == 1
    assert services.waitlist_position(services.active_signup(shift.id, c.id)) == 1


def test_second_active_signup_is_already_signed_up_and_changes_nothing(make, team):
    shift = make.shifts_of(make.event(team, capacity=3))[0]
    volunteer = make.member(team)
    services.sign_up(shift.id, volunteer.id, "web")
    db.session.commit()

    with pytest.raises(services.AlreadySignedUp) as excinfo:
        services.sign_up(shift.id, volunteer.id, "sms")
    # Committed, not rolled back: the refused attempt must have given its seat back itself
    # (an SMS handler commits the inbound text it is answering).
    db.session.commit()

    assert "已报名" in excinfo.value.message
    assert db.session.scalar(select(func.count()).select_from(Signup)) == 1
    assert db.session.get(Shift, shift.id).filled == 1


def test_sign_up_again_after_cancelling(make, team):
    shift = make.shifts_of(make.event(team))[0]
    volunteer = make.member(team)
    first = services.sign_up(shift.id, volunteer.id, "web").signup
    services.cancel(first.id)
    again = services.sign_up(shift.id, volunteer.id, "web")
    db.session.commit()
    assert again.confirmed
    assert db.session.get(Shift, shift.id).filled == 1


def test_no_sign_up_after_the_shift_started(make, team):
    shift = make.shifts_of(make.event(team))[0]
    volunteer = make.member(team)
    with pytest.raises(services.ShiftStarted):
        services.sign_up(shift.id, volunteer.id, "web", now=shift.starts_at + timedelta(minutes=1))
    with pytest.raises(services.ShiftStarted):
        services.sign_up(shift.id, volunteer.id, "web", now=shift.starts_at)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Signup)) == 0


def test_no_sign_up_for_a_cancelled_event(make, team):
    event = make.event(team)
    shift = make.shifts_of(event)[0]
    cancel_event(event.id)
    db.session.commit()
    with pytest.raises(services.EventNotOpen) as excinfo:
        services.sign_up(shift.id, make.member(team).id, "web")
    assert "取消" in excinfo.value.message


def test_no_sign_up_for_a_draft(make, team):
    shift = make.shifts_of(make.event(team, status="draft"))[0]
    with pytest.raises(services.EventNotOpen):
        services.sign_up(shift.id, make.member(team).id, "web")


def test_cancelling_an_event_cancels_every_signup_and_frees_codes(make, team):
    event = make.event(team, shifts=2, capacity=1)
    shifts = make.shifts_of(event)
    for shift in shifts:
        services.sign_up(shift.id, make.member(team).id, "web")
        services.sign_up(shift.id, make.member(team).id, "web")
    db.session.commit()

    cancel_event(event.id)
    db.session.commit()

    statuses = set(db.session.scalars(select(Signup.status)))
    assert statuses == {SignupStatus.CANCELLED}
    for shift in shifts:
        db.session.refresh(shift)
        assert shift.is_cancelled and shift.filled == 0 and not shift.code_is_current


def test_cancel_twice_is_refused(make, team):
    shift = make.shifts_of(make.event(team))[0]
    signup = services.sign_up(shift.id, make.member(team).id, "web").signup
    services.cancel(signup.id)
    db.session.commit()
    with pytest.raises(services.SignupNotActive):
        services.cancel(signup.id)
    assert db.session.get(Shift, shift.id).filled == 0


def test_raising_capacity_promotes_the_waitlist(make, team):
    from volunteer_hub.events.services import EventInput, ShiftInput, update_event

    event = make.event(team, capacity=1)
    shift = make.shifts_of(event)[0]
    people = [make.member(team) for _ in range(3)]
    for p in people:
        services.sign_up(shift.id, p.id, "web")
    db.session.commit()

    update_event(
        event.id,
        EventInput(title=event.title, category_id=event.category_id, location=event.location),
        [ShiftInput(id=shift.id, starts_at=shift.starts_at, ends_at=shift.ends_at, capacity=2)],
    )
    db.session.commit()
    assert [status for _, status in _statuses(shift.id)] == ["confirmed", "confirmed", "waitlisted"]
    assert db.session.get(Shift, shift.id).filled == 2


# -- who may be signed up: members, or anyone for an open event (公开招募) ---------------


def _counts():
    return (
        db.session.scalar(select(func.count()).select_from(Signup)),
        db.session.scalar(select(func.count()).select_from(Person)),
    )


def test_a_non_member_is_refused_a_members_only_event_and_nothing_changes(make, team):
    shift = make.shifts_of(make.event(team, capacity=1))[0]
    outsider = make.member(make.team())
    before = _counts()
    with pytest.raises(services.MembersOnly) as refused:
        services.sign_up(shift.id, outsider.id, "sms")
    assert team.name in refused.value.message
    assert refused.value.details == {"team": team.name}
    assert _counts() == before
    assert db.session.get(Shift, shift.id).filled == 0


def test_anyone_signs_themself_up_for_an_open_event(make, team):
    shift = make.shifts_of(make.event(team, open_to_all=True))[0]
    outsider = make.person()
    result = services.sign_up(shift.id, outsider.id, "sms")
    assert result.confirmed


def test_a_leader_signs_up_only_members_even_for_an_open_event(make, team):
    shift = make.shifts_of(make.event(team, open_to_all=True))[0]
    leader, member, outsider = make.leader(team), make.member(team), make.person()
    assert services.sign_up(shift.id, member.id, "leader", acted_by_id=leader.id).confirmed
    with pytest.raises(services.MembersOnly) as refused:
        services.sign_up(shift.id, outsider.id, "leader", acted_by_id=leader.id)
    assert refused.value.field == "phone"
    # Signing oneself up is not acting for someone else.
    assert services.sign_up(shift.id, leader.id, "web", acted_by_id=leader.id).confirmed


def test_an_overseer_signs_up_anyone(make, team):
    shift = make.shifts_of(make.event(team))[0]
    admin, outsider = make.admin(), make.person()
    result = services.sign_up(shift.id, outsider.id, "api", acted_by_id=admin.id, overseer=True)
    assert result.confirmed


def test_who_oversees_a_team(make):
    city = make.unit("武汉市")
    district = make.unit("汉阳区", parent=city)
    other = make.unit("武昌区", parent=city)
    team = make.team(district)
    assert services.oversees(viewer_for(make.admin()), team)
    assert services.oversees(viewer_for(make.coordinator(city)), team)
    assert services.oversees(viewer_for(make.coordinator(district)), team)
    assert not services.oversees(viewer_for(make.coordinator(other)), team)
    assert not services.oversees(viewer_for(make.leader(team)), team)


def test_person_to_sign_up_finds_members_and_creates_only_for_an_overseer(make, team):
    shift = make.shifts_of(make.event(team, open_to_all=True))[0]
    member, stranger = make.member(team), make.member(make.team())
    assert services.person_to_sign_up(shift.id, member.phone, "", overseer=False) == (
        member,
        False,
    )
    messages = set()
    for phone in (stranger.phone, "13900005555"):
        with pytest.raises(services.MembersOnly) as refused:
            services.person_to_sign_up(shift.id, phone, "新人", overseer=False)
        messages.add(refused.value.message)
    assert len(messages) == 1
    assert db.session.scalar(select(Person).where(Person.phone == "+8613900005555")) is None

    person, created = services.person_to_sign_up(shift.id, "13900005555", "新人", overseer=True)
    assert created and person.name == "新人"
    assert services.person_to_sign_up(shift.id, stranger.phone, "", overseer=True) == (
        stranger,
        False,
    )


def test_a_waitlist_place_is_counted_once_for_the_answer_and_the_text(make, team, count_queries):
    from volunteer_hub.sms.models import OutgoingSms

    shift = make.shifts_of(make.event(team, capacity=1))[0]
    first, second, third = (make.member(team) for _ in range(3))
    for person in (first, second):
        services.sign_up(shift.id, person.id, "web")
    db.session.commit()

    with count_queries() as counter:
        result = services.sign_up(shift.id, third.id, "web")
    db.session.commit()

    counts = [s for s in counter.statements if "count(" in s.lower()]
    assert len(counts) == 1, counts
    assert result.waitlist_position == 2
    text = db.session.scalar(
        select(OutgoingSms).where(OutgoingSms.dedupe_key == f"notice:placed:{result.signup.id}")
    )
    assert text.template_vars["position"] == "2"
