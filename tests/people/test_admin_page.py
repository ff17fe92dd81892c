"""A person's page for admins, and coordinators for people in their subtree: teams,
roles, consent history, sessions and "log out everywhere"."""

from __future__ import annotations

from sqlalchemy import select

from tests.auth.test_sessions import refused_staff
from tests.conftest import login
from tests.web.conftest import page
from volunteer_hub.audit.models import AuditEntry
from volunteer_hub.extensions import db
from volunteer_hub.sms.services import opt_in, opt_out


def test_admin_sees_teams_roles_and_consent_history(client, world, make):
    opt_out(world.leader_a.id, channel="sms", keyword="退订")
    opt_in(world.leader_a.id, channel="sms", keyword="订阅")
    db.session.commit()
    login(client, make.admin())
    html = page(client.get(f"/people/{world.leader_a.id}"))
    assert "张队长" in html
    assert "服务队与角色" in html and world.team_a.name in html and "队长" in html
    assert "短信同意记录" in html and "退订" in html and "订阅" in html
    assert "退出所有登录" in html
    assert "删除个人信息" in html  # admins only


def test_coordinator_sees_people_of_their_subtree_only(client, world):
    login(client, world.coordinator_x)
    html = page(client.get(f"/people/{world.member_a.id}"))
    assert "王建国" in html
    assert "删除个人信息" not in html
    assert client.get(f"/people/{world.member_b.id}").status_code == 404
    assert client.get(f"/people/{world.coordinator_y.id}").status_code == 404


def test_leaders_have_no_person_pages(client, world):
    login(client, world.leader_a)
    assert client.get(f"/people/{world.member_a.id}").status_code == 404
    assert client.get("/people").status_code == 404


def test_find_by_phone_opens_the_page_in_scope_only(client, world):
    login(client, world.coordinator_x)
    response = client.get("/people", query_string={"phone": world.member_a.phone})
    assert response.headers["Location"] == f"/people/{world.member_a.id}"
    html = page(client.get("/people", query_string={"phone": world.member_b.phone}))
    assert "没有找到该手机号对应的人员" in html and "赵卫东" not in html
    html = page(client.get("/people", query_string={"phone": "12"}))
    assert "手机号码无效：12" in html


def test_log_out_everywhere_ends_the_persons_sessions_and_is_audited(app, client, world):
    leaders_browser = app.test_client()
    login(leaders_browser, world.leader_a)
    login(client, world.coordinator_x)
    response = client.post(f"/people/{world.leader_a.id}/sessions/end", follow_redirects=True)
    assert "已让此人在所有设备上退出登录" in page(response)
    assert refused_staff(leaders_browser)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.subject_id == world.leader_a.id))
    assert (entry.action, entry.actor_id) == ("person.sessions_ended", world.coordinator_x.id)


def test_log_out_everywhere_out_of_scope_is_not_found(client, world):
    login(client, world.coordinator_x)
    assert client.post(f"/people/{world.leader_b.id}/sessions/end").status_code == 404
