"""My teams and the team page: members (leaders first), phones, add / edit / remove."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import login
from tests.web.conftest import page, row_counts
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.teams.models import Membership, Team


def spaced(e164: str) -> str:
    national = e164.removeprefix("+86")
    return f"{national[:3]} {national[3:7]} {national[7:]}"


def test_my_teams_lists_led_teams_with_counts(client, world, make):
    make.event(world.team_a, shifts=1)
    login(client, world.leader_a)
    html = page(client.get("/teams"))
    assert world.team_a.name in html and "凤凰街道" in html
    assert world.team_b.name not in html
    assert "2 人" in html  # leader and member
    assert "2 个" in html  # two upcoming events


def test_team_page_lists_leaders_first_with_full_phones_for_the_leader(client, world, make):
    make.member(world.team_a, name="阿明")  # sorts before 张队长 by name, still after leaders
    second_leader = make.leader(world.team_a, name="魏副队长")
    login(client, world.leader_a)
    html = page(client.get(f"/teams/{world.team_a.id}"))
    members = html[html.index('id="members"') :]
    assert members.index("张队长") < members.index("阿明")
    assert members.index("魏副队长") < members.index("阿明")
    assert members.index("魏副队长") < members.index("王建国")
    for person in (world.leader_a, world.member_a, second_leader):
        assert spaced(person.phone) in members
    assert "****" not in members


def test_team_page_shows_upcoming_events_with_fill_per_shift(client, world, make):
    from volunteer_hub.signups.services import sign_up

    event = make.event(world.team_a, shifts=2, capacity=4, title="洋澜湖净滩")
    first, _second = make.shifts_of(event)
    sign_up(first.id, world.member_a.id, "sms")
    db.session.commit()
    login(client, world.leader_a)
    html = page(client.get(f"/teams/{world.team_a.id}"))
    assert "洋澜湖净滩" in html
    assert "1/4 人" in html and "0/4 人" in html
    assert f'href="/events/{event.id}"' in html


def test_add_member(client, world):
    login(client, world.leader_a)
    response = client.post(
        f"/teams/{world.team_a.id}/members",
        data={"name": "黄继光", "phone": "139 1234 5678", "role": "member", "skills": "驾驶"},
    )
    assert response.status_code == 302
    person = db.session.scalar(select(Person).where(Person.phone == "+8613912345678"))
    assert person.name == "黄继光" and person.skills == "驾驶"
    html = page(client.get(f"/teams/{world.team_a.id}"))
    assert "已添加队员：黄继光" in html
    assert "139 1234 5678" in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "黄继光", "phone": "12345"}, "手机号码"),
        ({"name": "黄继光", "phone": ""}, "请填写手机号码"),
        ({"name": "", "phone": "13912345678"}, "请填写姓名"),
        ({"name": "黄继光", "phone": "13912345678", "role": "boss"}, "角色不正确"),
    ],
    ids=["bad phone", "no phone", "no name", "bad role"],
)
def test_invalid_member_is_a_400_and_changes_nothing(client, world, data, message):
    login(client, world.leader_a)
    before = row_counts()
    data = {"role": "member", "skills": "急救", **data}
    response = client.post(f"/teams/{world.team_a.id}/members", data=data)
    html = page(response)
    assert response.status_code == 400
    assert message in html
    assert 'aria-invalid="true"' in html
    assert 'value="急救"' in html  # what was typed stays
    assert row_counts() == before


def test_adding_an_existing_member_again_is_refused(client, world):
    login(client, world.leader_a)
    before = row_counts()
    response = client.post(
        f"/teams/{world.team_a.id}/members",
        data={"name": "", "phone": world.member_a.phone, "role": "member"},
    )
    assert response.status_code == 400
    assert "王建国 已是本队队员" in page(response)
    assert row_counts() == before


def test_edit_member(client, world):
    login(client, world.leader_a)
    url = f"/teams/{world.team_a.id}/members/{world.member_a.id}/edit"
    html = page(client.get(url))
    assert f'value="{spaced(world.member_a.phone)}"' in html
    old_phone = world.member_a.phone
    response = client.post(
        url, data={"name": "王建军", "phone": "13911112222", "role": "leader", "skills": "讲解"}
    )
    # A new phone waits for the code texted to it (tests/teams/test_phone_change.py).
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/members/{world.member_a.id}/phone")
    db.session.expire_all()
    person = db.session.get(Person, world.member_a.id)
    assert (person.name, person.phone, person.skills) == ("王建军", old_phone, "讲解")
    role = db.session.scalar(select(Membership.role).where(Membership.person_id == person.id))
    assert role == "leader"
    assert "已保存队员信息：王建军" in page(client.get(f"/teams/{world.team_a.id}"))


def test_edit_member_errors_are_a_400_and_change_nothing(client, world):
    login(client, world.leader_a)
    url = f"/teams/{world.team_a.id}/members/{world.leader_a.id}/edit"
    before = row_counts()
    cases = [
        ({"name": "张队长", "phone": "abc", "role": "leader"}, "手机号码格式不正确"),
        ({"name": "张队长", "phone": world.member_a.phone, "role": "leader"}, "另一位志愿者"),
        ({"name": "张队长", "phone": world.leader_a.phone, "role": "member"}, "至少需要一位队长"),
    ]
    for data, message in cases:
        response = client.post(url, data=data)
        assert response.status_code == 400
        assert message in page(response)
    assert row_counts() == before


def test_remove_member_and_last_leader_stays(client, world):
    login(client, world.leader_a)
    response = client.post(
        f"/teams/{world.team_a.id}/members/{world.member_a.id}/remove", follow_redirects=True
    )
    assert "已将 王建国 移出本队" in page(response)
    assert (
        db.session.scalar(select(Membership).where(Membership.person_id == world.member_a.id))
        is None
    )
    assert db.session.get(Person, world.member_a.id) is not None  # the person stays

    before = row_counts()
    response = client.post(
        f"/teams/{world.team_a.id}/members/{world.leader_a.id}/remove", follow_redirects=True
    )
    assert "服务队至少需要一位队长" in page(response)
    assert row_counts() == before


def test_team_page_lists_past_events_with_attendance_and_hours(client, make, count_queries):
    from tests.hours.page_support import past_shift
    from tests.hours.support import viewer
    from tests.web.test_query_counts import measure
    from volunteer_hub.hours import attendance, verification
    from volunteer_hub.hours.models import ServiceRecord

    team = make.team()
    leader = make.leader(team)
    team_id, leader_id, url = team.id, leader.id, f"/teams/{team.id}"

    def past_events(count: int, started_ago: float):
        shifts = []
        for i in range(count):
            shift, people = past_shift(
                db.session.get(Team, team_id), started_ago=started_ago + i * 24, people=3
            )
            attendance.mark_all_attended(shift.id, viewer=viewer(db.session.get(Person, leader_id)))
            attendance.mark_attendance(
                shift.id, people[2].id, "absent", viewer=viewer(db.session.get(Person, leader_id))
            )
            shifts.append(shift)
        db.session.commit()
        return shifts

    (latest,) = past_events(1, 3)
    records = db.session.scalars(
        select(ServiceRecord).where(ServiceRecord.shift_id == latest.id)
    ).all()
    verification.verify(
        [r.id for r in records if r.minutes][:1], viewer=viewer(db.session.get(Person, leader_id))
    )
    db.session.commit()
    login(client, leader)
    html = page(client.get(url))
    past = html.split('id="past-title"')[1]
    card = past.split(f'id="past-event-{latest.event_id}"')[1].split("</li>")[0]
    assert "到场 2 人" in card  # the third was marked absent
    assert "服务时长 4 小时" in card and "已认定 2 小时" in card
    assert "更早的活动" not in past
    few = measure(client, count_queries, url)

    past_events(24, 30)
    many = measure(client, count_queries, url)
    assert many == few
    html = page(client.get(url))
    past = html.split('id="past-title"')[1]
    assert past.count('id="past-event-') == 20
    assert f'href="/teams/{team_id}/events/past?page=2"' in past
    second = page(client.get(f"/teams/{team_id}/events/past?page=2"))
    assert second.count('id="past-event-') == 5
    assert "下一页" not in second and "上一页" in second
