"""What a viewer cannot see does not exist for them: every route of another team's
things answers 404 (never 403), exactly as for an id that does not exist, and changes
nothing. Without a valid token every route but the document answers 401."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import flask
import pytest
from flask.sessions import NullSession

from tests import factories
from tests.api.conftest import refused
from tests.api.test_events import event_body, iso
from tests.conftest import login
from volunteer_hub.api.openapi import openapi_path
from volunteer_hub.auth.models import ApiToken
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.signups import services as signups

MISSING = 987654


@dataclass
class World:
    """Two districts of one city; team A in X, team B in Y, each with an event, a
    shift and a signup."""

    district_x: object
    district_y: object
    team_a: object
    team_b: object
    leader_a: object
    event_b: object
    shift_b: object
    signup_b: object


@pytest.fixture
def world(make) -> World:
    city = make.unit("鄂州市", level="city")
    district_x, district_y = make.unit("鄂城区", city), make.unit("华容区", city)
    team_a, team_b = make.team(district_x), make.team(district_y)
    leader_a = make.leader(team_a)
    make.leader(team_b)
    make.event(team_a)
    event_b = make.event(team_b)
    shift_b = make.shifts_of(event_b)[0]
    signup_b = signups.sign_up(shift_b.id, make.member(team_b).id, "web").signup
    make.member(team_b, phone="+8613900004444")  # a leader signs up members only
    db.session.commit()
    return World(district_x, district_y, team_a, team_b, leader_a, event_b, shift_b, signup_b)


def _start():
    return factories.future(100)


#: (method, url template, body) for every route that names a team's things
TEAM_B_ROUTES = [
    ("GET", "/api/v1/teams/{team}", None),
    ("GET", "/api/v1/teams/{team}/members", None),
    ("POST", "/api/v1/teams/{team}/members", {"name": "新队员", "phone": "13900003333"}),
    ("GET", "/api/v1/events?team_id={team}", None),
    ("POST", "/api/v1/events", "event"),
    ("GET", "/api/v1/events/{event}", None),
    ("PATCH", "/api/v1/events/{event}", {"title": "改名"}),
    ("POST", "/api/v1/events/{event}/cancel", {"reason": "测试"}),
    ("GET", "/api/v1/shifts/{shift}/signups", None),
    ("POST", "/api/v1/shifts/{shift}/signups", {"phone": "13900004444", "name": "新人"}),
    ("DELETE", "/api/v1/signups/{signup}", None),
]
ROUTE_IDS = [f"{method} {url}" for method, url, _body in TEAM_B_ROUTES]


def _call(client, world: World, method: str, url: str, body, *, missing: bool = False):
    ids = {
        "team": world.team_b.id,
        "event": world.event_b.id,
        "shift": world.shift_b.id,
        "signup": world.signup_b.id,
    }
    if missing:
        ids = dict.fromkeys(ids, MISSING)
    if body == "event":
        body = event_body(world.team_b, team_id=ids["team"])
    return client.request(method, url.format(**ids), json=body)


@pytest.mark.parametrize(("method", "url", "body"), TEAM_B_ROUTES, ids=ROUTE_IDS)
def test_leader_of_team_a_gets_404_on_team_b(api, world, row_counts, method, url, body):
    client = api.as_(world.leader_a)
    before = row_counts()
    response = _call(client, world, method, url, body)
    refused(response, 404)
    assert row_counts() == before
    # The same answer as for an id that does not exist: nothing leaks.
    nonexistent = _call(client, world, method, url, body, missing=True)
    assert nonexistent.status_code == 404
    assert nonexistent.get_json()["detail"] == response.get_json()["detail"]


@pytest.mark.parametrize(("method", "url", "body"), TEAM_B_ROUTES, ids=ROUTE_IDS)
def test_coordinator_of_district_x_gets_404_on_a_team_in_district_y(
    api, make, world, row_counts, method, url, body
):
    client = api.as_(make.coordinator(world.district_x))
    before = row_counts()
    refused(_call(client, world, method, url, body), 404)
    assert row_counts() == before


@pytest.mark.parametrize("who", ["leader of B", "coordinator of Y", "admin"])
@pytest.mark.parametrize(("method", "url", "body"), TEAM_B_ROUTES, ids=ROUTE_IDS)
def test_those_above_team_b_get_through(api, make, world, who, method, url, body):
    """The control for the two tests above: the same calls succeed for the people who
    may see team B."""
    person = {
        "leader of B": lambda: make.leader(world.team_b),
        "coordinator of Y": lambda: make.coordinator(world.district_y),
        "admin": make.admin,
    }[who]()
    response = _call(api.as_(person), world, method, url, body)
    assert response.status_code in (200, 201), response.get_json()


def test_lists_leave_out_what_the_viewer_cannot_see(api, world):
    client = api.as_(world.leader_a)
    teams = client.get("/api/v1/teams").get_json()["items"]
    assert [t["id"] for t in teams] == [world.team_a.id]
    events = client.get("/api/v1/events").get_json()["items"]
    assert {e["team"]["id"] for e in events} == {world.team_a.id}


def _all_routes(app):
    """Every API rule and method, with its ids filled in."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        url = openapi_path(rule.rule)
        for name in rule.arguments:
            url = url.replace("{" + name + "}", "1")
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((method, url))
    return routes


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer vh_not-a-real-token"],
)
def test_every_route_but_the_document_needs_a_token(app, api, row_counts, authorization):
    routes = _all_routes(app)
    assert len(routes) >= 15
    before = row_counts()
    for method, url in routes:
        headers = {} if authorization is None else {"Authorization": authorization}
        response = api.anonymous().request(method, url, headers=headers, json={})
        if url == "/api/v1/openapi.json":
            assert response.status_code == 200
            continue
        assert response.status_code == 401, (method, url, response.status_code)
        assert response.mimetype == "application/problem+json"
        challenge = response.headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer")
        if authorization == "Bearer vh_not-a-real-token":
            assert 'error="invalid_token"' in challenge
    assert row_counts() == before


