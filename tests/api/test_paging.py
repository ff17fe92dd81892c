"""List answers say how many items there are in all and where the next page is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.extensions import db
from volunteer_hub.hours import records, rollups


@pytest.fixture
def region(make):
    """A unit with three teams, the first with three events; its coordinator."""
    unit = make.unit()
    teams = [make.team(unit) for _ in range(3)]
    for days in (2, 3, 4):
        make.event(teams[0], starts_at=make.future(24 * days))
    coordinator = make.coordinator(unit)
    db.session.commit()
    return unit, teams, coordinator


def test_a_page_of_teams_says_the_total_and_links_the_next(api, region):
    unit, teams, coordinator = region
    client = api.as_(coordinator)

    first = client.get(f"/api/v1/teams?unit_id={unit.id}&limit=2").get_json()
    assert (first["total"], first["limit"], first["offset"]) == (3, 2, 0)
    assert len(first["items"]) == 2
    assert first["next"] == f"/api/v1/teams?unit_id={unit.id}&limit=2&offset=2"

    last = client.get(first["next"]).get_json()
    assert [item["id"] for item in first["items"] + last["items"]] == [t.id for t in teams]
    assert (last["total"], last["next"]) == (3, None)


def test_a_page_past_the_end_still_counts_all(api, region):
    unit, _teams, coordinator = region
    answer = api.as_(coordinator).get(f"/api/v1/teams?unit_id={unit.id}&offset=10").get_json()
    assert (answer["items"], answer["total"], answer["next"]) == ([], 3, None)


def test_events_page_keeps_the_other_parameters_in_the_next_link(api, region):
    _unit, teams, coordinator = region
    url = f"/api/v1/events?team_id={teams[0].id}&from=2000-01-01T00:00:00%2B08:00&limit=1"
    first = api.as_(coordinator).get(url).get_json()
    assert (len(first["items"]), first["total"]) == (1, 3)
    assert first["next"] == (
        f"/api/v1/events?team_id={teams[0].id}&from=2000-01-01T00%3A00%3A00%2B08%3A00"
        "&limit=1&offset=1"
    )
    second = api.as_(coordinator).get(first["next"]).get_json()
    assert second["offset"] == 1 and second["items"][0]["id"] != first["items"][0]["id"]
    assert second["next"].endswith("&offset=2")


def test_units_and_an_empty_list(api, region, make):
    _unit, _teams, coordinator = region
    units = api.as_(coordinator).get("/api/v1/units").get_json()
    assert (units["total"], units["next"]) == (1, None)
    lonely = make.coordinator(make.unit())
    db.session.commit()
    empty = api.as_(lonely).get("/api/v1/events").get_json()
    assert (empty["items"], empty["total"], empty["next"]) == ([], 0, None)


def test_the_document_names_total_and_next_on_every_list(openapi):
    schemas = openapi["components"]["schemas"]
    for name in ("UnitList", "TeamList", "EventList", "ServiceRecordList", "HoursList"):
        properties = schemas[name]["properties"]
        assert {"items", "limit", "offset", "total", "next"} <= set(properties), name
        assert {"total", "next"} <= set(schemas[name]["required"]), name


def test_service_records_and_hour_totals_are_paged_too(api, make):
    """Three members with two verified records each, in two months."""
    team = make.team()
    leader = make.leader(team)
    members = [make.member(team) for _ in range(3)]
    start = datetime(2026, 3, 2, 8, tzinfo=UTC)
    for days in (0, 31):
        for member in members:
            records.add_unplanned(
                team.id,
                member.id,
                viewer=viewer_for(leader),
                category_id=make.category().id,
                content="夜间抢险",
                started_at=start + timedelta(days=days),
                ended_at=start + timedelta(days=days, hours=2),
                verified=True,
            )
    rollups.rebuild_all()
    db.session.commit()
    client = api.as_(leader)

    listed = client.get(f"/api/v1/service-records?team_id={team.id}&limit=4").get_json()
    assert (len(listed["items"]), listed["total"]) == (4, 6)
    assert listed["next"] == f"/api/v1/service-records?team_id={team.id}&limit=4&offset=4"

    by_person = client.get("/api/v1/hours?group_by=person&limit=2").get_json()
    assert (len(by_person["items"]), by_person["total"]) == (2, 3)
    assert by_person["next"] == "/api/v1/hours?group_by=person&limit=2&offset=2"
    by_month = client.get(f"/api/v1/hours?group_by=month&team_id={team.id}").get_json()
    assert ([row["month"] for row in by_month["items"]], by_month["total"]) == (
        ["2026-03", "2026-04"],
        2,
    )


def test_unpaged_lists_say_their_total_too(api, make):
    team = make.team()
    leader = make.leader(team)
    for _ in range(2):
        make.member(team)
    shift = make.shifts_of(make.event(team))[0]
    db.session.commit()
    client = api.as_(leader)
    members = client.get(f"/api/v1/teams/{team.id}/members").get_json()
    assert members["total"] == len(members["items"]) == 3
    roster = client.get(f"/api/v1/shifts/{shift.id}/signups").get_json()
    assert (roster["total"], roster["items"]) == (0, [])
