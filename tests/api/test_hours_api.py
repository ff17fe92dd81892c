"""GET /api/v1/service-records, POST /api/v1/service-records/{id}/verify and
GET /api/v1/hours: scoped to the token's viewer, figures from the roll-ups equal to the
records once the workers ran; every answer checked against the OpenAPI document."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.api.conftest import refused
from tests.hours.report_support import at, served, settle, tree
from volunteer_hub.extensions import db
from volunteer_hub.hours.models import RecordStatus, ServiceRecord


@pytest.fixture
def scene(make, broker, worker):
    s = tree()
    s.a, s.b = served(s.t1, s.l1, when=at(2031, 3, 5), hours_each=2, people=2)
    served(
        s.t1, s.l1, when=at(2031, 5, 5), hours_each=3, people=0, existing=[s.a], category="红色宣讲"
    )
    # Pending, on a shift that is over by now: the leader verifies it through the API.
    served(s.t2, s.l2, when=at(2025, 5, 20), hours_each=1.5, verify=False)
    served(s.t3, s.l3, when=at(2031, 4, 1), hours_each=5)
    settle(broker, worker)
    return s


def pending_record() -> ServiceRecord:
    return db.session.scalar(select(ServiceRecord).where(ServiceRecord.status == "pending"))


def test_a_leader_lists_their_teams_records_with_full_phones(api, scene):
    response = api.as_(scene.l1).get("/api/v1/service-records")
    assert response.status_code == 200
    body = response.get_json()
    assert {item["team"]["id"] for item in body["items"]} == {scene.t1.id}
    assert len(body["items"]) == 3
    newest = body["items"][0]
    assert newest["minutes"] == 180 and newest["hours"] == 3
    assert newest["category"]["name"] == "红色宣讲"
    assert newest["started_at"].endswith("+08:00")
    assert not newest["person"]["phone_masked"]
    assert (body["limit"], body["offset"]) == (50, 0)


def test_filters_and_pagination(api, scene):
    client = api.as_(scene.coordinator)
    everything = client.get("/api/v1/service-records").get_json()["items"]
    assert {item["team"]["id"] for item in everything} == {scene.t1.id, scene.t2.id}
    pending = client.get("/api/v1/service-records?status=pending").get_json()["items"]
    assert [item["status"] for item in pending] == ["pending"]
    march = client.get("/api/v1/service-records?from=2031-03-01&to=2031-03-31").get_json()
    assert len(march["items"]) == 2
    mine = client.get(f"/api/v1/service-records?person_id={scene.a.id}").get_json()["items"]
    assert {item["person"]["id"] for item in mine} == {scene.a.id}
    page = client.get("/api/v1/service-records?limit=1&offset=1").get_json()
    assert [item["id"] for item in page["items"]] == [everything[1]["id"]]
    # A team outside the coordinator's subtree: 404, not an empty list.
    refused(client.get(f"/api/v1/service-records?team_id={scene.t3.id}"), 404)
    refused(client.get("/api/v1/service-records?from=2031-02-30"), 422)
    assert "to" in refused(client.get("/api/v1/service-records?to=0"), 422)  # not a Unix time
    assert "from" in refused(client.get("/api/v1/hours?group_by=team&from=2031-3-1"), 422)
    # An empty filter, as a URL template leaves it, is refused with the way to leave it out.
    templated = refused(client.get("/api/v1/hours?group_by=team&unit_id=&from="), 422)
    assert "省去该参数" in templated["unit_id"] and "省去该参数" in templated["from"], templated


def test_a_volunteer_sees_only_their_own_records_masked_elsewhere(api, scene):
    client = api.as_(scene.b)
    items = client.get("/api/v1/service-records").get_json()["items"]
    assert [item["person"]["id"] for item in items] == [scene.b.id]
    assert not items[0]["person"]["phone_masked"]  # their own number


def test_verify_counts_the_record_after_the_worker(api, scene, broker, worker):
    record = pending_record()
    record_id = record.id
    before = api.as_(scene.l2).get("/api/v1/hours?group_by=team").get_json()["items"]
    assert before == []

    # Outside the scope: another team's leader, a coordinator of another district.
    refused(api.as_(scene.l1).post(f"/api/v1/service-records/{record_id}/verify"), 404)
    refused(api.as_(scene.l3).post(f"/api/v1/service-records/{record_id}/verify"), 404)
    refused(api.as_(scene.b).post(f"/api/v1/service-records/{record_id}/verify"), 404)
    db.session.rollback()
    assert db.session.get(ServiceRecord, record_id).status == RecordStatus.PENDING

    response = api.as_(scene.l2).post(f"/api/v1/service-records/{record_id}/verify")
    assert response.status_code == 200
    assert response.get_json()["status"] == "verified"
    settle(broker, worker)
    after = api.as_(scene.l2).get("/api/v1/hours?group_by=team").get_json()["items"]
    assert after == [
        {
            "person": None,
            "team": {"id": scene.t2.id, "name": "凤凰街道老兵志愿服务队"},
            "category": None,
            "month": None,
            "minutes": 90,
            "hours": 1.5,
            "services": 1,
        }
    ]
    refused(api.as_(scene.l2).post("/api/v1/service-records/999999/verify"), 404)


def test_hours_by_each_grouping_equal_the_records(api, scene):
    client = api.as_(scene.admin)
    by_team = client.get("/api/v1/hours?group_by=team").get_json()["items"]
    assert [(row["team"]["id"], row["minutes"], row["services"]) for row in by_team] == [
        (scene.t1.id, 420, 3),
        (scene.t3.id, 300, 1),
    ]
    by_person = client.get(f"/api/v1/hours?group_by=person&team_id={scene.t1.id}").get_json()
    assert [(row["person"]["id"], row["minutes"]) for row in by_person["items"]] == [
        (scene.a.id, 300),
        (scene.b.id, 120),
    ]
    by_category = client.get(f"/api/v1/hours?group_by=category&unit_id={scene.echeng.id}")
    assert {row["category"]["name"]: row["hours"] for row in by_category.get_json()["items"]} == {
        "防汛抗旱": 4,
        "红色宣讲": 3,
    }
    by_month = client.get("/api/v1/hours?group_by=month&from=2031-04-15&to=2031-05-01")
    assert [(row["month"], row["minutes"]) for row in by_month.get_json()["items"]] == [
        ("2031-04", 300),
        ("2031-05", 180),
    ]


def test_hours_are_scoped_to_the_viewer(api, scene):
    coordinator = api.as_(scene.coordinator)
    teams = coordinator.get("/api/v1/hours?group_by=team").get_json()["items"]
    assert {row["team"]["id"] for row in teams} == {scene.t1.id}  # t2 has nothing verified
    refused(coordinator.get(f"/api/v1/hours?group_by=team&unit_id={scene.huarong.id}"), 404)
    refused(coordinator.get(f"/api/v1/hours?group_by=person&team_id={scene.t3.id}"), 404)
    refused(coordinator.get("/api/v1/hours"), 422)  # group_by is required
    refused(coordinator.get("/api/v1/hours?group_by=week"), 422)
    refused(coordinator.get("/api/v1/hours?group_by=month&from=2031-05-01&to=2031-01-01"), 422)
    leader = api.as_(scene.l3)
    assert [
        row["minutes"] for row in leader.get("/api/v1/hours?group_by=month").get_json()["items"]
    ] == [300]
    assert api.anonymous().get("/api/v1/hours?group_by=team").status_code == 401


def test_verify_is_refused_before_the_shift_ends(api, make):
    """Issue 11, defect 9: hours are verified only for time that has happened."""
    from tests.hours.page_support import past_shift
    from volunteer_hub.auth.permissions import viewer_for
    from volunteer_hub.hours import attendance

    team = make.team()
    leader = make.leader(team)
    shift, (person, _other) = past_shift(team, started_ago=1, hours=4)  # ends in 3 hours
    record = attendance.mark_attendance(shift.id, person.id, "present", viewer=viewer_for(leader))
    db.session.commit()
    response = api.as_(leader).post(f"/api/v1/service-records/{record.id}/verify")
    refused(response, 409)
    body = response.get_json()
    assert body["code"] == "service-not-over"
    assert "结束后才能审核" in body["detail"]
    db.session.expire_all()
    assert db.session.get(ServiceRecord, record.id).status == RecordStatus.PENDING
