"""Notices: the texts a change sends on its own, written in the change's own transaction.

Each kind is driven through the real channels (the leader web and the API through the
test client, the volunteer web and SMS through their services); the SMS channel gets its
confirmation as the webhook's reply, never a second text.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import login
from volunteer_hub.broker import queue_depth
from volunteer_hub.events import services as events
from volunteer_hub.events.models import Event
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import Signup, SignupSource
from volunteer_hub.sms import replies
from volunteer_hub.sms import services as outbox
from volunteer_hub.sms.inbound import handle_inbound
from volunteer_hub.sms.models import OutgoingSms, SmsKind, SmsStatus
from volunteer_hub.sms.templates import Rendered, format_time


def notices(person=None) -> list[OutgoingSms]:
    query = select(OutgoingSms).where(OutgoingSms.kind == SmsKind.NOTICE).order_by(OutgoingSms.id)
    if person is not None:
        query = query.where(OutgoingSms.person_id == person.id)
    return list(db.session.scalars(query))


def body_of(app, text: Rendered) -> str:
    return app.config["SMS_SIGNATURE"] + text.text


def api_headers(make, person) -> dict[str, str]:
    return {"Authorization": f"Bearer {make.api_token(person)}"}


@pytest.fixture
def team(make):
    return make.team()


@pytest.fixture
def leader(make, team):
    return make.leader(team)


def whole_hour(make):
    # The leader's form carries minutes only: start on the hour, so saving it moves nothing.
    return make.future(48).replace(minute=0, second=0)


def one_shift(make, team, **kwargs):
    kwargs.setdefault("starts_at", whole_hour(make))
    event = make.event(team, **kwargs)
    return event, make.shifts_of(event)[0]


def named(event, shift):
    """What a sign-up text names: the event, its team, time, place and code."""
    return {
        "title": event.title,
        "team": event.team.name,
        "starts_at": shift.starts_at,
        "location": event.location,
        "code": shift.code,
    }


# -- sign-up confirmations -------------------------------------------------------------


def test_leader_signup_on_the_web_is_confirmed_by_text(app, client, make, team, leader, broker):
    event, shift = one_shift(make, team)
    member = make.member(team)
    login(client, leader)

    response = client.post(f"/shifts/{shift.id}/signups", data={"person_id": str(member.id)})

    assert response.status_code == 302
    signup = db.session.scalar(select(Signup).where(Signup.person_id == member.id))
    [notice] = notices()
    assert notice.person_id == member.id and notice.to_phone == member.phone
    assert notice.signup_id == signup.id
    assert notice.dedupe_key == f"notice:placed:{signup.id}"
    confirmed = replies.signup_confirmed(**named(event, shift))
    assert notice.body == body_of(app, confirmed)
    assert (notice.template_key, notice.template_vars) == ("signup_confirmed", confirmed.variables)
    assert "报名成功" in notice.body and shift.code in notice.body
    # signed up by someone else, the member learns which team and which place
    assert team.name in notice.body and event.location in notice.body
    assert queue_depth(broker, "sms") == 1  # sent to the worker once committed


def test_api_signup_on_a_full_shift_tells_the_waitlist_position(app, client, make, team, leader):
    event, shift = one_shift(make, team, capacity=1)
    first, second, third = (make.member(team) for _ in range(3))
    headers = api_headers(make, leader)
    for person in (first, second, third):
        response = client.post(
            f"/api/v1/shifts/{shift.id}/signups", json={"phone": person.phone}, headers=headers
        )
        assert response.status_code == 201

    assert "报名成功" in notices(first)[0].body
    assert notices(second)[0].body == body_of(
        app,
        replies.signup_waitlisted(**named(event, shift), position=1),
    )
    assert "候补第2位" in notices(third)[0].body


def test_volunteer_signup_on_the_me_page_is_confirmed_by_text(app, client, make, team):
    from tests.volunteers.conftest import me_login

    event, shift = one_shift(make, team)
    member = make.member(team)
    me_login(client, member)

    assert client.post(f"/me/shifts/{shift.id}/signup").status_code == 302

    signup = db.session.scalar(select(Signup).where(Signup.person_id == member.id))
    assert signup.source == SignupSource.WEB
    [notice] = notices(member)
    assert notice.dedupe_key == f"notice:placed:{signup.id}"
    assert notice.body == body_of(app, replies.signup_confirmed(**named(event, shift)))


def test_sms_signup_gets_the_reply_and_no_second_text(app, make, team):
    event, shift = one_shift(make, team)
    member = make.member(team)

    result = handle_inbound(
        message_sid="SM-notice-1",
        from_phone=member.phone,
        to_phone="+10000",
        body=f"报名 {shift.code}",
    )
    db.session.commit()

    # the web's confirmation and the SMS reply are the same words
    assert result.reply == body_of(app, replies.signup_confirmed(**named(event, shift)))
    assert notices() == []
    kinds = db.session.scalars(select(OutgoingSms.kind)).all()
    assert kinds == [SmsKind.REPLY]


def test_a_rolled_back_signup_leaves_no_notice(make, team, broker):
    _event, shift = one_shift(make, team)
    member = make.member(team)

    signups.sign_up(shift.id, member.id, SignupSource.LEADER)
    assert len(notices()) == 1  # written inside the transaction …
    db.session.rollback()

    assert notices() == []  # … and gone with it
    db.session.commit()
    assert queue_depth(broker, "sms") == 0


def test_opted_out_person_gets_no_notice(client, make, team, leader):
    event, shift = one_shift(make, team)
    member = make.member(team)
    outbox.opt_out(member.id, channel="sms", keyword="TD")
    db.session.commit()
    login(client, leader)

    client.post(f"/shifts/{shift.id}/signups", data={"person_id": str(member.id)})
    events.cancel_event(event.id, "暴雨")
    db.session.commit()

    assert db.session.scalar(select(func.count()).select_from(Signup)) == 1
    assert notices(member) == []


# -- promotion -------------------------------------------------------------------------


def promoted_setup(make, team, source=SignupSource.SMS):
    event, shift = one_shift(make, team, capacity=1)
    seated, waiting = make.member(team), make.member(team)
    seated_signup = signups.sign_up(shift.id, seated.id, source).signup
    waiting_signup = signups.sign_up(shift.id, waiting.id, source).signup
    db.session.commit()
    return event, shift, seated, seated_signup, waiting, waiting_signup


def assert_promoted(app, event, shift, person, signup):
    [notice] = [n for n in notices(person) if n.dedupe_key.startswith("notice:promoted:")]
    assert notice.dedupe_key == f"notice:promoted:{signup.id}"
    assert notice.signup_id == signup.id
    assert notice.body == body_of(
        app,
        replies.waitlist_promoted(**named(event, shift)),
    )
    assert "您已从候补转为正式报名" in notice.body


def test_promotion_when_a_leader_cancels_on_the_web(app, client, make, team, leader):
    event, shift, _seated, seated_signup, waiting, waiting_signup = promoted_setup(make, team)
    login(client, leader)

    assert client.post(f"/signups/{seated_signup.id}/cancel").status_code == 302

    assert_promoted(app, event, shift, waiting, waiting_signup)


def test_promotion_when_the_api_deletes_a_signup(app, client, make, team, leader):
    event, shift, _seated, seated_signup, waiting, waiting_signup = promoted_setup(make, team)

    response = client.delete(
        f"/api/v1/signups/{seated_signup.id}", headers=api_headers(make, leader)
    )

    assert response.status_code in (200, 204)
    assert_promoted(app, event, shift, waiting, waiting_signup)


def test_promotion_when_someone_cancels_by_text(app, make, team):
    event, shift, seated, _seated_signup, waiting, waiting_signup = promoted_setup(make, team)

    handle_inbound(
        message_sid="SM-notice-2",
        from_phone=seated.phone,
        to_phone="+10000",
        body=f"取消 {shift.code}",
    )
    db.session.commit()

    assert_promoted(app, event, shift, waiting, waiting_signup)
    assert notices(seated) == []  # their own cancellation is answered by the reply


def test_promotion_when_the_leader_adds_seats(app, client, make, team, leader):
    from tests.web.conftest import event_form
    from volunteer_hub.i18n import to_local

    event, shift, _seated, _signup, waiting, waiting_signup = promoted_setup(make, team)
    start, end = to_local(shift.starts_at), to_local(shift.ends_at)
    login(client, leader)

    response = client.post(
        f"/events/{event.id}/edit",
        data=event_form(
            [(start.date(), f"{start:%H:%M}", f"{end:%H:%M}", 2, shift.title, shift.id)],
            title=event.title,
            location=event.location,
        ),
    )

    assert response.status_code == 302
    assert_promoted(app, event, shift, waiting, waiting_signup)
    # Neither time nor place changed: no change notice.
    assert not any(n.dedupe_key.startswith("notice:changed:") for n in notices())


# -- cancellation by the organizer -----------------------------------------------------


def test_cancelling_the_event_on_the_web_tells_everyone_it_ended(app, client, make, team, leader):
    event = make.event(team, shifts=2, capacity=1)
    first, second = make.shifts_of(event)
    a, b, c = (make.member(team) for _ in range(3))
    ended = [
        signups.sign_up(first.id, a.id, SignupSource.SMS).signup,
        signups.sign_up(first.id, b.id, SignupSource.SMS).signup,  # waitlisted
        signups.sign_up(second.id, c.id, SignupSource.SMS).signup,
    ]
    db.session.commit()
    login(client, leader)

    assert client.post(f"/events/{event.id}/cancel", data={"reason": "台风"}).status_code == 302

    rows = notices()
    assert sorted(n.dedupe_key for n in rows) == sorted(f"notice:cancelled:{s.id}" for s in ended)
    by_person = {n.person_id: n for n in rows}
    assert by_person[a.id].body == body_of(
        app,
        replies.organizer_cancelled(
            title=event.title,
            starts_at=first.starts_at,
            code=first.code,
            whole_event=True,
            reason="台风",
        ),
    )
    assert "原因：台风" in by_person[a.id].body  # the leader's words reach the volunteers
    assert "活动取消" in by_person[c.id].body
    assert format_time(second.starts_at) in by_person[c.id].body
    assert all(n.signup_id in {s.id for s in ended} for n in rows)


def test_removing_a_shift_tells_its_people_the_shift_went(app, client, make, team, leader):
    from tests.web.conftest import event_form
    from volunteer_hub.i18n import to_local

    event = make.event(team, shifts=2, starts_at=whole_hour(make))
    first, second = make.shifts_of(event)
    on_first, on_second = make.member(team), make.member(team)
    signups.sign_up(first.id, on_first.id, SignupSource.SMS)
    signups.sign_up(second.id, on_second.id, SignupSource.SMS)
    db.session.commit()
    start, end = to_local(first.starts_at), to_local(first.ends_at)
    login(client, leader)

    response = client.post(
        f"/events/{event.id}/edit",
        data=event_form(
            [(start.date(), f"{start:%H:%M}", f"{end:%H:%M}", 10, first.title, first.id)],
            title=event.title,
            location=event.location,
        ),
    )

    assert response.status_code == 302
    assert notices(on_first) == []
    [notice] = notices(on_second)
    assert "班次取消" in notice.body and second.code in notice.body


def test_api_cancel_tells_everyone(client, make, team, leader):
    event, shift = one_shift(make, team)
    people = [make.member(team) for _ in range(3)]
    for person in people:
        signups.sign_up(shift.id, person.id, SignupSource.SMS)
    db.session.commit()

    response = client.post(
        f"/api/v1/events/{event.id}/cancel",
        json={"reason": "台风预警"},
        headers=api_headers(make, leader),
    )

    assert response.status_code == 200
    assert {n.person_id for n in notices()} == {p.id for p in people}


def _many_signups(make, team, count: int) -> Event:
    event, shift = one_shift(make, team, capacity=count, open_to_all=True)
    people = [Person(name=f"队员{i}", phone=f"+86137{team.id:04d}{i:04d}") for i in range(count)]
    db.session.add_all(people)
    db.session.flush()
    for person in people:
        signups.sign_up(shift.id, person.id, SignupSource.SMS)
    db.session.commit()
    return event


def test_cancelling_a_big_event_costs_the_same_queries_as_a_small_one(make, count_queries):
    small = _many_signups(make, make.team(), 10)
    large = _many_signups(make, make.team(), 200)
    measured = {}
    for event in (small, large):
        db.session.expire_all()
        with count_queries() as counter:
            events.cancel_event(event.id, "汛情")
            db.session.commit()
        measured[event.id] = counter.count

    print("cancel_event queries", measured)
    assert measured[small.id] == measured[large.id], measured
    assert measured[large.id] <= 15, measured
    assert len(notices()) == 210


# -- time or place changed -------------------------------------------------------------


def test_a_new_place_tells_every_active_signup_of_the_event(app, client, make, team, leader):
    event = make.event(team, shifts=2, capacity=1)
    first, second = make.shifts_of(event)
    a, b, c, gone = (make.member(team) for _ in range(4))
    for shift, person in ((first, a), (first, b), (second, c), (second, gone)):
        signups.sign_up(shift.id, person.id, SignupSource.SMS)
    signups.cancel(signups.active_signup(second.id, gone.id).id)  # c moves up, gone is out
    db.session.commit()
    outbox_before = {n.id for n in notices()}

    response = client.patch(
        f"/api/v1/events/{event.id}",
        json={"location": "华容区江堤3号闸口"},
        headers=api_headers(make, leader),
    )

    assert response.status_code == 200
    changed = [n for n in notices() if n.id not in outbox_before]
    assert {n.person_id for n in changed} == {a.id, b.id, c.id}  # the waitlisted b too
    revision = db.session.get(Event, event.id).revision
    assert {n.dedupe_key for n in changed} == {
        f"notice:changed:{signups.active_signup(s.id, p.id).id}:r{revision}"
        for s, p in ((first, a), (first, b), (second, c))
    }
    by_person = {n.person_id: n for n in changed}
    assert by_person[a.id].body == body_of(
        app, replies.event_changed(title=event.title, code=first.code, location="华容区江堤3号闸口")
    )
    assert "地点改为华容区江堤3号闸口" in by_person[c.id].body


def test_a_moved_shift_tells_only_its_people_the_new_time(app, client, make, team, leader):
    from tests.web.conftest import event_form
    from volunteer_hub.i18n import to_local

    event = make.event(team, shifts=2, starts_at=whole_hour(make))
    first, second = make.shifts_of(event)
    on_first, on_second = make.member(team), make.member(team)
    signups.sign_up(first.id, on_first.id, SignupSource.SMS)
    signups.sign_up(second.id, on_second.id, SignupSource.SMS)
    db.session.commit()
    login(client, leader)
    later = to_local(first.starts_at + timedelta(days=1))

    def post(start_hour: str):
        rows = [
            (later.date(), start_hour, "23:30", 10, first.title, first.id),
            *[
                (
                    to_local(s.starts_at).date(),
                    f"{to_local(s.starts_at):%H:%M}",
                    f"{to_local(s.ends_at):%H:%M}",
                    10,
                    s.title,
                    s.id,
                )
                for s in (second,)
            ],
        ]
        data = event_form(rows, title=event.title, location=event.location)
        return client.post(f"/events/{event.id}/edit", data=data)

    assert post("20:00").status_code == 302
    assert post("20:00").status_code == 302  # saved again unchanged: no second text
    assert post("21:00").status_code == 302  # moved again: told again

    assert notices(on_second) == []
    moved = notices(on_first)
    assert len(moved) == 2
    assert "时间改为" in moved[0].body and ":r1" in moved[0].dedupe_key
    assert f"{later.month}月{later.day}日 20:00–23:30" in moved[0].body
    assert f"{later.month}月{later.day}日 21:00–23:30" in moved[1].body
    assert moved[1].dedupe_key.endswith(":r3")
    assert f"取消 {first.code}" in moved[0].body


def test_changes_to_a_draft_tell_nobody(make, team):
    from volunteer_hub.events.services import EventInput, ShiftInput

    event = make.event(team, status="draft")
    shift = make.shifts_of(event)[0]
    moved = shift.starts_at + timedelta(hours=1)

    events.update_event(
        event.id,
        EventInput(
            title=event.title, category_id=event.category_id, location="新地点", status="draft"
        ),
        [ShiftInput(id=shift.id, starts_at=moved, ends_at=moved + timedelta(hours=2), capacity=5)],
    )
    db.session.commit()

    assert db.session.get(Event, event.id).location == "新地点"
    assert notices() == []


def test_a_notice_reaches_the_provider_through_the_worker(make, team, broker, worker, provider):
    _event, shift = one_shift(make, team)
    member = make.member(team)
    signups.sign_up(shift.id, member.id, SignupSource.LEADER)
    db.session.commit()

    broker.join("sms")
    worker.join()

    assert [to for to, _body in provider.sent] == [member.phone]
    [notice] = notices(member)
    db.session.refresh(notice)
    assert notice.status == SmsStatus.SENT
