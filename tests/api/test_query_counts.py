"""Every list answers with the same number of queries for few rows and for many."""

from __future__ import annotations

import pytest

from volunteer_hub.extensions import db
from volunteer_hub.signups import services as signups


def _populate(make, size: int):
    """A unit with ``size`` sub-units and teams, members and signups; and its coordinator."""
    unit = make.unit()
    team = make.team(unit)
    for _ in range(size):
        make.member(team)
        make.team(make.unit(parent=unit))
    shift = make.shifts_of(make.event(team, capacity=max(size // 2, 1), open_to_all=True))[0]
    for _ in range(size):
        signups.sign_up(shift.id, make.person().id, "web")  # half of them waitlisted
    db.session.commit()
    return make.coordinator(unit), {
        "roster": f"/api/v1/shifts/{shift.id}/signups",
        "members": f"/api/v1/teams/{team.id}/members",
        "teams": f"/api/v1/teams?unit_id={unit.id}",
        "units": "/api/v1/units",
    }


@pytest.mark.parametrize("listing", ["roster", "members", "teams", "units"])
def test_list_query_count_does_not_grow(api, make, count_queries, listing):
    few, many = _populate(make, 3), _populate(make, 30)

    def measure(coordinator, urls):
        client, url = api.as_(coordinator), urls[listing]
        client.get(url)  # the token is touched once
        db.session.rollback()
        with count_queries() as counter:
            response = client.get(url)
        assert response.status_code == 200
        return counter.count, len(response.get_json()["items"])

    few_count, few_items = measure(*few)
    many_count, many_items = measure(*many)
    assert many_items > few_items
    assert few_count == many_count
