"""Who may change a person's name, phone and skills (issue 11, defect 1).

They are shared by every team the person is in and the phone is their login, so a team
leader changes them only for people whose teams are all theirs and who hold no staff
role; staff accounts only admins and coordinators above all their teams. Everyone may
still change what is the team's own: the role in that team.
"""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import login
from tests.teams.conftest import join, spaced
from tests.web.conftest import page
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person, PhoneChange
from volunteer_hub.teams.models import Membership
from volunteer_hub.units.models import Unit


def identity(person_id: int) -> tuple[str, str, str]:
    db.session.expire_all()
    person = db.session.get(Person, person_id)
    return person.name, person.phone, person.skills


def role_in(team, person) -> str:
    db.session.expire_all()
    return db.session.scalar(
        select(Membership.role).where(
            Membership.team_id == team.id, Membership.person_id == person.id
        )
    )


def phone_changes() -> int:
    return len(db.session.scalars(select(PhoneChange.id)).all())


def edit_url(team, person) -> str:
    return f"/teams/{team.id}/members/{person.id}/edit"


def city(world):
    return db.session.scalar(select(Unit).where(Unit.name == "鄂州市"))


def test_a_leader_cannot_rename_or_rephone_another_teams_leader_who_joined_them(client, world):
    """B's leader is also in team A (say they accepted an invitation). A's leader may see
    them, but a forged edit of their name and phone changes nothing."""
    join(world.team_a, world.leader_b)
    before = identity(world.leader_b.id)
    login(client, world.leader_a)
    response = client.post(
        edit_url(world.team_a, world.leader_b),
        data={"name": "冒名", "phone": "13700009999", "role": "member", "skills": "x"},
    )
    assert response.status_code == 400
    assert "无权修改" in page(response)
    assert identity(world.leader_b.id) == before
    assert phone_changes() == 0
    # B's leader still logs in with their own phone.
    client.post("/logout")
    login(client, world.leader_b)


def test_a_leader_cannot_edit_a_member_who_also_belongs_to_another_team(client, world):
    join(world.team_a, world.member_b)
    before = identity(world.member_b.id)
    login(client, world.leader_a)
    for data in (
        {"name": "改名", "role": "member"},
        {"phone": "13700008888", "role": "member"},
        {"skills": "开锁", "role": "member"},
    ):
        response = client.post(edit_url(world.team_a, world.member_b), data=data)
        assert response.status_code == 400, data
        assert "无权修改" in page(response)
    assert identity(world.member_b.id) == before
    assert phone_changes() == 0


def test_the_edit_page_shows_locked_identity_read_only_with_a_note(client, world):
    join(world.team_a, world.leader_b)
    login(client, world.leader_a)
    html = page(client.get(edit_url(world.team_a, world.leader_b)))
    assert 'id="identity-locked"' in html and "只能由管理员或上级协调员修改" in html
    assert 'name="name"' not in html and 'name="phone"' not in html
    assert 'name="skills"' not in html
    assert "李队长" in html and spaced(world.leader_b.phone) in html
    assert 'name="role"' in html


def test_the_role_in_this_team_stays_editable(client, world):
    join(world.team_a, world.leader_b)
    before = identity(world.leader_b.id)
    login(client, world.leader_a)
    # What the read-only page submits: no identity fields at all.
    response = client.post(edit_url(world.team_a, world.leader_b), data={"role": "leader"})
    assert response.status_code == 302
    assert role_in(world.team_a, world.leader_b) == "leader"
    assert identity(world.leader_b.id) == before
    # Identity fields sent unchanged (as a readonly form would) are no change either.
    name, phone, skills = before
    response = client.post(
        edit_url(world.team_a, world.leader_b),
        data={"name": name, "phone": spaced(phone), "skills": skills, "role": "member"},
    )
    assert response.status_code == 302
    assert role_in(world.team_a, world.leader_b) == "member"


def test_a_member_of_only_this_team_is_editable_by_its_leader(client, world):
    login(client, world.leader_a)
    html = page(client.get(edit_url(world.team_a, world.member_a)))
    assert 'name="name"' in html and 'id="identity-locked"' not in html
    response = client.post(
        edit_url(world.team_a, world.member_a),
        data={"name": "王建军", "phone": spaced(world.member_a.phone), "role": "member"},
    )
    assert response.status_code == 302
    assert identity(world.member_a.id)[0] == "王建军"


def test_a_coordinator_above_all_the_teams_may_edit(client, world, make):
    join(world.team_a, world.member_b)  # in A (under X) and B (under Y)
    login(client, world.coordinator_x)  # above A only
    response = client.post(
        edit_url(world.team_a, world.member_b), data={"name": "改名", "role": "member"}
    )
    assert response.status_code == 400
    client.post("/logout")
    login(client, make.coordinator(city(world)))  # above both
    response = client.post(
        edit_url(world.team_a, world.member_b), data={"name": "赵卫国", "role": "member"}
    )
    assert response.status_code == 302
    assert identity(world.member_b.id)[0] == "赵卫国"


def test_an_admin_may_edit_a_leader(client, world, make):
    join(world.team_a, world.leader_b)
    login(client, make.admin())
    response = client.post(
        edit_url(world.team_a, world.leader_b), data={"name": "李建华", "role": "member"}
    )
    assert response.status_code == 302
    assert identity(world.leader_b.id)[0] == "李建华"