def test_revoked_token_and_inactive_person_are_401(api, make):
    leader = make.leader(make.team())
    client = api.as_(leader)
    assert client.get("/api/v1/teams").status_code == 200

    token = db.session.scalar(db.select(ApiToken).where(ApiToken.person_id == leader.id))
    token.revoked_at = utcnow()
    db.session.commit()
    assert client.get("/api/v1/teams").status_code == 401

    other = api.as_(leader)
    leader.is_active = False
    db.session.commit()
    assert other.get("/api/v1/teams").status_code == 401


def test_token_use_is_recorded_at_most_once_a_minute(api, make):
    leader = make.leader(make.team())
    client = api.as_(leader)
    token = db.session.scalar(db.select(ApiToken).where(ApiToken.person_id == leader.id))
    assert token.last_used_at is None

    client.get("/api/v1/teams")
    db.session.refresh(token)
    first_use = token.last_used_at
    assert first_use is not None and utcnow() - first_use < timedelta(seconds=30)

    client.get("/api/v1/teams")
    db.session.refresh(token)
    assert token.last_used_at == first_use  # within the minute: not written again

    token.last_used_at = first_use - timedelta(seconds=61)
    db.session.commit()
    client.get("/api/v1/teams")
    db.session.refresh(token)
    assert token.last_used_at >= first_use


def test_token_use_is_recorded_even_when_the_request_fails(api, make):
    leader = make.leader(make.team())
    client = api.as_(leader)
    assert client.get(f"/api/v1/teams/{MISSING}").status_code == 404
    token = db.session.scalar(db.select(ApiToken).where(ApiToken.person_id == leader.id))
    assert token.last_used_at is not None


@pytest.mark.parametrize("url", ["/api/v1/teams/2147483648", "/api/v1/events/99999999999999999999"])
def test_ids_beyond_the_column_range_are_404(api, make, url):
    response = api.as_(make.admin()).get(url)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_event_body_reference_to_a_huge_team_id_is_422(api, make, world):
    body = event_body(world.team_b, team_id=2**31)
    fields = refused(api.as_(make.admin()).post("/api/v1/events", json=body), 422)
    assert fields == {"team_id": "服务队不能大于 2147483647"}


def test_shift_times_unchanged_by_a_refused_patch(api, world):
    # A leader of A cannot move B's shift either.
    client = api.as_(world.leader_a)
    start = _start()
    response = client.patch(
        f"/api/v1/events/{world.event_b.id}",
        json={
            "shifts": [
                {
                    "id": world.shift_b.id,
                    "starts_at": iso(start),
                    "ends_at": iso(start + timedelta(hours=1)),
                    "capacity": 5,
                }
            ]
        },
    )
    assert response.status_code == 404
    db.session.refresh(world.shift_b)
    assert world.shift_b.capacity == 10


def test_a_logged_in_browser_cookie_is_no_key_to_the_api_or_the_webhooks(client):
    """The API and the providers' webhooks open no cookie session: a leader's browser
    session neither authenticates an API call nor is read or written by one."""
    leader = factories.leader(factories.team())
    db.session.commit()
    login(client, leader)
    with client:
        assert client.get("/").status_code == 302  # to the leader's own page
        assert "_user_id" in flask.session  # the pages have the session
    for method, url in (("GET", "/api/v1/teams"), ("POST", "/sms/inbound")):
        with client:
            response = client.open(url, method=method)
            assert isinstance(flask.session, NullSession), url
            assert response.status_code in (401, 403), (url, response.status_code)
            assert "Set-Cookie" not in response.headers, url
