from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests import factories
from tests.api.conftest import refused
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.events.services import active_categories
from volunteer_hub.extensions import db
from volunteer_hub.signups import services as signups

SHANGHAI = ZoneInfo("Asia/Shanghai")


def iso(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).isoformat()


def event_body(team, **overrides):
    start = factories.future(72)
    body = {
        "team_id": team.id,
        "category": "防汛抗旱",
        "title": "长江巡堤",
        "location": "鄂州市鄂城区江堤",
        "description": "汛期巡堤查险",
        "shifts": [
            {
                "title": "早班",
                "starts_at": iso(start),
                "ends_at": iso(start + timedelta(hours=2)),
                "capacity": 3,
            },
            {
                "title": "晚班",
                "starts_at": iso(start + timedelta(hours=4)),
                "ends_at": iso(start + timedelta(hours=6)),
                "capacity": 2,
            },
        ],
    }
    body.update(overrides)
    return body


@pytest.fixture
def team(make):
    return make.team()


@pytest.fixture
def leader(make, team):
    return make.leader(team)


@pytest.fixture
def as_leader(api, leader):
    return api.as_(leader)


def test_create_event_answers_each_shift_with_id_and_code(as_leader, team):
    body = event_body(team)
    response = as_leader.post("/api/v1/events", json=body)

    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["team"] == {"id": team.id, "name": team.name}
    assert created["category"]["name"] == "防汛抗旱"
    assert created["status"] == "published"
    stored = db.session.scalars(
        db.select(Shift).where(Shift.event_id == created["id"]).order_by(Shift.starts_at)
    ).all()
    assert [s["id"] for s in created["shifts"]] == [s.id for s in stored]
    assert [s["code"] for s in created["shifts"]] == [s.code for s in stored]
    assert all(s["code"].isdigit() and len(s["code"]) >= 4 for s in created["shifts"])
    assert [s["capacity"] for s in created["shifts"]] == [3, 2]
    # Shown in Asia/Shanghai whatever offset came in.
    assert created["shifts"][0]["starts_at"] == body["shifts"][0]["starts_at"]
    assert created["starts_at"].endswith("+08:00")
    assert created["ends_at"] == body["shifts"][1]["ends_at"]


def test_times_in_any_offset_are_the_same_instant(as_leader, team):
    start = factories.future(30)
    body = event_body(
        team,
        shifts=[
            {
                "starts_at": start.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "ends_at": (start + timedelta(hours=1))
                .astimezone(ZoneInfo("Europe/Berlin"))
                .isoformat(),
                "capacity": 1,
            }
        ],
    )
    created = as_leader.post("/api/v1/events", json=body).get_json()
    assert created["shifts"][0]["starts_at"] == iso(start)
    assert created["shifts"][0]["ends_at"] == iso(start + timedelta(hours=1))
    assert db.session.get(Shift, created["shifts"][0]["id"]).starts_at == start


def test_category_by_id(as_leader, team, make):
    category = make.category("红色宣讲")
    created = as_leader.post("/api/v1/events", json=event_body(team, category=category.id))
    assert created.status_code == 201
    assert created.get_json()["category"] == {"id": category.id, "name": "红色宣讲"}


