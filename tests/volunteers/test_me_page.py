"""The volunteer's page: my shifts, my teams' open shifts, one-tap sign up and cancel,
the SMS switch."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.volunteers.conftest import login_texts, me_login, page
from volunteer_hub.auth.login_codes import request_code
from volunteer_hub.db import utcnow
from volunteer_hub.events.models import EventStatus, Shift
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance
from volunteer_hub.i18n import to_local
from volunteer_hub.people.models import Person
from volunteer_hub.signups.models import Signup, SignupSource, SignupStatus
from volunteer_hub.signups.services import cancel_shift, sign_up
from volunteer_hub.sms.models import ConsentChange, SmsStatus
from volunteer_hub.teams.models import Membership


def snapshot() -> tuple:
    """Enough of the database to see that nothing changed."""
    return (
        tuple(db.session.execute(select(Signup.id, Signup.status).order_by(Signup.id))),
        tuple(db.session.execute(select(Shift.id, Shift.filled).order_by(Shift.id))),
    )


@pytest.fixture
def logged_in(client, teams):
    me_login(client, teams.volunteer)
    return client


def test_anonymous_visitor_is_sent_to_the_volunteer_login(client):
    response = client.get("/me")
    assert response.status_code == 302
    assert response.headers["Location"] == "/me/login"
    assert client.post("/me/shifts/1/signup").headers["Location"] == "/me/login"


def test_page_shows_my_shifts_with_waitlist_place_and_open_shifts(logged_in, teams, make):
    first, second = make.shifts_of(teams.event_a)
    # The second shift (two seats) fills up with others, then I am second on its waitlist.
    fillers = [make.member(teams.team_a) for _ in range(3)]
    sign_up(first.id, teams.volunteer.id, "sms")
    for person in fillers:
        sign_up(second.id, person.id, "sms")
    sign_up(second.id, teams.volunteer.id, "sms")
    full_open = make.event(teams.team_a, shifts=1, capacity=1, title="红色宣讲")
    sign_up(make.shifts_of(full_open)[0].id, fillers[0].id, "sms")
    draft = make.event(teams.team_a, shifts=1, title="草稿活动", status=EventStatus.DRAFT)
    db.session.commit()

    html = page(logged_in.get("/me"))
    mine = html.split('id="my-shifts"')[1].split('id="open-shifts"')[0]
    open_part = html.split('id="open-shifts"')[1].split('id="sms"')[0]

    assert mine.count('class="me-card"') == 2
    assert "已报名" in mine and "候补第 2 位" in mine
    assert first.code in mine and second.code in mine
    assert "凤凰小学门口" in mine
    local = to_local(first.starts_at)
    assert f"{local.month}月{local.day}日" in mine and f"{local:%H:%M}" in mine
    # A seat is cancelled and goes in the calendar; a waiting place is only left.
    seat, waiting = mine.split('class="me-card"')[1:]
    assert "取消报名" in seat and "加入手机日历" in seat
    assert "退出候补" in waiting
    assert "取消报名" not in waiting and "加入手机日历" not in waiting

    assert "红色宣讲" in open_part and "名额已满，可以候补" in open_part
    assert re.search(r">\s*候补\s*</button>", open_part)
    assert "护苗护学" not in open_part  # both its shifts are mine already
    assert "长江巡堤" not in html  # another team's event
    assert "草稿活动" not in html and make.shifts_of(draft)[0].code not in html

    # My own number in full; nobody else's number at all.
    assert "138 0013 8000" in html
    for person in [*fillers, teams.other, teams.leader_a]:
        assert person.phone[3:] not in html


def test_open_shift_shows_seats_left_and_one_tap_sign_up(logged_in, teams, make):
    first, _second = make.shifts_of(teams.event_a)
    sign_up(first.id, teams.other.id, "sms")
    db.session.commit()
    html = page(logged_in.get("/me"))
    card = html.split(f'id="shift-{first.id}"')[1].split("</li>")[0]
    assert "还剩 1 个名额" in card and re.search(r">\s*报名\s*</button>", card)

    response = logged_in.post(f"/me/shifts/{first.id}/signup")
    assert response.status_code == 302
    assert "报名成功" in page(logged_in.get("/me"))
    signup = db.session.scalar(
        select(Signup).where(Signup.shift_id == first.id, Signup.person_id == teams.volunteer.id)
    )
    assert (signup.status, signup.source) == (SignupStatus.CONFIRMED, SignupSource.WEB)

    # The shift is full now: the next one to tap goes on the waitlist and is told where.
    outsider = make.member(teams.team_a)
    client2 = logged_in.application.test_client()
    me_login(client2, outsider)
    client2.post(f"/me/shifts/{first.id}/signup")
    assert "候补第 1 位" in page(client2.get("/me"))


def test_sign_up_errors_are_flashed_in_chinese_and_change_nothing(logged_in, teams, make):
    first, second = make.shifts_of(teams.event_a)
    sign_up(first.id, teams.volunteer.id, "sms")
    db.session.commit()
    before = snapshot()
    logged_in.post(f"/me/shifts/{first.id}/signup")
    assert "您已报名该班次" in page(logged_in.get("/me"))
    assert snapshot() == before

    # Started: the shift began an hour ago.
    db.session.execute(
        update(Shift).where(Shift.id == second.id).values(starts_at=utcnow() - timedelta(hours=1))
    )
    db.session.commit()
    before = snapshot()
    logged_in.post(f"/me/shifts/{second.id}/signup")
    assert "已经开始" in page(logged_in.get("/me"))
    assert snapshot() == before

    later = make.shifts_of(make.event(teams.team_a, shifts=1, title="走访慰问"))[0]
    cancel_shift(later.id)
    db.session.commit()
    before = snapshot()
    logged_in.post(f"/me/shifts/{later.id}/signup")
    assert "该活动已取消" in page(logged_in.get("/me"))
    assert snapshot() == before


def test_other_teams_shifts_and_signups_are_not_found(logged_in, teams, make):
    shift_b = make.shifts_of(teams.event_b)[0]
    draft = make.event(teams.team_a, shifts=1, status=EventStatus.DRAFT)
    someone_b = make.member(teams.team_b)
    signup_b = sign_up(shift_b.id, someone_b.id, "sms").signup
    mine_a = sign_up(make.shifts_of(teams.event_a)[0].id, teams.other.id, "sms").signup
    db.session.commit()
    before = snapshot()
    for url in (
        f"/me/shifts/{shift_b.id}/signup",
        f"/me/shifts/{make.shifts_of(draft)[0].id}/signup",
        "/me/shifts/999999/signup",
        f"/me/signups/{signup_b.id}/cancel",
        f"/me/signups/{mine_a.id}/cancel",  # a teammate's signup is theirs, not mine
        "/me/signups/999999/cancel",
    ):
        assert logged_in.post(url).status_code == 404, url
    assert snapshot() == before


def test_an_open_event_of_another_team_takes_me_as_a_text_would(logged_in, teams, make):
    """公开招募: the rule of every channel; a members-only one of that team stays 404."""
    flood = make.event(teams.team_b, shifts=1, title="防汛值守", open_to_all=True)
    (shift,) = make.shifts_of(flood)
    response = logged_in.post(f"/me/shifts/{shift.id}/signup")
    assert response.status_code == 302
    assert "报名成功" in page(logged_in.get("/me"))
    signup = db.session.scalar(select(Signup).where(Signup.shift_id == shift.id))
    assert (signup.person_id, signup.status, signup.source) == (
        teams.volunteer.id,
        SignupStatus.CONFIRMED,
        SignupSource.WEB,
    )


def test_cancel_frees_the_seat_for_the_first_on_the_waitlist(logged_in, teams, make):
    first, _ = make.shifts_of(teams.event_a)
    mine = sign_up(first.id, teams.volunteer.id, "sms").signup
    sign_up(first.id, teams.other.id, "sms")
    waiting = make.member(teams.team_a)
    waiting_signup = sign_up(first.id, waiting.id, "sms").signup
    db.session.commit()

    response = logged_in.post(f"/me/signups/{mine.id}/cancel")
    assert response.status_code == 302
    assert "已取消报名" in page(logged_in.get("/me"))
    db.session.expire_all()
    assert db.session.get(Signup, mine.id).status == SignupStatus.CANCELLED
    assert db.session.get(Signup, waiting_signup.id).status == SignupStatus.CONFIRMED

    before = snapshot()
    logged_in.post(f"/me/signups/{mine.id}/cancel")
    assert "该报名已取消" in page(logged_in.get("/me"))
    assert snapshot() == before


def test_a_volunteer_who_checked_in_cannot_cancel_and_is_told_to_check_out(logged_in, teams, make):
    first, _ = make.shifts_of(teams.event_a)
    mine = sign_up(first.id, teams.volunteer.id, "sms").signup
    sign_up(first.id, teams.other.id, "sms")
    waiting = make.member(teams.team_a)
    waiting_signup = sign_up(first.id, waiting.id, "sms").signup
    attendance.check_in(first.id, teams.volunteer.id, now=first.starts_at)
    db.session.commit()
    before = snapshot()

    response = logged_in.post(f"/me/signups/{mine.id}/cancel")

    assert response.status_code == 302
    assert "您已签到，不能取消报名" in page(logged_in.get("/me"))
    assert snapshot() == before
    db.session.expire_all()
    assert db.session.get(Signup, mine.id).status == SignupStatus.CONFIRMED
    assert db.session.get(Signup, waiting_signup.id).status == SignupStatus.WAITLISTED


def test_sms_switch_records_consent_and_stops_texts(logged_in, client, teams):
    volunteer_id = teams.volunteer.id
    # A text still waiting in the outbox (another code, not yet handed to a worker).
    request_code(teams.volunteer.phone)
    db.session.commit()
    other_device = client.application.test_client()
    pending = login_texts(volunteer_id)[-1]
    assert pending.status == SmsStatus.QUEUED

    assert logged_in.post("/me/sms/off").status_code == 302
    html = page(logged_in.get("/me"))
    assert "已关闭短信通知" in html and "打开短信通知" in html
    db.session.expire_all()
    change = db.session.scalar(select(ConsentChange).where(ConsentChange.person_id == volunteer_id))
    assert (change.opted_in, change.channel) == (False, "web")
    assert db.session.get(Person, volunteer_id).sms_opted_out_at is not None
    assert db.session.get(type(pending), pending.id).status == SmsStatus.CANCELLED

    texts_before = len(login_texts(volunteer_id))
    response = other_device.post("/me/login", data={"phone": teams.volunteer.phone})
    assert "订阅" in page(response)
    assert len(login_texts(volunteer_id)) == texts_before

    assert logged_in.post("/me/sms/on").status_code == 302
    changes = list(
        db.session.execute(
            select(ConsentChange.opted_in, ConsentChange.channel)
            .where(ConsentChange.person_id == volunteer_id)
            .order_by(ConsentChange.id)
        )
    )
    assert changes == [(False, "web"), (True, "web")]
    assert other_device.post("/me/login", data={"phone": teams.volunteer.phone}).status_code == 302
    assert len(login_texts(volunteer_id)) == texts_before + 1


def test_logout_ends_the_session(logged_in):
    assert logged_in.get("/me/logout").status_code == 405
    response = logged_in.post("/me/logout")
    assert response.headers["Location"] == "/me/login"
    assert logged_in.get("/me").status_code == 302


def _more_teams_with_shifts(make, teams, count: int) -> None:
    """``count`` more teams of mine, each with an event of two one-seat shifts: one I am
    on (every third time on the waitlist, behind a teammate), one open."""
    for i in range(count):
        team = make.team()
        db.session.add(Membership(team_id=team.id, person_id=teams.volunteer.id))
        db.session.add(Membership(team_id=team.id, person_id=teams.other.id))
        db.session.commit()
        mine, _open = make.shifts_of(make.event(team, shifts=2, capacity=1, title=f"活动{i}"))
        if i % 3 == 0:
            sign_up(mine.id, teams.other.id, "sms")
        sign_up(mine.id, teams.volunteer.id, "sms")
    db.session.commit()


def test_page_queries_do_not_grow_with_shifts_and_teams(logged_in, teams, make, count_queries):
    _more_teams_with_shifts(make, teams, 3)
    with count_queries() as few:
        html = page(logged_in.get("/me"))
    assert html.count("取消报名") + html.count("退出候补") == 3
    assert html.count("候补第 1 位") == 1

    _more_teams_with_shifts(make, teams, 27)
    with count_queries() as many:
        html = page(logged_in.get("/me"))
    assert html.count("取消报名") + html.count("退出候补") == 30
    assert html.count("候补第 1 位") == 10
    assert many.count == few.count, many.statements
    assert few.count <= 5, few.statements  # user, viewer, my shifts, open shifts, invitations
