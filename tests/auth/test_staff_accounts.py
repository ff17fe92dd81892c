"""Staff accounts from the web: who may make, switch off and reset which account."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.auth.conftest import temporary_password_in
from tests.conftest import login
from tests.factories import PASSWORD
from volunteer_hub.audit.models import AuditEntry
from volunteer_hub.audit.services import entries_about
from volunteer_hub.auth.models import ApiToken
from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.auth.services import authenticate
from volunteer_hub.calendar.services import create_feed
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.teams.models import MemberRole, Membership


def counts() -> tuple[int, int, int]:
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (Person, Membership, AuditEntry)
    )


def new_leader(client, team_ids, phone="13912345678", name="赵队长"):
    return client.post(
        "/staff/new",
        data={"name": name, "phone": phone, "role": "leader", "team_ids": team_ids},
    )


def test_coordinator_makes_a_leader_of_a_team_below_with_a_temporary_password(client, world):
    login(client, world.coordinator_a)
    response = new_leader(client, [world.team_a.id])
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    temporary = temporary_password_in(html)
    assert "赵队长" in html and "只显示这一次" in html

    person = db.session.scalar(select(Person).where(Person.phone == "+8613912345678"))
    assert person.name == "赵队长" and person.must_set_password
    assert person.password_hash.startswith("scrypt:") and temporary not in person.password_hash
    role = db.session.scalar(
        select(Membership.role).where(
            Membership.person_id == person.id, Membership.team_id == world.team_a.id
        )
    )
    assert role == MemberRole.LEADER
    (entry,) = entries_about("person", person.id)
    assert entry.actor_id == world.coordinator_a.id
    assert entry.action == "account.created"
    assert entry.details == {"role": "leader", "team_ids": [world.team_a.id], "unit_id": None}
    assert temporary not in str(entry.details)
    # The list shows the new account, waiting for its own password.
    listing = client.get("/staff").get_data(as_text=True)
    assert "赵队长" in listing and "待设置密码" in listing


@pytest.mark.parametrize("where", ["other_team", "unknown"])
def test_coordinator_cannot_appoint_a_leader_outside_their_subtree(client, world, where):
    team_id = world.team_b.id if where == "other_team" else 999_999
    login(client, world.coordinator_a)
    before = counts()
    response = new_leader(client, [world.team_a.id, team_id])
    assert response.status_code == 400
    assert "请选择队长所在的服务队" in response.get_data(as_text=True)
    assert counts() == before


def test_coordinator_appoints_coordinators_strictly_below_their_unit(client, world):
    login(client, world.coordinator_a)

    def appoint(unit_id, phone):
        return client.post(
            "/staff/new",
            data={"name": "新协调员", "phone": phone, "role": "coordinator", "unit_id": unit_id},
        )

    before = counts()
    for unit in (world.district_a, world.district_b, world.city):
        response = appoint(unit.id, "13912340001")
        assert response.status_code == 400
        assert "须在您的管辖范围以下" in response.get_data(as_text=True)
    assert counts() == before
    assert appoint(world.street_a.id, "13912340001").status_code == 200
    person = db.session.scalar(select(Person).where(Person.phone == "+8613912340001"))
    assert person.coordinator_unit_id == world.street_a.id and person.must_set_password


def test_admin_appoints_anywhere(client, world):
    login(client, world.admin)
    assert new_leader(client, [world.team_b.id]).status_code == 200
    response = client.post(
        "/staff/new",
        data={"name": "市协调员", "phone": "13912340002", "role": "coordinator", "unit_id": 0},
    )
    assert response.status_code == 400  # a unit is needed, in Chinese
    assert "请选择协调员所属的单位" in response.get_data(as_text=True)
    response = client.post(
        "/staff/new",
        data={
            "name": "市协调员",
            "phone": "13912340002",
            "role": "coordinator",
            "unit_id": world.city.id,
        },
    )
    assert response.status_code == 200


def test_leaders_and_volunteers_manage_no_accounts(client, world, make):
    leader = make.leader(world.team_a)
    target = make.leader(world.team_a)
    login(client, leader)
    for path in ("/staff", "/staff/new", f"/staff/{target.id}"):
        assert client.get(path).status_code == 404
    before = counts()
    assert new_leader(client, [world.team_a.id]).status_code == 404
    assert client.post(f"/staff/{target.id}/deactivate").status_code == 404
    assert client.post(f"/staff/{target.id}/password").status_code == 404
    assert counts() == before
    db.session.expire_all()
    assert db.session.get(Person, target.id).is_active


def test_bad_input_is_refused_in_chinese_and_changes_nothing(client, world):
    login(client, world.coordinator_a)
    before = counts()
    cases = [
        ({"name": "", "phone": "13912345678"}, "请填写姓名"),
        ({"name": "赵队长", "phone": "12345"}, "手机号"),
        ({"name": "赵队长", "phone": "13912345678", "team_ids": []}, "请选择队长所在的服务队"),
        ({"name": "赵队长", "phone": "13912345678", "role": "admin"}, "请选择角色"),
    ]
    for fields, message in cases:
        data = {"role": "leader", "team_ids": [world.team_a.id], **fields}
        response = client.post("/staff/new", data=data)
        assert response.status_code == 400, fields
        assert message in response.get_data(as_text=True), fields
    assert counts() == before


def test_a_registered_phone_is_not_made_a_new_account_nor_named(client, world, make):
    volunteer = make.member(world.team_b, name="王建国", password=PASSWORD)
    login(client, world.coordinator_a)
    before = counts()
    response = new_leader(client, [world.team_a.id], phone=volunteer.phone, name="别的名字")
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "该手机号已注册" in html and "王建国" not in html
    assert counts() == before

    # An admin may give that person a role; their name and password stay theirs.
    client.post("/logout")
    login(client, world.admin)
    response = new_leader(client, [world.team_a.id], phone=volunteer.phone, name="别的名字")
    assert response.status_code == 302
    db.session.expire_all()
    person = db.session.get(Person, volunteer.id)
    assert person.name == "王建国" and not person.must_set_password
    assert person.password_hash == volunteer.password_hash
    assert [e.action for e in entries_about("person", person.id)] == ["account.role_granted"]


def test_coordinator_deactivates_a_leader_below_and_every_session_ends(client, app, world, make):
    leader = make.leader(world.team_a, name="钱队长")
    leader_client = app.test_client()
    login(leader_client, leader)
    assert leader_client.get("/teams").status_code == 200

    login(client, world.coordinator_a)
    response = client.post(f"/staff/{leader.id}/deactivate")
    assert response.status_code == 302
    db.session.expire_all()
    assert not db.session.get(Person, leader.id).is_active
    assert leader_client.get("/teams").status_code == 302  # logged out: to the login page
    assert [e.action for e in entries_about("person", leader.id)] == ["account.deactivated"]
    page = client.get(f"/staff/{leader.id}").get_data(as_text=True)
    assert "已停用" in page and "停用账号" in page  # the history names the action
    assert "重置密码</button>" not in page  # nothing left to do with it but switch it on


def test_a_deactivated_account_comes_back_with_a_new_temporary_password(client, world, make):
    leader = make.leader(world.team_a, name="钱队长")
    login(client, world.coordinator_a)
    client.post(f"/staff/{leader.id}/deactivate")
    assert "重新启用账号</button>" in client.get(f"/staff/{leader.id}").get_data(as_text=True)

    response = client.post(f"/staff/{leader.id}/reactivate")

    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    temporary = temporary_password_in(response.get_data(as_text=True))
    db.session.expire_all()
    person = db.session.get(Person, leader.id)
    assert person.is_active and person.must_set_password
    assert authenticate(leader.phone, temporary) is not None
    assert authenticate(leader.phone, PASSWORD) is None  # the old password is not trusted
    assert [e.action for e in entries_about("person", leader.id)] == [
        "account.reactivated",
        "account.deactivated",
    ]
    again = client.post(f"/staff/{leader.id}/reactivate")  # active already: refused, flashed
    assert again.status_code == 302
    assert "该账号没有停用" in client.get(again.headers["Location"]).get_data(as_text=True)


def test_accounts_beside_above_or_their_own_are_not_the_coordinators_to_manage(client, world, make):
    outside = make.leader(world.team_b)
    peer = make.coordinator(world.district_a, name="同级协调员")
    login(client, world.coordinator_a)
    for person in (outside, peer, world.coordinator_city, world.admin, world.coordinator_a):
        for action in ("deactivate", "password"):
            assert client.post(f"/staff/{person.id}/{action}").status_code == 404
    db.session.expire_all()
    assert all(
        db.session.get(Person, p.id).is_active
        and not db.session.get(Person, p.id).must_set_password
        for p in (outside, peer, world.coordinator_city, world.admin, world.coordinator_a)
    )
    # Beside: not listed at all; a peer: listed, without the buttons.
    listing = client.get("/staff").get_data(as_text=True)
    assert outside.name not in listing and "鄂州市协调员" not in listing
    assert client.get(f"/staff/{outside.id}").status_code == 404
    peer_page = client.get(f"/staff/{peer.id}").get_data(as_text=True)
    assert "同级协调员" in peer_page and "重置密码</button>" not in peer_page


def test_reset_password_gives_a_new_temporary_one_and_ends_sessions_and_tokens(
    client, app, world, make
):
    leader = make.leader(world.team_a, name="孙队长")
    token = make.api_token(leader)
    leader_client = app.test_client()
    login(leader_client, leader)

    login(client, world.coordinator_a)
    response = client.post(f"/staff/{leader.id}/password")
    assert response.status_code == 200
    temporary = temporary_password_in(response.get_data(as_text=True))

    assert leader_client.get("/teams").status_code == 302  # that session is over
    db.session.expire_all()
    assert db.session.scalar(select(ApiToken.revoked_at).where(ApiToken.person_id == leader.id))
    api = client.get("/api/v1/teams", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401 and api.content_type == "application/problem+json"
    # The old password is gone; the new one leads to choosing one's own.
    fresh = app.test_client()
    refused = fresh.post("/login", data={"phone": leader.phone, "password": PASSWORD})
    assert refused.status_code == 200
    login(fresh, leader, password=temporary)
    assert fresh.get("/teams").headers["Location"] == "/account/password"
    assert [e.action for e in entries_about("person", leader.id)] == ["account.password_reset"]
    assert temporary not in str(entries_about("person", leader.id)[0].details)


def test_staff_list_shows_only_the_viewers_scope_in_three_queries(
    client, world, make, count_queries
):
    for index in range(4):
        make.leader(make.team(world.street_a), name=f"本区队长{index}")
    make.leader(world.team_b, name="外区队长")
    login(client, world.coordinator_a)
    with count_queries() as counter:
        listing = client.get("/staff").get_data(as_text=True)
    assert all(f"本区队长{index}" in listing for index in range(4))
    assert "外区队长" not in listing and f'id="account-{world.admin.id}"' not in listing
    assert "鄂城区协调员" in listing  # their own account, without actions on its page
    # the viewer (session person, their unit, teams led) and the three of the list
    assert counter.count <= 6


def test_a_reactivated_account_gets_back_none_of_its_old_secrets(client, world, make):
    leader = make.leader(world.team_a, name="钱队长")
    token = make.api_token(leader)
    feed = create_feed("team", world.team_a.id, (), viewer_for(leader))
    db.session.commit()
    assert client.get(f"/feeds/{feed.token}.ics").status_code == 200

    login(client, world.coordinator_a)
    client.post(f"/staff/{leader.id}/deactivate")
    assert client.get(f"/feeds/{feed.token}.ics").status_code == 404
    client.post(f"/staff/{leader.id}/reactivate")

    api = client.get("/api/v1/teams", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401
    assert client.get(f"/feeds/{feed.token}.ics").status_code == 404