def test_get_event(as_leader, team, make):
    event = make.event(team, shifts=2)
    response = as_leader.get(f"/api/v1/events/{event.id}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == event.id
    assert [s["id"] for s in body["shifts"]] == [s.id for s in make.shifts_of(event)]


def test_list_events_filters_and_pages(as_leader, team, make):
    base = factories.future(24)
    events = [make.event(team, starts_at=base + timedelta(days=day)) for day in range(5)]
    draft = make.event(team, starts_at=base + timedelta(days=10), status="draft")
    other = make.event(make.team(), starts_at=base)

    everything = as_leader.get("/api/v1/events").get_json()
    assert [e["id"] for e in everything["items"]] == [e.id for e in events] + [draft.id]
    assert other.id not in [e["id"] for e in everything["items"]]
    assert (everything["limit"], everything["offset"]) == (50, 0)

    page = as_leader.get(f"/api/v1/events?team_id={team.id}&limit=2&offset=1").get_json()
    assert [e["id"] for e in page["items"]] == [events[1].id, events[2].id]

    # from/to select the events overlapping the span: day 2 and day 3 here.
    window = as_leader.get(
        "/api/v1/events",
        query_string={
            "from": iso(base + timedelta(days=2)),
            "to": iso(base + timedelta(days=3, hours=1)),
        },
    ).get_json()
    assert [e["id"] for e in window["items"]] == [events[2].id, events[3].id]

    drafts = as_leader.get("/api/v1/events?status=draft").get_json()
    assert [e["id"] for e in drafts["items"]] == [draft.id]


@pytest.mark.parametrize(
    ("query", "field", "words"),
    [
        ("limit=0", "limit", "至少为 1"),
        ("limit=201", "limit", "不能大于 200"),
        ("offset=-1", "offset", "至少为 0"),
        ("team_id=abc", "team_id", "应为整数"),
        ("status=deleted", "status", "draft、published、cancelled"),
        ("from=2025-07-01T09:00:00", "from", "时区"),
        ("from=2025-07-01T09:00:00+08:00", "from", "%2B"),  # the + arrives as a space
        ("to=1751331600", "to", "ISO 8601"),
        ("to=yesterday", "to", "ISO 8601"),
    ],
)
def test_list_events_refuses_bad_query(as_leader, query, field, words):
    response = as_leader.get(f"/api/v1/events?{query}")
    fields = refused(response, 422)
    assert words in fields[field], fields


def test_far_away_filter_bounds_mean_no_bound(as_leader, team, make):
    event = make.event(team)
    response = as_leader.get(
        "/api/v1/events",
        query_string={"from": "0006-02-22T11:42:03Z", "to": "9999-12-31T23:59:59-14:00"},
    )
    assert response.status_code == 200, response.get_json()
    assert [e["id"] for e in response.get_json()["items"]] == [event.id]


def test_patch_changes_only_given_fields(as_leader, team, make):
    event = make.event(team, shifts=2, description="原说明")
    shift_ids = [s.id for s in make.shifts_of(event)]
    response = as_leader.patch(f"/api/v1/events/{event.id}", json={"title": "长江巡堤（加强）"})

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["title"] == "长江巡堤（加强）"
    assert body["description"] == "原说明"
    assert body["revision"] == 1
    assert [s["id"] for s in body["shifts"]] == shift_ids
    assert not any(s["is_cancelled"] for s in body["shifts"])


def test_patch_replaces_the_shift_list(as_leader, team, make):
    event = make.event(team, shifts=2, capacity=1)
    first, second = make.shifts_of(event)
    waiting = [make.member(team) for _ in range(2)]
    for person in waiting:
        signups.sign_up(first.id, person.id, "web")
    db.session.commit()
    start = factories.future(200)

    response = as_leader.patch(
        f"/api/v1/events/{event.id}",
        json={
            "category": "抢险救灾",
            "shifts": [
                {
                    "id": first.id,
                    "title": "第一班（扩编）",
                    "starts_at": iso(first.starts_at),
                    "ends_at": iso(first.ends_at),
                    "capacity": 2,
                },
                {
                    "starts_at": iso(start),
                    "ends_at": iso(start + timedelta(hours=3)),
                    "capacity": 5,
                },
            ],
        },
    )

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["category"]["name"] == "抢险救灾"
    by_id = {s["id"]: s for s in body["shifts"]}
    assert by_id[first.id]["capacity"] == 2
    assert by_id[first.id]["filled"] == 2  # the waitlisted person moved up
    assert by_id[second.id]["is_cancelled"] is True  # left out: cancelled
    added = [s for s in body["shifts"] if s["id"] not in (first.id, second.id)]
    assert len(added) == 1 and added[0]["capacity"] == 5 and added[0]["code"]
    assert body["ends_at"] == iso(start + timedelta(hours=3))


def test_patch_refused_changes_nothing(as_leader, team, make, row_counts):
    event = make.event(team, capacity=2)
    shift = make.shifts_of(event)[0]
    for _ in range(2):
        signups.sign_up(shift.id, make.member(team).id, "web")
    db.session.commit()
    before = row_counts()

    response = as_leader.patch(
        f"/api/v1/events/{event.id}",
        json={
            "title": "改名",
            "shifts": [
                {
                    "id": shift.id,
                    "starts_at": iso(shift.starts_at),
                    "ends_at": iso(shift.ends_at),
                    "capacity": 1,
                }
            ],
        },
    )

    fields = refused(response, 422)
    assert "2 人确认" in fields["shifts.0.capacity"]
    assert row_counts() == before
    stored = db.session.get(Event, event.id)
    assert (stored.title, stored.revision) == ("长江巡堤", 0)


def test_patch_refuses_explicit_null(as_leader, team, make):
    event = make.event(team)
    fields = refused(as_leader.patch(f"/api/v1/events/{event.id}", json={"title": None}), 422)
    assert fields == {"title": "活动名称应为字符串"}


def test_cancel_event(as_leader, team, make):
    event = make.event(team, shifts=2)
    signup = signups.sign_up(make.shifts_of(event)[0].id, make.member(team).id, "web").signup
    db.session.commit()

    response = as_leader.post(f"/api/v1/events/{event.id}/cancel", json={"reason": "台风预警"})

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "cancelled"
    assert body["cancelled_at"].endswith("+08:00")
    assert "台风预警" in body["description"]
    assert all(s["is_cancelled"] for s in body["shifts"])
    db.session.refresh(signup)
    assert signup.status == "cancelled"

    again = as_leader.post(f"/api/v1/events/{event.id}/cancel")
    assert refused(again, 409) == {}
    assert again.get_json()["code"] == "event-cancelled"
    edit = as_leader.patch(f"/api/v1/events/{event.id}", json={"title": "改名"})
    assert refused(edit, 409) == {}


def test_cancel_without_body(as_leader, team, make):
    event = make.event(team)
    response = as_leader.post(f"/api/v1/events/{event.id}/cancel")
    assert response.status_code == 200
    assert response.get_json()["status"] == "cancelled"


def _shift(**overrides):
    start = factories.future(72)
    shift = {
        "title": "早班",
        "starts_at": iso(start),
        "ends_at": iso(start + timedelta(hours=2)),
        "capacity": 3,
    }
    shift.update(overrides)
    return shift


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"shifts": [_shift(ends_at=iso(factories.future(70)))]},
            "shifts.0.ends_at",
            "第 1 个班次：结束时间必须晚于开始时间",
        ),
        ({"shifts": [_shift(capacity=0)]}, "shifts.0.capacity", "第 1 个班次：人数至少为 1"),
        (
            {"shifts": [_shift(), _shift(capacity=-3)]},
            "shifts.1.capacity",
            "第 2 个班次：人数至少为 1",
        ),
        (
            {"shifts": [_shift(starts_at="2030-07-01T09:00:00")]},
            "shifts.0.starts_at",
            "第 1 个班次：开始时间必须带时区偏移，如 2025-07-01T09:00:00+08:00",
        ),
        ({"shifts": [_shift(capacity="3")]}, "shifts.0.capacity", "第 1 个班次：人数应为整数"),
        ({"shifts": []}, "shifts", "班次至少需要 1 个"),
        ({"title": ""}, "title", "请填写活动名称"),
        ({"title": "   "}, "title", "请填写活动名称"),
        (
            {"shifts": [_shift(ends_at="0001-01-01T00:00:00+14:00")]},
            "shifts.0.ends_at",
            "第 1 个班次：结束时间超出范围（2000–2099 年）",
        ),
        ({"title": None}, "title", "活动名称应为字符串"),
        ({"status": "cancelled"}, "status", "状态应为以下之一：draft、published"),
        ({"capcity": 3}, "capcity", "不认识的字段：capcity"),
    ],
)
def test_create_event_refuses_bad_input_and_changes_nothing(
    as_leader, team, row_counts, change, field, message
):
    before = row_counts()
    response = as_leader.post("/api/v1/events", json=event_body(team, **change))

    fields = refused(response, 422)
    assert fields[field] == message, fields
    body = response.get_json()
    assert body["title"] == "输入有误"
    assert message in body["detail"]
    assert row_counts() == before


