"""An account whose password someone else set chooses its own before anything else."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import login
from tests.factories import PASSWORD
from volunteer_hub.audit.services import entries_about
from volunteer_hub.auth.models import ApiToken
from volunteer_hub.auth.services import authenticate, mint_token, set_temporary_password
from volunteer_hub.errors import DomainError
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person

CHOOSE = "/account/password"
OWN_PASSWORD = "my-own-password-9"


@pytest.fixture
def team(make):
    return make.team(name="凤凰街道退役军人志愿服务队")


@pytest.fixture
def newcomer(make, team):
    """A leader whose account a coordinator just made: a temporary password to change."""
    person = make.leader(team, name="赵队长")
    person.temporary = set_temporary_password(person)
    db.session.commit()
    return person


def test_every_page_leads_to_choosing_a_password_first(client, newcomer, team):
    login(client, newcomer, password=newcomer.temporary)
    for path in ("/", "/teams", f"/teams/{team.id}", "/account", "/me", "/staff"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == CHOOSE, path
    page = client.get(CHOOSE)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "设置您的密码" in html and "临时密码" in html and "至少 8 位" in html
    # Posting elsewhere is turned away too, and changes nothing.
    assert client.post(f"/teams/{team.id}/events/new", data={}).headers["Location"] == CHOOSE
    assert client.post("/logout").status_code == 302  # leaving is always possible


def test_the_chosen_password_replaces_the_temporary_one(client, app, newcomer, team):
    other_device = app.test_client()
    login(other_device, newcomer, password=newcomer.temporary)
    login(client, newcomer, password=newcomer.temporary)
    cases = [
        ("short", "密码至少 8 位"),
        (newcomer.temporary, "新密码不能与临时密码相同"),
        ("", "请填写新密码"),
    ]
    for password, message in cases:
        response = client.post(CHOOSE, data={"new_password": password})
        assert response.status_code == 400, password
        assert message in response.get_data(as_text=True), password
    db.session.expire_all()
    assert db.session.get(Person, newcomer.id).must_set_password

    response = client.post(CHOOSE, data={"new_password": OWN_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get(f"/teams/{team.id}").status_code == 200  # this session goes on
    assert other_device.get("/teams").status_code == 302  # the other one has ended
    db.session.expire_all()
    assert not db.session.get(Person, newcomer.id).must_set_password
    assert authenticate(newcomer.phone, newcomer.temporary) is None
    assert authenticate(newcomer.phone, OWN_PASSWORD).id == newcomer.id
    assert [e.action for e in entries_about("person", newcomer.id)] == ["account.password_chosen"]
    # Done once: the page now leads home.
    assert client.get(CHOOSE).headers["Location"] == "/"


def test_an_account_with_its_own_password_is_not_stopped(client, make, team):
    leader = make.leader(team)
    login(client, leader, password=PASSWORD)
    assert client.get("/teams").status_code == 200
    assert client.get(CHOOSE).headers["Location"] == "/"


def test_no_api_token_for_an_account_whose_password_is_not_its_own(client, newcomer):
    with pytest.raises(DomainError, match="设置自己的密码"):
        mint_token(db.session.get(Person, newcomer.id), "integration")
    assert db.session.scalars(select(ApiToken)).all() == []


def test_the_command_line_says_why_it_mints_no_token(app, newcomer):
    result = app.test_cli_runner().invoke(args=["users", "token", "--phone", newcomer.phone])
    assert result.exit_code == 1 and "设置自己的密码" in result.output
    assert db.session.scalars(select(ApiToken)).all() == []


def test_the_api_refuses_a_token_from_before_a_reset(client, make, team):
    leader = make.leader(team)
    token = make.api_token(leader)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/teams", headers=headers).status_code == 200
    login(client, make.admin())
    assert client.post(f"/staff/{leader.id}/password").status_code == 200
    response = client.get("/api/v1/teams", headers=headers)
    assert response.status_code == 401
    assert response.content_type == "application/problem+json"
    assert response.get_json()["code"] == "unauthorized"
