"""POST /api/v1/events with ``repeat``: a weekly repeating event; PATCH skips and moves weeks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests import factories
from tests.api.conftest import refused
from tests.api.test_events import SHANGHAI, event_body, iso
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.extensions import db


@pytest.fixture
def team(make):
    return make.team()


@pytest.fixture
def as_leader(api, make, team):
    return api.as_(make.leader(team))


def one_shift(start):
    return [{"title": "巡堤", "starts_at": iso(start), "ends_at": iso(start + timedelta(hours=3)),
             "capacity": 5}]  # fmt: skip


def test_create_a_weekly_event(as_leader, team):
    start = factories.future(72)
    body = event_body(team, shifts=one_shift(start), repeat={"weeks": 10})
    response = as_leader.post("/api/v1/events", json=body)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["recurrence_rule"] == "FREQ=WEEKLY;COUNT=10"
    assert [s["starts_at"] for s in created["shifts"]] == [
        iso(start + timedelta(weeks=n)) for n in range(10)
    ]
    assert all(s["series_starts_at"] == s["starts_at"] for s in created["shifts"])
    assert len({s["code"] for s in created["shifts"]}) == 10

    one_off = as_leader.post("/api/v1/events", json=event_body(team)).get_json()
    assert one_off["recurrence_rule"] is None
    assert {s["series_starts_at"] for s in one_off["shifts"]} == {None}


def test_until_a_date(as_leader, team):
    start = factories.future(72)
    until = (start + timedelta(weeks=4)).astimezone(SHANGHAI).date()
    body = event_body(team, shifts=one_shift(start), repeat={"until": until.isoformat()})
    created = as_leader.post("/api/v1/events", json=body).get_json()
    assert len(created["shifts"]) == 5
    assert created["recurrence_rule"].startswith("FREQ=WEEKLY;UNTIL=")
    assert created["recurrence_rule"].endswith("Z")


@pytest.mark.parametrize(
    ("repeat", "shifts", "field"),
    [
        ({"weeks": 53}, 1, "repeat.weeks"),
        ({"weeks": 1}, 1, "repeat.weeks"),
        ({"weeks": "4"}, 1, "repeat.weeks"),
        ({"until": "30/09/2026"}, 1, "repeat.until"),
        ({"every": 2}, 1, "repeat.every"),
        ({}, 1, "repeat"),
        ({"weeks": 4, "until": "2099-01-01"}, 1, "repeat"),
        ({"until": "2000-01-01"}, 1, "repeat.until"),
        ({"weeks": 4}, 2, "shifts"),
    ],
)
def test_bad_repetition_is_a_problem_and_nothing_changes(
    as_leader, team, row_counts, repeat, shifts, field
):
    start = factories.future(72)
    rows = one_shift(start) + one_shift(start + timedelta(hours=4))
    body = event_body(team, shifts=rows[:shifts], repeat=repeat)
    before = row_counts()
    errors = refused(as_leader.post("/api/v1/events", json=body), 422)
    assert field in errors, errors
    assert row_counts() == before


def test_patch_skips_and_moves_weeks_but_adds_none(as_leader, team, row_counts):
    start = factories.future(72)
    body = event_body(team, shifts=one_shift(start), repeat={"weeks": 4})
    created = as_leader.post("/api/v1/events", json=body).get_json()
    weeks = created["shifts"]

    def shift_body(s, move=timedelta(0)):
        starts = db.session.get(Shift, s["id"]).starts_at + move
        return {"id": s["id"], "title": s["title"], "starts_at": iso(starts),
                "ends_at": iso(starts + timedelta(hours=3)), "capacity": s["capacity"]}  # fmt: skip

    changed = [shift_body(weeks[0]), shift_body(weeks[2], timedelta(days=1)), shift_body(weeks[3])]
    response = as_leader.patch(f"/api/v1/events/{created['id']}", json={"shifts": changed})
    assert response.status_code == 200, response.get_json()
    after = {s["id"]: s for s in response.get_json()["shifts"]}
    assert after[weeks[1]["id"]]["is_cancelled"] is True
    moved = after[weeks[2]["id"]]
    assert moved["starts_at"] != moved["series_starts_at"] == weeks[2]["series_starts_at"]

    before = row_counts()
    extra = {**shift_body(weeks[0], timedelta(days=2)), "id": None}
    extra.pop("id")
    errors = refused(
        as_leader.patch(f"/api/v1/events/{created['id']}", json={"shifts": [*changed, extra]}),
        422,
    )
    assert "每周重复的活动不能添加单独的班次" in errors["shifts"]
    assert row_counts() == before
    assert db.session.get(Event, created["id"]).revision == 1
