"""The event form's "每周重复 … 周": a weekly repeating event from one shift row."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.conftest import login
from tests.web.conftest import event_form, local_day, page, row_counts
from tests.web.test_events import created_event_id, shifts_of
from volunteer_hub.events.models import Event
from volunteer_hub.extensions import db


def test_new_event_form_offers_weekly_repetition(client, world):
    login(client, world.leader_a)
    html = page(client.get(f"/teams/{world.team_a.id}/events/new"))
    assert "每周重复（可选）" in html
    assert 'name="repeat_weeks"' in html and 'for="repeat_weeks"' in html
    assert 'name="repeat_until"' in html and 'type="date"' in html


def test_leader_creates_a_weekly_patrol_for_eight_weeks(client, world):
    login(client, world.leader_a)
    day = local_day(5)
    data = event_form([(day, "19:00", "21:00", 6, "夜间巡堤")], title="汛期每周巡堤")
    data["repeat_weeks"] = "8"
    event_id = created_event_id(client.post(f"/teams/{world.team_a.id}/events/new", data=data))

    event = db.session.get(Event, event_id)
    assert event.recurrence_rule == "FREQ=WEEKLY;COUNT=8"
    shifts = shifts_of(event_id)
    assert len(shifts) == 8
    assert [s.series_starts_at for s in shifts] == [s.starts_at for s in shifts]
    assert [s.starts_at - shifts[0].starts_at for s in shifts] == [
        timedelta(weeks=n) for n in range(8)
    ]
    assert {(s.title, s.capacity) for s in shifts} == {("夜间巡堤", 6)}

    edit = page(client.get(f"/events/{event_id}/edit"))
    assert "这是每周重复的活动" in edit
    assert 'name="repeat_weeks"' not in edit
    assert "data-add-row" not in edit and "data-rota" not in edit


def test_until_a_date_from_the_form(client, world):
    login(client, world.leader_a)
    day = local_day(2)
    data = event_form([(day, "08:00", "11:00", 4)], title="护学岗每周值守")
    data["repeat_until"] = (day + timedelta(weeks=5)).isoformat()
    event_id = created_event_id(client.post(f"/teams/{world.team_a.id}/events/new", data=data))
    assert len(shifts_of(event_id)) == 6
    assert db.session.get(Event, event_id).recurrence_rule.startswith("FREQ=WEEKLY;UNTIL=")


def test_bad_repetition_is_a_form_error_and_nothing_changes(client, world):
    login(client, world.leader_a)
    day = local_day(5)
    url = f"/teams/{world.team_a.id}/events/new"
    before = row_counts()
    cases = [
        ({"repeat_weeks": "60"}, [(day, "19:00", "21:00", 6)], "每周重复的周数应为 2 到 52"),
        ({"repeat_weeks": "三"}, [(day, "19:00", "21:00", 6)], "每周重复的周数请填写数字"),
        (
            {"repeat_weeks": "4", "repeat_until": (day + timedelta(weeks=3)).isoformat()},
            [(day, "19:00", "21:00", 6)],
            "请填写重复的周数或截止日期（二选一）",
        ),
        (
            {"repeat_until": (day - timedelta(days=3)).isoformat()},
            [(day, "19:00", "21:00", 6)],
            "重复截止日期应使活动重复 2 到 52 周",
        ),
        (
            {"repeat_weeks": "4"},
            [(day, "08:00", "12:00", 5), (day, "12:00", "16:00", 5)],
            "每周重复的活动请只填写一个班次",
        ),
    ]
    for extra, rows, message in cases:
        response = client.post(url, data={**event_form(rows), **extra})
        assert response.status_code == 400, extra
        assert message in page(response), extra
    assert row_counts() == before


def test_a_shift_cannot_be_added_to_a_repeating_event(client, world):
    login(client, world.leader_a)
    day = local_day(5)
    data = event_form([(day, "19:00", "21:00", 6, "巡堤")])
    data["repeat_weeks"] = "3"
    event_id = created_event_id(client.post(f"/teams/{world.team_a.id}/events/new", data=data))
    shifts = shifts_of(event_id)
    rows = [
        (s.starts_at.date(), "19:00", "21:00", 6, "巡堤", s.id)
        for s in shifts  # 19:00 local is 11:00 UTC: the same date
    ]
    rows.append((day + timedelta(days=1), "08:00", "10:00", 2, "加班"))
    before = row_counts()
    response = client.post(f"/events/{event_id}/edit", data=event_form(rows))
    assert response.status_code == 400
    assert "每周重复的活动不能添加单独的班次" in page(response)
    assert row_counts() == before
    db.session.rollback()
    assert db.session.scalars(select(Event.revision).where(Event.id == event_id)).one() == 0
