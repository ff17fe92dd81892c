"""Who may open what. What a viewer may not see does not exist for them: 404, never 403,
and a refused POST changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.conftest import login
from tests.web.conftest import event_form, local_day, page
from tests.web.conftest import row_counts as table_counts
from volunteer_hub.extensions import db
from volunteer_hub.sms.models import Broadcast, OutgoingSms

# (method, url template, form data) for every page and action of one team.
# {team}, {member}, {event}, {shift}, {signup} are filled from that team's objects.
ROUTES = [
    ("GET", "/teams/{team}", None),
    ("POST", "/teams/{team}/members", {"name": "新队员", "phone": "13700001111", "role": "member"}),
    ("GET", "/teams/{team}/members/{member}/edit", None),
    (
        "POST",
        "/teams/{team}/members/{member}/edit",
        {"name": "改名", "phone": "13700002222", "role": "member"},
    ),
    ("POST", "/teams/{team}/members/{member}/remove", {}),
    ("GET", "/teams/{team}/events/new", None),
    ("POST", "/teams/{team}/events/new", "event"),
    ("GET", "/events/{event}", None),
    ("GET", "/events/{event}/edit", None),
    ("POST", "/events/{event}/edit", "event"),
    ("GET", "/events/{event}/cancel", None),
    ("POST", "/events/{event}/cancel", {"reason": "测试"}),
    ("POST", "/events/{event}/broadcast", {"urgent": "y"}),
    ("POST", "/shifts/{shift}/signups", {"person_id": "{member}"}),
    ("POST", "/signups/{signup}/cancel", {}),
]
ROUTE_IDS = [f"{method} {url}" for method, url, _data in ROUTES]


def row_counts() -> dict[str, int]:
    """The shared counts plus the texts: a refused request sends nothing either."""
    return {
        **table_counts(),
        "broadcast": db.session.scalar(select(func.count()).select_from(Broadcast)),
        "outgoing_sms": db.session.scalar(select(func.count()).select_from(OutgoingSms)),
    }


def team_b_ids(world, make):
    """Ids of team B's objects, with a member not yet on the shift to sign up."""
    return {
        "team": world.team_b.id,
        "member": world.member_b.id,
        "event": world.event_b.id,
        "shift": make.shifts_of(world.event_b)[1].id,
        "signup": world.signup_b.id,
    }


def request(client, method, url, data, ids):
    url = url.format(**ids)
    if data == "event":
        data = event_form([(local_day(3), "08:00", "12:00", 5, "第一班")], title="越权活动")
    elif data is not None:
        data = {k: str(v).format(**ids) for k, v in data.items()}
    return client.open(url, method=method, data=data)


@pytest.mark.parametrize(("method", "url", "data"), ROUTES, ids=ROUTE_IDS)
def test_leader_of_team_a_gets_404_on_team_b(client, world, make, method, url, data):
    ids = team_b_ids(world, make)
    login(client, world.leader_a)
    before = row_counts()
    response = request(client, method, url, data, ids)
    assert response.status_code == 404
    assert "页面不存在" in page(response)
    assert row_counts() == before


@pytest.mark.parametrize(("method", "url", "data"), ROUTES, ids=ROUTE_IDS)
def test_coordinator_of_another_district_gets_404(client, world, make, method, url, data):
    ids = team_b_ids(world, make)
    login(client, world.coordinator_x)  # 鄂城区; team B is in 华容区
    before = row_counts()
    response = request(client, method, url, data, ids)
    assert response.status_code == 404
    assert row_counts() == before


@pytest.mark.parametrize(("method", "url", "data"), ROUTES, ids=ROUTE_IDS)
def test_the_right_people_may_act_on_team_b(client, world, make, method, url, data):
    """The same requests succeed for team B's leader and for its district's coordinator,
    so the 404s above are about permission, not about broken requests."""
    ids = team_b_ids(world, make)
    for person in (world.leader_b, world.coordinator_y):
        client.post("/logout")
        login(client, person)
        before = row_counts()
        response = request(client, method, url, data, ids)
        if method == "GET":
            assert response.status_code == 200, (person.name, page(response)[:1500])
            continue
        assert response.status_code == 302, (person.name, page(response)[:1500])
        assert row_counts() != before  # the action happened
        break  # an action happens once; the GETs are checked for both


@pytest.mark.parametrize(("method", "url", "data"), ROUTES, ids=ROUTE_IDS)
def test_anonymous_is_sent_to_login(client, world, make, method, url, data):
    ids = team_b_ids(world, make)
    before = row_counts()
    response = request(client, method, url, data, ids)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")
    assert row_counts() == before


@pytest.mark.parametrize(
    "url",
    [
        "/teams/{team}",
        "/teams/{team}/members/{member}/edit",
        "/teams/{team}/events/new",
        "/events/{event}",
        "/events/{event}/edit",
        "/events/{event}/cancel",
    ],
)
def test_coordinator_sees_teams_below_their_unit(client, world, url):
    """Team A is in a street of 鄂城区, two levels below the coordinator's district."""
    ids = {"team": world.team_a.id, "member": world.member_a.id, "event": world.event_a.id}
    login(client, world.coordinator_x)
    assert client.get(url.format(**ids)).status_code == 200


def test_a_member_of_team_b_cannot_be_reached_through_team_a(client, world):
    login(client, world.leader_a)
    before = row_counts()
    base = f"/teams/{world.team_a.id}/members/{world.member_b.id}"
    assert client.get(f"{base}/edit").status_code == 404
    assert (
        client.post(f"{base}/edit", data={"name": "x", "phone": "13700003333"}).status_code == 404
    )
    assert client.post(f"{base}/remove").status_code == 404
    assert row_counts() == before


def test_overview_is_for_coordinators_and_scoped_to_their_unit(client, world):
    login(client, world.leader_a)
    assert client.get("/overview").status_code == 404
    client.post("/logout")
    login(client, world.coordinator_x)
    assert client.get(f"/overview?unit={world.street_x.id}").status_code == 200
    assert client.get(f"/overview?unit={world.district_y.id}").status_code == 404
    html = page(client.get("/overview"))
    assert world.team_a.name in html and world.team_b.name not in html
    assert "护苗护学" in html and "长江巡堤" not in html


def test_a_volunteer_without_a_staff_role_gets_404(client, make, world):
    volunteer = make.person(password="correct-horse-42")
    login(client, volunteer)
    assert client.get("/teams").status_code == 404
    assert client.get(f"/teams/{world.team_a.id}").status_code == 404


def test_ids_beyond_the_column_range_are_404_not_500(client, world):
    login(client, world.leader_a)
    assert client.get(f"/teams/{2**40}").status_code == 404
    assert client.post(f"/signups/{2**40}/cancel").status_code == 404


def test_admin_sees_every_team(client, make, world):
    login(client, make.admin())
    for team in (world.team_a, world.team_b):
        assert client.get(f"/teams/{team.id}").status_code == 200
    html = page(client.get("/overview"))
    assert world.team_a.name in html and world.team_b.name in html
