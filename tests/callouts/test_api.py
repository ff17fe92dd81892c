"""POST /api/v1/callouts (dry_run), GET /api/v1/callouts/{id}, POST .../stop; every
answer checked against the OpenAPI document."""

import pytest

from tests.api.conftest import ApiClient, refused
from volunteer_hub.api.openapi import document
from volunteer_hub.callouts import answers
from volunteer_hub.extensions import db


@pytest.fixture
def api(client, app):
    return ApiClient(client, document(app))


def body(scene, **overrides):
    return {
        "shift_ids": [scene["shift"].id],
        "team_ids": [scene["team"].id],
        "message": "江堤出现管涌，请速来",
        "urgent": True,
        **overrides,
    }


def test_preview_start_get_stop(api, scene):
    as_leader = api.as_(scene["leader"])
    preview = as_leader.post("/api/v1/callouts", json=body(scene, dry_run=True))
    assert preview.status_code == 200, preview.get_json()
    assert preview.get_json() == {
        "dry_run": True,
        "recipients": 4,
        "left_out": {"opted_out": 0, "no_skill": 0, "busy": 0, "resting": 0, "capped": 0},
    }

    started = as_leader.post(
        "/api/v1/callouts",
        json=body(scene, rings=[{"team_ids": [scene["team"].id], "after_minutes": 15}]),
    )
    assert started.status_code == 201, started.get_json()
    callout_id = started.get_json()["id"]
    assert started.get_json()["recipients"] == 4

    first = scene["members"][0]
    answers.answer(first.id, None, True)
    answers.answer(scene["members"][1].id, None, False)
    db.session.commit()

    got = as_leader.get(f"/api/v1/callouts/{callout_id}").get_json()
    assert got["status"] == "active"
    assert (got["seats"], got["filled"], got["ring"], got["recipients"]) == (2, 1, 0, 4)
    assert got["next_ring_at"] is not None
    assert [(a["person_id"], a["answer"]) for a in got["answers"]] == [
        (first.id, "accepted"),
        (scene["members"][1].id, "declined"),
    ]
    assert got["total"] == 2 and got["next"] is None
    paged = as_leader.get(f"/api/v1/callouts/{callout_id}?limit=1").get_json()
    assert len(paged["answers"]) == 1 and paged["next"].endswith("limit=1&offset=1")

    stopped = as_leader.post(f"/api/v1/callouts/{callout_id}/stop")
    assert stopped.status_code == 200
    assert stopped.get_json()["status"] == "stopped" and stopped.get_json()["next_ring_at"] is None
    refused(as_leader.post(f"/api/v1/callouts/{callout_id}/stop"), 409)


def test_a_leader_outside_the_team_gets_404(api, scene, make):
    stranger = make.leader(scene["other"])
    as_stranger = api.as_(stranger)
    refused(as_stranger.post("/api/v1/callouts", json=body(scene, dry_run=True)), 404)
    # their own team as audience, someone else's shift: still 404
    own = body(scene, team_ids=[scene["other"].id])
    refused(as_stranger.post("/api/v1/callouts", json=own), 404)
    # a leader cannot name a unit
    mine = make.shifts_of(make.event(scene["other"]))[0]
    unit_wide = {"shift_ids": [mine.id], "unit_id": scene["unit"].id}
    assert refused(as_stranger.post("/api/v1/callouts", json=unit_wide), 404) == {
        "audience.unit_id": "单位不存在"
    }

    started = api.as_(scene["leader"]).post("/api/v1/callouts", json=body(scene))
    callout_id = started.get_json()["id"]
    refused(as_stranger.get(f"/api/v1/callouts/{callout_id}"), 404)
    refused(as_stranger.post(f"/api/v1/callouts/{callout_id}/stop"), 404)
    refused(api.anonymous().get(f"/api/v1/callouts/{callout_id}"), 401)


def test_a_coordinator_calls_out_the_unit(api, scene):
    as_coordinator = api.as_(scene["coordinator"])
    started = as_coordinator.post(
        "/api/v1/callouts",
        json={"shift_ids": [scene["shift"].id], "unit_id": scene["unit"].id, "urgent": True},
    )
    assert started.status_code == 201, started.get_json()
    assert started.get_json()["recipients"] == 4 + 3 + 1  # the leader is a member too


def test_bad_input(api, scene):
    as_leader = api.as_(scene["leader"])
    both = body(scene, unit_id=scene["unit"].id)
    assert "audience" in refused(as_leader.post("/api/v1/callouts", json=both), 422)
    neither = {"shift_ids": [scene["shift"].id]}
    refused(as_leader.post("/api/v1/callouts", json=neither), 422)
    refused(as_leader.post("/api/v1/callouts", json=body(scene, skills=["潜水"])), 422)
    refused(
        as_leader.post(
            "/api/v1/callouts",
            json=body(scene, rings=[{"team_ids": [scene["team"].id], "after_minutes": 0}]),
        ),
        422,
    )
    refused(as_leader.post("/api/v1/callouts", json=body(scene, shift_ids=[])), 422)
