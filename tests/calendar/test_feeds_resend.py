"""The page with a new feed's link answers the POST itself (the token is shown once and
kept nowhere), so a refresh of it sends the same form again: that makes no second feed,
and the person is told why."""

# ruff: noqa: F811  (pytest fixtures imported from feeds_support are parameters here)

from __future__ import annotations

import re

from sqlalchemy import func, select

from tests.calendar.feeds_support import World, world  # noqa: F401
from tests.volunteers.conftest import me_login
from volunteer_hub.calendar.models import Feed
from volunteer_hub.extensions import db


def feed_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Feed))


def test_a_refresh_of_the_link_page_makes_no_second_feed(client, world: World):
    me_login(client, world.member_a)
    html = client.get("/calendar").get_data(as_text=True)
    key = re.search(r'name="once" value="([^"]+)"', html).group(1)
    form = {"target": f"person:{world.member_a.id}", "once": key}

    made = client.post("/calendar", data=form)
    assert made.status_code == 200 and "/feeds/" in made.get_data(as_text=True)
    assert feed_count() == 1

    # The browser's refresh: the same form, the same key.
    again = client.post("/calendar", data=form)
    assert again.status_code == 302
    assert again.headers["Location"] == f"/calendar?target=person:{world.member_a.id}"
    page = client.get(again.headers["Location"]).get_data(as_text=True)
    assert "这个表单已经提交过" in page and "没有再生成订阅链接" in page
    assert feed_count() == 1

    # The page shown then has a new key: a second feed wanted is a second feed made.
    key = re.search(r'name="once" value="([^"]+)"', page).group(1)
    client.post("/calendar", data={**form, "once": key})
    assert feed_count() == 2
