"""The 'my calendar feeds' pages: create, the once-shown links and QR code, revoke."""

# ruff: noqa: F811  (pytest fixtures imported from feeds_support are parameters here)

from __future__ import annotations

import re

from sqlalchemy import select

from tests.calendar.feeds_support import World, fetch, world  # noqa: F401
from tests.conftest import login
from tests.factories import PASSWORD
from volunteer_hub.calendar.models import Feed
from volunteer_hub.extensions import db


def test_create_a_filtered_unit_feed_from_the_overview(client, world: World, make):
    login(client, world.coordinator_a)
    overview = client.get("/overview").get_data(as_text=True)
    assert f"/calendar?target=unit:{world.district_a.id}" in overview

    form = client.get(f"/calendar?target=unit:{world.district_a.id}").get_data(as_text=True)
    assert "我的日历订阅" in form
    assert f'value="unit:{world.district_a.id}" selected' in form
    assert f'value="team:{world.team_b.id}"' not in form  # not theirs to see

    flood = make.category("防汛抗旱").id
    created = client.post(
        "/calendar", data={"target": f"unit:{world.district_a.id}", "categories": [str(flood)]}
    )
    assert created.status_code == 200
    assert created.headers["Cache-Control"] == "no-store"
    html = created.get_data(as_text=True)
    token = re.search(r"http://localhost/feeds/([A-Za-z0-9_-]+)\.ics", html).group(1)
    assert f"webcal://localhost/feeds/{token}.ics" in html
    assert "<svg" in html and "data-copy" in html
    feed = db.session.scalar(select(Feed))
    assert [c.id for c in feed.categories] == [flood]
    assert fetch(client, token).status_code == 200

    listing = client.get("/calendar").get_data(as_text=True)
    assert token not in listing  # shown once
    assert f"/calendar/{feed.id}/revoke" in listing and f"/calendar/{feed.id}/reissue" in listing
    assert client.post(f"/calendar/{feed.id}/revoke").status_code == 302
    assert fetch(client, token).status_code == 404


def test_team_page_links_to_a_team_feed_and_bad_input_changes_nothing(client, world: World):
    login(client, world.leader_a)
    team_page = client.get(f"/teams/{world.team_a.id}").get_data(as_text=True)
    assert f"/calendar?target=team:{world.team_a.id}" in team_page
    for target in ("team:abc", f"team:{world.team_b.id}", "", "planet:1"):
        response = client.post("/calendar", data={"target": target})
        assert response.status_code == 400, target
        assert "field-error" in response.get_data(as_text=True)
    assert db.session.scalar(select(Feed)) is None


def test_copy_script_is_served_from_self(client):
    response = client.get("/calendar/copy.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert b"clipboard" in response.data


def test_the_unit_picker_shows_the_tree_indented(client, world: World, make):
    village = make.unit("莲花社区", parent=world.street_a)
    login(client, world.coordinator_a)
    html = client.get("/calendar").get_data(as_text=True)
    options = re.findall(r'<option value="unit:(\d+)"[^>]*>([^<]*)</option>', html)
    nbsp = "\u00a0"
    assert options == [
        (str(world.district_a.id), "鄂城区 及下属"),
        (str(world.street_a.id), nbsp * 3 + "凤凰街道 及下属"),
        (str(village.id), nbsp * 6 + "莲花社区 及下属"),
    ]


def test_without_public_base_url_the_link_is_the_requests_origin_port_included(
    app, client, world: World, monkeypatch
):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", None)
    monkeypatch.setitem(app.config, "SERVER_NAME", None)
    # As `flask run` on port 5000 is reached: every request to that origin.
    origin = "http://127.0.0.1:5000"
    person = world.coordinator_a
    response = client.post(
        "/login", data={"phone": person.phone, "password": PASSWORD}, base_url=origin
    )
    assert response.status_code == 302
    data = {"target": f"unit:{world.district_a.id}"}
    html = client.post("/calendar", data=data, base_url=origin).get_data(as_text=True)
    assert f"{origin}/feeds/" in html and "webcal://127.0.0.1:5000/feeds/" in html
