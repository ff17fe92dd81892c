"""Errors under /api/ are application/problem+json, whatever raised them."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.api.conftest import refused
from tests.api.test_events import event_body
from volunteer_hub import create_app
from volunteer_hub.events.models import Event
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.units.models import Unit


def test_wrong_method_is_a_405_problem_with_allow(api, make):
    response = api.as_(make.admin()).request("PUT", "/api/v1/teams", json={})
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    assert response.get_json()["status"] == 405


def test_wrong_method_outside_the_api_is_left_alone(client):
    response = client.put("/healthz")
    assert response.status_code == 405
    assert response.mimetype != "application/problem+json"


def test_unknown_api_path_is_a_404_problem(api, make):
    response = api.as_(make.admin()).get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["title"]


def test_unexpected_error_is_a_500_problem_and_rolls_back(app, make):
    """A fresh app (routes cannot be added to one that has served requests) with one
    extra view under the API blueprint that writes, then fails."""
    second = create_app(
        {
            "TESTING": True,
            "PROPAGATE_EXCEPTIONS": False,  # answer as production does
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "SQLALCHEMY_ENGINE_OPTIONS": app.config["SQLALCHEMY_ENGINE_OPTIONS"],
            "SECRET_KEY": "test-secret",
            "SERVER_NAME": "localhost",
            "RATELIMIT_STORAGE_URI": "memory://",
        }
    )

    reached = []

    def explode():
        db.session.add(Unit(name="半截", level="city", path="/x/"))
        db.session.flush()
        reached.append(True)  # the write happened; only the rollback can undo it
        raise RuntimeError("boom")

    explode.api_public = True
    second.add_url_rule("/api/v1/_explode", endpoint="api._explode", view_func=explode)
    before = db.session.scalar(select(func.count()).select_from(Unit))
    db.session.rollback()  # SQLite: our open transaction would hold the write lock
    try:
        response = second.test_client().get("/api/v1/_explode")
    finally:
        with second.app_context():
            db.engine.dispose()

    assert reached == [True]
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert (body["status"], body["title"]) == (500, "服务器内部错误")
    assert "boom" not in response.get_data(as_text=True)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Unit)) == before


@pytest.mark.parametrize(
    "payload",
    ['{"name": "x", "parent_id": 1, "name": ', "null", '"text"', "[]", "1e999"],
)
def test_odd_json_never_crashes(api, make, payload):
    response = api.as_(make.admin()).post(
        "/api/v1/units", data=payload, headers={"Content-Type": "application/json"}
    )
    assert response.status_code in (400, 422)
    assert response.mimetype == "application/problem+json"


def _json(api, url, text):
    return api.post(url, data=text.encode(), headers={"Content-Type": "application/json"})


def test_control_characters_in_json_strings_are_dropped_not_a_500(api, make):
    """U+0000 is valid JSON and pydantic takes it; PostgreSQL refuses it mid-request."""
    team = make.team()
    as_leader = api.as_(make.leader(team))
    response = _json(
        as_leader,
        f"/api/v1/teams/{team.id}/members",
        r'{"name": "黄\u0000继光\u0085", "phone": "+8613912345678", "skills": "驾驶\b\u001b"}',
    )
    assert response.status_code == 201, response.get_data(as_text=True)[:500]
    assert response.get_json()["person"]["name"] == "黄继光"
    person = db.session.scalar(select(Person).where(Person.phone == "+8613912345678"))
    assert (person.name, person.skills) == ("黄继光", "驾驶")


@pytest.mark.parametrize(
    "title",
    [r"长江\u0000巡堤", r"长江巡堤\ud800", r"\udfff长江巡堤", r"长江\u007f巡堤\u0007"],
    ids=["nul", "lone high surrogate", "lone low surrogate", "del and bell"],
)
def test_an_event_title_with_control_characters_is_stored_without_them(api, make, title):
    team = make.team()
    body = json.dumps(event_body(team, title="TITLE"), ensure_ascii=False)
    response = _json(api.as_(make.leader(team)), "/api/v1/events", body.replace("TITLE", title))
    assert response.status_code == 201, response.get_data(as_text=True)[:500]
    assert response.get_json()["title"] == "长江巡堤"
    assert db.session.scalar(select(Event.title)) == "长江巡堤"


def test_a_string_of_nothing_but_controls_is_an_empty_field(api, make, row_counts):
    team = make.team()
    as_leader = api.as_(make.leader(team))
    before = row_counts()
    body = json.dumps(event_body(team, title="TITLE"), ensure_ascii=False)
    response = _json(as_leader, "/api/v1/events", body.replace("TITLE", r"\u0000"))
    assert "title" in refused(response, 422)
    assert row_counts() == before


def test_a_query_string_with_a_nul_is_never_a_500(api, make):
    as_admin = api.as_(make.admin())
    for url in ("/api/v1/events?from=2031-01-01%00", "/api/v1/hours?group_by=person%00"):
        assert as_admin.get(url).status_code < 500, url


def test_a_problem_is_utf8_like_a_successful_answer(api, make):
    """Chinese as itself, not as \\uXXXX escapes: a person reading a log or curl output
    reads the words."""
    admin = make.admin()
    db.session.commit()
    response = api.as_(admin).get("/api/v1/teams/999999")
    assert response.status_code == 404
    assert '"detail": "服务队不存在"'.encode() in response.data
    assert b"\\u" not in response.data
