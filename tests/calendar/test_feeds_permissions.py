"""Who may create which feed: as everywhere in the app, what one may not see is 404."""

# ruff: noqa: F811  (pytest fixtures imported from feeds_support are parameters here)

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.calendar.feeds_support import World, fetch, issue, world  # noqa: F401
from tests.conftest import login
from tests.volunteers.conftest import me_login
from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.auth.services import grant_role
from volunteer_hub.calendar import services
from volunteer_hub.calendar.models import Feed
from volunteer_hub.errors import NotFound, ValidationFailed
from volunteer_hub.extensions import db
from volunteer_hub.teams import administration
from volunteer_hub.teams import services as teams

# (who, scope, target, allowed)
CASES = [
    ("member_a", "person", "member_a", True),
    ("member_a", "person", "leader_a", False),
    ("member_a", "team", "team_a", False),  # members do not see the team's pages
    ("leader_a", "person", "leader_a", True),
    ("leader_a", "team", "team_a", True),
    ("leader_a", "team", "team_b", False),
    ("leader_a", "unit", "street_a", False),
    ("coordinator_a", "team", "team_a", True),
    ("coordinator_a", "team", "team_b", False),
    ("coordinator_a", "unit", "district_a", True),
    ("coordinator_a", "unit", "street_a", True),
    ("coordinator_a", "unit", "city", False),
    ("coordinator_a", "unit", "district_b", False),
    ("coordinator_city", "unit", "city", True),
    ("coordinator_city", "team", "team_b", True),
    ("admin", "unit", "district_b", True),
    ("admin", "team", "team_a", True),
    ("admin", "person", "member_a", False),  # a person feed is for oneself only
]


@pytest.mark.parametrize(("who", "scope", "target", "allowed"), CASES)
def test_who_may_create_which_feed(world: World, who, scope, target, allowed):
    person = getattr(world, who)
    target_id = getattr(world, target).id
    before = db.session.scalar(select(func.count()).select_from(Feed))
    if allowed:
        issued = services.create_feed(scope, target_id, (), viewer_for(person))
        db.session.commit()
        assert issued.feed.scope == scope
        assert issued.feed.created_by_id == person.id
    else:
        with pytest.raises(NotFound):
            services.create_feed(scope, target_id, (), viewer_for(person))
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Feed)) == before


def test_missing_target_is_the_same_404(world: World):
    with pytest.raises(NotFound):
        services.create_feed("team", 999_999, (), viewer_for(world.admin))
    with pytest.raises(NotFound):
        services.create_feed("unit", 999_999, (), viewer_for(world.admin))


def test_bad_scope_and_categories_are_refused(world: World, make):
    viewer = viewer_for(world.leader_a)
    with pytest.raises(ValidationFailed) as caught:
        services.create_feed("city", world.team_a.id, (), viewer)
    assert "scope" in caught.value.errors
    with pytest.raises(ValidationFailed) as caught:
        services.create_feed("team", world.team_a.id, [999_999], viewer)
    assert "categories" in caught.value.errors
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Feed)) == 0


def test_a_texted_code_gives_a_leader_only_a_person_feed(client, world: World):
    """Logged in by SMS code, a leader has a volunteer's powers: own shifts, no team."""
    me_login(client, world.leader_a)
    page = client.get("/calendar")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'value="person:{world.leader_a.id}"' in html
    assert f'value="team:{world.team_a.id}"' not in html

    refused = client.post("/calendar", data={"target": f"team:{world.team_a.id}"})
    assert refused.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Feed)) == 0

    made = client.post("/calendar", data={"target": f"person:{world.leader_a.id}"})
    assert made.status_code == 200
    assert "/feeds/" in made.get_data(as_text=True)
    feed = db.session.scalar(select(Feed))
    assert (feed.scope, feed.person_id) == ("person", world.leader_a.id)


def test_others_cannot_revoke_or_reissue_my_feed(client, world: World):
    issued = services.create_feed("team", world.team_a.id, (), viewer_for(world.leader_a))
    feed_id = issued.feed.id
    db.session.commit()
    login(client, world.coordinator_a)  # may see the team, but the feed is not theirs
    assert client.post(f"/calendar/{feed_id}/revoke").status_code == 404
    assert client.post(f"/calendar/{feed_id}/reissue").status_code == 404
    db.session.rollback()
    assert db.session.get(Feed, feed_id).revoked_at is None


def test_pages_need_a_login(client):
    response = client.get("/calendar")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def _step_down_by_administration(world: World) -> None:
    administration.remove_leader(
        viewer_for(world.coordinator_a), world.team_a.id, world.leader_a.id
    )


def _step_down_by_member_edit(world: World) -> None:
    leader = world.leader_a
    teams.update_member(
        world.team_a.id, leader.id, None, None, "member", viewer=viewer_for(world.coordinator_a)
    )


def _leave_the_team(world: World) -> None:
    teams.remove_member(world.team_a.id, world.leader_a.id)


@pytest.mark.parametrize(
    "step_down", [_step_down_by_administration, _step_down_by_member_edit, _leave_the_team]
)
def test_a_leader_who_steps_down_loses_the_team_feed_not_their_own(client, world, make, step_down):
    make.leader(world.team_a, name="新队长")  # a team keeps a leader
    _team_feed, team_token = issue(world.leader_a, "team", world.team_a.id)
    _own_feed, own_token = issue(world.leader_a, "person", world.leader_a.id)
    _coordinators, coordinator_token = issue(world.coordinator_a, "team", world.team_a.id)
    assert fetch(client, team_token).status_code == 200

    step_down(world)
    db.session.commit()

    assert fetch(client, team_token).status_code == 404
    assert fetch(client, own_token).status_code == 200
    assert fetch(client, coordinator_token).status_code == 200


def test_a_coordinator_moved_elsewhere_loses_the_old_units_feeds(client, world: World):
    _unit_feed, unit_token = issue(world.coordinator_a, "unit", world.district_a.id)
    _team_feed, team_token = issue(world.coordinator_a, "team", world.team_a.id)
    _city_feed, city_token = issue(world.coordinator_city, "unit", world.district_a.id)

    grant_role(world.coordinator_a, "coordinator", world.district_b.id, [])
    db.session.commit()

    assert fetch(client, unit_token).status_code == 404
    assert fetch(client, team_token).status_code == 404
    assert fetch(client, city_token).status_code == 200
    # Made coordinator of the whole city instead: nothing is out of reach, nothing goes.
    _unit_feed, again = issue(world.coordinator_a, "unit", world.district_b.id)
    grant_role(world.coordinator_a, "coordinator", world.city.id, [])
    db.session.commit()
    assert fetch(client, again).status_code == 200
