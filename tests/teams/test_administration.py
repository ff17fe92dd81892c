"""Teams from the web: create under a unit in scope, rename, archive (no new events,
sign-ups or members; gone from pickers; history kept), leaders appointed and removed;
a leader cannot touch another team, a coordinator stays in their subtree; audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import login
from tests.teams.conftest import masked, team_ids_of, texts_to
from tests.web.conftest import page
from volunteer_hub.audit.models import AuditEntry
from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.db import utcnow
from volunteer_hub.errors import DomainError, NotFound, ValidationFailed
from volunteer_hub.events.services import EventInput, ShiftInput, create_event
from volunteer_hub.extensions import db
from volunteer_hub.signups.services import sign_up
from volunteer_hub.teams import administration
from volunteer_hub.teams.models import Membership, Team
from volunteer_hub.teams.services import TeamArchived, add_member


def role_of(team, person) -> str | None:
    db.session.expire_all()
    return db.session.scalar(
        select(Membership.role).where(
            Membership.team_id == team.id, Membership.person_id == person.id
        )
    )


def actions(team) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.subject_type == "team", AuditEntry.subject_id == team.id)
            .order_by(AuditEntry.id)
        )
    )


def appoint(client, team, phone: str) -> str:
    """Post the leader form; the page shown after it."""
    response = client.post(
        f"/teams/{team.id}/leaders",
        data={"leader-phone": phone, "leader-name": ""},
        follow_redirects=True,
    )
    return page(response)


def archived(world, make):
    administration.archive_team(viewer_for(make.admin()), world.team_a.id)
    db.session.commit()
    return world.team_a


# -- create, rename ----------------------------------------------------------------------


def test_coordinator_creates_a_team_in_their_subtree_only(world):
    coordinator = viewer_for(world.coordinator_x)
    team = administration.create_team(coordinator, world.street_x.id, "凤凰街道应急救援队")
    db.session.commit()
    assert team.unit_id == world.street_x.id
    assert actions(team) == ["team.created"]
    with pytest.raises(ValidationFailed) as refused:
        administration.create_team(coordinator, world.district_y.id, "华容区新队")
    assert refused.value.errors == {"unit_id": "请选择您辖区内的单位"}


def test_leaders_do_not_create_teams(world):
    with pytest.raises(ValidationFailed):
        administration.create_team(viewer_for(world.leader_a), world.street_x.id, "新队")


def test_leader_renames_their_team_but_not_another(world):
    leader = viewer_for(world.leader_a)
    administration.rename_team(leader, world.team_a.id, "凤凰街道红色宣讲队")
    db.session.commit()
    assert db.session.get(Team, world.team_a.id).name == "凤凰街道红色宣讲队"
    with pytest.raises(NotFound):
        administration.rename_team(leader, world.team_b.id, "抢来的名字")
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "team.renamed"))
    assert entry.details["new"] == "凤凰街道红色宣讲队"


def test_coordinator_cannot_rename_a_team_outside_their_subtree(world):
    with pytest.raises(NotFound):
        administration.rename_team(viewer_for(world.coordinator_x), world.team_b.id, "改名")


def test_create_a_team_from_the_unit_page(client, world):
    login(client, world.coordinator_x)
    response = client.post(
        "/teams", data={"unit": world.street_x.id, "name": "凤凰街道护河队", "description": ""}
    )
    assert response.status_code == 302
    html = page(client.get(response.headers["Location"]))
    assert "已新建服务队：凤凰街道护河队。请设置队长。" in html
    assert "管理服务队" in html and "设为队长" in html


def test_a_team_without_a_name_is_refused_in_chinese(client, world):
    login(client, world.coordinator_x)
    response = client.post(
        "/teams", data={"unit": world.street_x.id, "name": ""}, follow_redirects=True
    )
    assert "请填写服务队名称" in page(response)
    assert (
        db.session.scalar(select(Team).where(Team.unit_id == world.street_x.id, Team.name == ""))
        is None
    )


# -- archive ---------------------------------------------------------------------------


def test_an_archived_team_takes_no_new_events(world, make):
    team = archived(world, make)
    start = utcnow() + timedelta(days=2)
    with pytest.raises(TeamArchived):
        create_event(
            team.id,
            EventInput(title="巡河", category_id=make.category().id, location="江堤"),
            [ShiftInput(starts_at=start, ends_at=start + timedelta(hours=2), capacity=5)],
            created_by_id=None,
        )


def test_an_archived_team_takes_no_sign_ups_and_keeps_its_history(world, make):
    event = make.event(world.team_a, shifts=1)
    shift = make.shifts_of(event)[0]
    sign_up(shift.id, world.member_a.id, "sms")
    db.session.commit()
    archived(world, make)
    newcomer = make.member(world.team_a)
    with pytest.raises(TeamArchived):
        sign_up(shift.id, newcomer.id, "sms")
    db.session.rollback()
    # Its members, events and sign-ups stay.
    assert role_of(world.team_a, world.member_a) == "member"
    assert db.session.get(type(event), event.id) is not None


def test_an_archived_team_takes_no_new_members(world, make):
    team = archived(world, make)
    with pytest.raises(TeamArchived):
        add_member(team.id, "新人", "13912345678")


def test_archived_teams_leave_the_pickers(client, world, make):
    login(client, world.coordinator_x)

    def offered() -> tuple[bool, bool]:
        roster = client.get("/roster/import")
        feeds = client.get("/calendar")
        assert roster.status_code == feeds.status_code == 200
        return world.team_a.name in page(roster), f"team:{world.team_a.id}" in page(feeds)

    assert offered() == (True, True)
    archived(world, make)
    assert offered() == (False, False)


def test_leaders_cannot_archive(client, world):
    with pytest.raises(DomainError):
        administration.archive_team(viewer_for(world.leader_a), world.team_a.id)
    login(client, world.leader_a)
    html = page(client.get(f"/teams/{world.team_a.id}/manage"))
    assert "归档服务队" not in html
    response = client.post(f"/teams/{world.team_a.id}/archive", follow_redirects=True)
    assert "只有协调员或管理员可以归档服务队" in page(response)
    assert db.session.get(Team, world.team_a.id).archived_at is None


def test_coordinator_archives_and_restores_from_the_page(client, world):
    login(client, world.coordinator_x)
    html = page(client.post(f"/teams/{world.team_a.id}/archive", follow_redirects=True))
    assert "已归档服务队" in html and "已归档" in html
    db.session.expire_all()
    assert db.session.get(Team, world.team_a.id).archived_at is not None
    client.post(f"/teams/{world.team_a.id}/restore")
    db.session.expire_all()
    assert db.session.get(Team, world.team_a.id).archived_at is None
    assert actions(world.team_a) == ["team.archived", "team.restored"]


def test_coordinator_cannot_archive_a_team_outside_their_subtree(client, world):
    login(client, world.coordinator_x)
    assert client.post(f"/teams/{world.team_b.id}/archive").status_code == 404
    assert db.session.get(Team, world.team_b.id).archived_at is None


# -- leaders ---------------------------------------------------------------------------


def test_a_member_is_made_leader_and_removed_again(client, world):
    login(client, world.coordinator_x)
    html = appoint(client, world.team_a, world.member_a.phone)
    assert "已设 王建国 为队长" in html
    assert role_of(world.team_a, world.member_a) == "leader"
    client.post(f"/teams/{world.team_a.id}/leaders/{world.member_a.id}/remove")
    assert role_of(world.team_a, world.member_a) == "member"
    assert actions(world.team_a) == ["team.leader_added", "team.leader_removed"]


def test_someone_of_another_team_is_invited_masked_never_named(client, world):
    login(client, world.coordinator_x)
    html = appoint(client, world.team_a, world.member_b.phone)
    assert "赵卫东" not in html  # the stored name of another team's volunteer
    assert masked(world.member_b.phone) in html and "入队邀请" in html
    assert team_ids_of(world.member_b.id) == {world.team_b.id}  # not enrolled
    assert len(texts_to(world.member_b.phone)) == 1  # the invitation text


def test_an_unknown_phone_cannot_be_made_leader(client, world):
    login(client, world.coordinator_x)
    response = client.post(
        f"/teams/{world.team_a.id}/leaders",
        data={"leader-phone": "13700001111", "leader-name": "新队长"},
    )
    assert response.status_code == 400
    assert "该手机号尚未登记" in page(response)


def test_the_last_leader_stays(client, world):
    login(client, world.coordinator_x)
    response = client.post(
        f"/teams/{world.team_a.id}/leaders/{world.leader_a.id}/remove", follow_redirects=True
    )
    assert "服务队至少需要一位队长" in page(response)
    assert role_of(world.team_a, world.leader_a) == "leader"


def test_a_leader_cannot_touch_another_teams_leaders(client, world):
    login(client, world.leader_a)
    response = client.post(
        f"/teams/{world.team_b.id}/leaders", data={"leader-phone": world.member_b.phone}
    )
    assert response.status_code == 404
    response = client.post(f"/teams/{world.team_b.id}/leaders/{world.leader_b.id}/remove")
    assert response.status_code == 404
    assert client.get(f"/teams/{world.team_b.id}/manage").status_code == 404
    assert role_of(world.team_b, world.member_b) == "member"
    assert role_of(world.team_b, world.leader_b) == "leader"


# -- issue 16, item 17 ---------------------------------------------------------------------


def test_adding_another_teams_volunteer_by_phone_never_shows_the_stored_name(client, world):
    login(client, world.leader_a)
    html = page(
        client.post(
            f"/teams/{world.team_a.id}/members",
            data={"name": "", "phone": world.member_b.phone, "role": "member", "skills": ""},
            follow_redirects=True,
        )
    )
    assert "赵卫东" not in html
    assert masked(world.member_b.phone) in html
    assert team_ids_of(world.member_b.id) == {world.team_b.id}