@pytest.mark.parametrize("category", ["不存在的类别", 999999, "99999999999"])
def test_an_unknown_category_is_refused_with_the_valid_ones(as_leader, team, row_counts, category):
    before = row_counts()
    response = as_leader.post("/api/v1/events", json=event_body(team, category=category))

    message = refused(response, 422)["category"]
    names = [c.name for c in active_categories()]
    assert "防汛抗旱" in names
    assert message == "没有这个服务类别。可选：" + "、".join(names)
    assert row_counts() == before
    # The problem is UTF-8 like a successful answer: the words themselves, no \u escapes.
    assert "防汛抗旱".encode() in response.data
    assert b"\\u" not in response.data


def test_missing_field_is_named(as_leader, team, row_counts):
    body = event_body(team)
    del body["shifts"][0]["ends_at"]
    del body["title"]
    fields = refused(as_leader.post("/api/v1/events", json=body), 422)
    assert fields == {"title": "请填写活动名称", "shifts.0.ends_at": "第 1 个班次：请填写结束时间"}


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b'{"team_id": 1, "title": ', "不是有效的 JSON"),
        (b"{'team_id': 1}", "不是有效的 JSON"),
        (b"", "缺少请求体"),
    ],
)
def test_malformed_json_is_400(as_leader, row_counts, payload, words):
    before = row_counts()
    response = as_leader.post(
        "/api/v1/events", data=payload, headers={"Content-Type": "application/json"}
    )
    refused(response, 400)
    assert response.get_json()["code"] == "malformed-json"
    assert words in response.get_json()["detail"]
    assert row_counts() == before


