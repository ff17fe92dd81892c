"""Walk-ins (现场加入): a member who came to a shift that has started is put on its roster
by the leader, then marked like everyone; a full shift grows by the seat they take."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import login
from tests.hours.page_support import HOUR, page, past_shift, record_of, tables
from tests.hours.support import viewer
from volunteer_hub.errors import DomainError, NotFound
from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance, walk_ins
from volunteer_hub.hours.attendance import OutsideWindow
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import Signup, SignupSource, SignupStatus
from volunteer_hub.sms.models import OutgoingSms


def seats(shift_id: int) -> tuple[int, int]:
    db.session.expire_all()
    shift = db.session.get(Shift, shift_id)
    return shift.filled, shift.capacity


def texts() -> int:
    return db.session.scalar(select(func.count()).select_from(OutgoingSms))


def full_running_shift(make, team):
    """A one-seat shift that started an hour ago, its seat taken, one person waitlisted."""
    shift, (seated,) = past_shift(team, started_ago=1, hours=3, people=1)
    shift.capacity = 1
    waiting = make.member(team)
    signups.sign_up(shift.id, waiting.id, SignupSource.WEB, now=shift.starts_at - 24 * HOUR)
    db.session.commit()
    return shift, seated, waiting


def test_a_walk_in_takes_a_free_seat_and_is_marked_as_usual(make):
    team = make.team()
    leader = make.leader(team)
    shift, _people = past_shift(team, started_ago=1, hours=3)
    newcomer = make.member(team)
    db.session.commit()
    sent_before = texts()

    added = walk_ins.add_walk_in(shift.id, newcomer.id, viewer=viewer(leader))
    db.session.commit()

    assert (added.signup.status, added.signup.source) == (SignupStatus.CONFIRMED, "walk_in")
    assert added.signup.acted_by_id == leader.id and not added.seat_added
    assert seats(shift.id) == (3, 10)
    assert texts() == sent_before  # they are standing at the shift: no sign-up text
    record = attendance.mark_attendance(shift.id, newcomer.id, "present", viewer=viewer(leader))
    db.session.commit()
    assert record_of(newcomer.id).minutes == 180 and record.shift_id == shift.id


def test_a_walk_in_on_a_full_shift_adds_the_seat(make):
    team = make.team()
    leader = make.leader(team)
    shift, _seated, _waiting = full_running_shift(make, team)
    newcomer = make.member(team)
    db.session.commit()

    added = walk_ins.add_walk_in(shift.id, newcomer.id, viewer=viewer(leader))
    db.session.commit()

    assert added.seat_added
    assert seats(shift.id) == (2, 2)


def test_someone_waitlisted_who_came_gets_the_seat(make):
    team = make.team()
    leader = make.leader(team)
    shift, _seated, waiting = full_running_shift(make, team)

    added = walk_ins.add_walk_in(shift.id, waiting.id, viewer=viewer(leader))
    db.session.commit()

    assert added.signup.status == SignupStatus.CONFIRMED and added.seat_added
    assert added.signup.source == SignupSource.WEB  # how they signed up stays true
    assert seats(shift.id) == (2, 2)
    active = db.session.scalar(
        select(func.count()).where(Signup.shift_id == shift.id, Signup.person_id == waiting.id)
    )
    assert active == 1


def test_what_a_walk_in_refuses(make):
    team = make.team()
    leader = make.leader(team)
    shift, (confirmed, _other) = past_shift(team, started_ago=1, hours=3)
    outsider = make.person()
    later = make.shifts_of(make.event(team))[0]
    newcomer = make.member(team)
    db.session.commit()
    before = (tables(), seats(shift.id))
    cases = [
        (shift.id, confirmed.id, leader, walk_ins.AlreadyOnShift, "请直接登记出勤"),
        (shift.id, outsider.id, leader, DomainError, "请从名单中选择本队队员"),
        (later.id, newcomer.id, leader, OutsideWindow, "代队员报名"),
        (shift.id, newcomer.id, make.leader(make.team()), NotFound, "班次不存在"),
    ]
    for shift_id, person_id, who, error, words in cases:
        with pytest.raises(error) as raised:
            walk_ins.add_walk_in(shift_id, person_id, viewer=viewer(who))
        db.session.rollback()
        assert words in raised.value.message
    assert (tables(), seats(shift.id)) == before


def test_the_pages_offer_walk_ins_once_the_shift_has_started(client, make):
    team = make.team()
    leader = make.leader(team)
    shift, _people = past_shift(team, started_ago=1, hours=3)
    newcomer = make.member(team, name="周大勇")
    db.session.commit()
    login(client, leader)

    event_page = page(client.get(f"/events/{shift.event_id}"))
    assert "代队员报名" not in event_page and "登记现场人员" in event_page
    assert f'action="/shifts/{shift.id}/walk-ins"' in event_page
    assert f'<option value="{newcomer.id}">周大勇</option>' in event_page

    response = client.post(f"/shifts/{shift.id}/walk-ins", data={"person_id": newcomer.id})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/shifts/{shift.id}/attendance#person-{newcomer.id}"
    roster = page(client.get(f"/shifts/{shift.id}/attendance"))
    assert "已将 周大勇 加入名单，请登记出勤" in roster
    assert f'id="person-{newcomer.id}"' in roster
    assert f'<option value="{newcomer.id}">' not in roster  # on the roster now
    assert "现场加入" in page(client.get(f"/events/{shift.event_id}"))

    again = client.post(f"/shifts/{shift.id}/walk-ins", data={"person_id": newcomer.id})
    assert "周大勇 已在该班次的名单中" in page(client.get(again.headers["Location"]))
    bad = client.post(f"/shifts/{shift.id}/walk-ins", data={"person_id": "x"})
    assert "请从名单中选择本队队员" in page(client.get(bad.headers["Location"]))


def test_before_the_start_the_event_page_still_signs_up(client, make):
    team = make.team()
    leader = make.leader(team)
    event = make.event(team)
    make.member(team)
    db.session.commit()
    login(client, leader)
    html = page(client.get(f"/events/{event.id}"))
    assert "代队员报名" in html and "登记现场人员" not in html
