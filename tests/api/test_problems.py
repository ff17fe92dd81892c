"""Errors under /api/ are application/problem+json, whatever raised them."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from volunteer_hub import create_app
from volunteer_hub.extensions import db
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