def test_body_must_be_an_object(as_leader):
    fields = refused(as_leader.post("/api/v1/events", json=[1, 2]), 422)
    assert fields == {"body": "请求体应为 JSON 对象"}


def test_event_list_runs_the_same_queries_for_10_or_200_shifts(api, make, count_queries):
    small, large = make.team(), make.team()
    make.event(small, shifts=10)
    make.event(large, shifts=100)
    make.event(large, shifts=100, starts_at=factories.future(400))
    client = api.as_(make.admin())

    def measure(team):
        client.get(f"/api/v1/events?team_id={team.id}")  # the token is touched once
        db.session.rollback()
        with count_queries() as counter:
            response = client.get(f"/api/v1/events?team_id={team.id}")
        assert response.status_code == 200
        return counter.count, sum(len(e["shifts"]) for e in response.get_json()["items"])

    small_count, small_shifts = measure(small)
    large_count, large_shifts = measure(large)
    assert (small_shifts, large_shifts) == (10, 200)
    assert small_count == large_count
    assert large_count <= 10


def test_open_to_all_is_set_shown_and_changed(as_leader, team):
    """公开招募: members only unless asked; PATCH changes it only when given."""
    closed = as_leader.post("/api/v1/events", json=event_body(team)).get_json()
    assert closed["open_to_all"] is False

    created = as_leader.post("/api/v1/events", json=event_body(team, open_to_all=True))
    assert created.status_code == 201, created.get_json()
    event_id = created.get_json()["id"]
    assert created.get_json()["open_to_all"] is True
    assert as_leader.get(f"/api/v1/events/{event_id}").get_json()["open_to_all"] is True

    renamed = as_leader.patch(f"/api/v1/events/{event_id}", json={"title": "防汛值守"})
    assert renamed.get_json()["open_to_all"] is True  # not given: unchanged
    closing = as_leader.patch(f"/api/v1/events/{event_id}", json={"open_to_all": False})
    assert closing.get_json()["open_to_all"] is False
    assert db.session.get(Event, event_id).open_to_all is False


def test_open_to_all_must_be_a_boolean(as_leader, team, row_counts):
    before = row_counts()
    response = as_leader.post("/api/v1/events", json=event_body(team, open_to_all="yes"))
    assert "open_to_all" in refused(response, 422)
    assert row_counts() == before
