"""Walk-ins (现场加入): a member who came to a shift that has started is put on its roster
by the leader, then marked like everyone; a full shift grows by the seat they take. On an
event open to all, anyone who came is added by phone (registered if new)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import login
from tests.hours.page_support import HOUR, page, past_shift, record_of, tables
from tests.hours.support import viewer
from volunteer_hub.errors import DomainError, NotFound
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance, walk_ins
from volunteer_hub.hours.attendance import OutsideWindow
from volunteer_hub.people.models import Person
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


def open_to_all(shift) -> None:
    db.session.get(Event, shift.event_id).open_to_all = True
    db.session.commit()


def test_anyone_who_came_to_an_event_open_to_all_is_added_by_phone(make):
    team = make.team()
    leader = make.leader(team)
    shift, _people = past_shift(team, started_ago=1, hours=3)
    open_to_all(shift)
    registered = make.person(name="路过的老兵", phone="+8613712345678")
    db.session.commit()

    known = walk_ins.add_walk_in_by_phone(
        shift.id, "137 1234 5678", "", viewer=viewer(leader)
    )  # fmt: skip
    new = walk_ins.add_walk_in_by_phone(
        shift.id, "13712340000", "  热心市民  ", viewer=viewer(leader)
    )  # fmt: skip
    db.session.commit()

    assert known.signup.person_id == registered.id
    newcomer = db.session.get(Person, new.signup.person_id)
    assert (newcomer.name, newcomer.phone) == ("热心市民", "+8613712340000")
    for added in (known, new):
        assert (added.signup.status, added.signup.source) == (SignupStatus.CONFIRMED, "walk_in")
    assert seats(shift.id) == (4, 10)
    with pytest.raises(walk_ins.AlreadyOnShift):
        walk_ins.add_walk_in_by_phone(shift.id, "+8613712340000", "", viewer=viewer(leader))


def test_what_a_walk_in_by_phone_refuses(make):
    team = make.team()
    leader = make.leader(team)
    members_only, _people = past_shift(team, started_ago=1, hours=3)
    shift, _others = past_shift(team, started_ago=1, hours=3)
    open_to_all(shift)
    db.session.commit()
    before = (tables(), seats(shift.id), seats(members_only.id))
    cases = [
        (members_only.id, "13712340001", "某人", "该活动仅限本队队员"),
        (shift.id, "12345", "某人", "手机"),
        (shift.id, "13712340002", "", "姓名"),
    ]
    for shift_id, phone, name, words in cases:
        with pytest.raises(DomainError) as raised:
            walk_ins.add_walk_in_by_phone(shift_id, phone, name, viewer=viewer(leader))
        db.session.rollback()
        assert words in raised.value.message
    assert (tables(), seats(shift.id), seats(members_only.id)) == before


def test_the_pages_offer_a_walk_in_by_phone_only_when_open_to_all(client, make):
    team = make.team()
    leader = make.leader(team)
    shift, _people = past_shift(team, started_ago=1, hours=3)
    db.session.commit()
    login(client, leader)
    assert "walk-in-by-phone" not in page(client.get(f"/events/{shift.event_id}"))

    open_to_all(shift)
    for url in (f"/events/{shift.event_id}", f"/shifts/{shift.id}/attendance"):
        assert f'id="phone-walk-in-{shift.id}"' in page(client.get(url))
    response = client.post(
        f"/shifts/{shift.id}/walk-ins", data={"phone": "13712340003", "name": "刘热心"}
    )
    person = db.session.scalar(select(Person).where(Person.phone == "+8613712340003"))
    assert response.headers["Location"] == f"/shifts/{shift.id}/attendance#person-{person.id}"
    assert "已将 刘热心 加入名单，请登记出勤" in page(client.get(response.headers["Location"]))
    bad = client.post(f"/shifts/{shift.id}/walk-ins", data={"phone": "13712340004"})
    assert "姓名" in page(client.get(bad.headers["Location"]))
