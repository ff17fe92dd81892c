"""POST /api/v1/feeds and DELETE /api/v1/feeds/{id}."""

from __future__ import annotations

from sqlalchemy import func, select

from tests.api.conftest import problem_fields
from volunteer_hub.calendar.models import Feed
from volunteer_hub.extensions import db


def test_create_a_unit_feed_by_category_names(api, make, client):
    city = make.unit("鄂州市", level="city")
    district = make.unit("鄂城区", parent=city)
    team = make.team(district)
    make.event(team, shifts=1, title="巡堤")
    coordinator = make.coordinator(district)
    response = api.as_(coordinator).post(
        "/api/v1/feeds",
        json={"scope": "unit", "id": district.id, "categories": ["防汛抗旱", "护苗护学"]},
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["scope"] == "unit" and body["target_id"] == district.id
    assert {c["name"] for c in body["categories"]} == {"防汛抗旱", "护苗护学"}
    assert body["url"].startswith("http://localhost/feeds/") and body["url"].endswith(".ics")
    assert body["webcal_url"] == "webcal://" + body["url"].split("://", 1)[1]
    feed = client.get(body["url"].removeprefix("http://localhost"))
    assert feed.status_code == 200
    assert "巡堤" in feed.get_data(as_text=True)


def test_refusals_are_problems_with_field_messages(api, make):
    team = make.team()
    other = make.team()
    leader = make.leader(team)
    as_leader = api.as_(leader)

    bad_scope = as_leader.post("/api/v1/feeds", json={"scope": "city", "id": team.id})
    assert bad_scope.status_code == 422
    assert "scope" in problem_fields(bad_scope)

    bad_category = as_leader.post(
        "/api/v1/feeds", json={"scope": "team", "id": team.id, "categories": ["没有这类"]}
    )
    assert bad_category.status_code == 422
    assert problem_fields(bad_category) == {"categories.0": "没有这个服务类别：没有这类"}

    hidden = as_leader.post("/api/v1/feeds", json={"scope": "team", "id": other.id})
    assert hidden.status_code == 404
    assert hidden.mimetype == "application/problem+json"
    someone = make.person()
    assert (
        as_leader.post("/api/v1/feeds", json={"scope": "person", "id": someone.id}).status_code
        == 404
    )
    assert db.session.scalar(select(func.count()).select_from(Feed)) == 0


def test_delete_revokes_and_only_the_owner_may(api, make, client):
    team = make.team()
    leader = make.leader(team)
    created = api.as_(leader).post("/api/v1/feeds", json={"scope": "team", "id": team.id})
    body = created.get_json()
    path = body["url"].removeprefix("http://localhost")
    assert client.get(path).status_code == 200

    coordinator = make.coordinator(team.unit)
    assert api.as_(coordinator).delete(f"/api/v1/feeds/{body['id']}").status_code == 404
    # A 204 has no body to check against the document: the plain client, with a token
    # (the document's 204 entry is checked below).
    token = make.api_token(leader)
    deleted = client.delete(
        f"/api/v1/feeds/{body['id']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert deleted.status_code == 204
    assert "Content-Type" not in deleted.headers
    assert deleted.data == b""
    assert client.get(path).status_code == 404
    assert api.as_(leader).delete(f"/api/v1/feeds/{body['id']}").status_code == 404


def test_both_operations_are_in_the_document(openapi):
    post = openapi["paths"]["/api/v1/feeds"]["post"]
    assert set(post["responses"]) >= {"201", "401", "404", "422"}
    body = openapi["components"]["schemas"]["FeedCreate"]
    assert set(body["properties"]) == {"scope", "id", "categories"}
    assert "名称" in body["properties"]["categories"]["description"]
    delete = openapi["paths"]["/api/v1/feeds/{feed_id}"]["delete"]
    assert "204" in delete["responses"] and "404" in delete["responses"]
