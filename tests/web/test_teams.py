"""My teams and the team page: members (leaders first), phones, add / edit / remove."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import login
from tests.web.conftest import page, row_counts
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.teams.models import Membership


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
