"""Creating, editing and cancelling events with any number of shifts through the web form."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from tests.conftest import login
from tests.web.conftest import event_form, local_day, page, row_counts
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.signups.models import Signup
from volunteer_hub.signups.services import sign_up

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day, hh_mm: str) -> datetime:
    return datetime.combine(day, time.fromisoformat(hh_mm), tzinfo=SHANGHAI).astimezone(UTC)


def shifts_of(event_id: int) -> list[Shift]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Shift).where(Shift.event_id == event_id).order_by(Shift.starts_at, Shift.id)
        )
    )


def created_event_id(response) -> int:
    assert response.status_code == 302, page(response)[:2000]
    match = re.search(r"/events/(\d+)$", response.headers["Location"])
    assert match, response.headers["Location"]
    return int(match.group(1))


def test_new_event_form_groups_categories_and_offers_rows_without_js(client, world):
    login(client, world.leader_a)
    response = client.get(f"/teams/{world.team_a.id}/events/new")
    html = page(response)
    assert response.status_code == 200
    assert '<optgroup label="鄂州九大领域">' in html
    assert '<optgroup label="武汉“八个一”">' in html
    assert '<optgroup label="其他">' in html
    assert html.index("防汛抗旱") < html.index("走访慰问") < html.index("英烈讲解")
    # Without JS: a few empty rows, each input labelled.
    for index in range(3):
        assert f'name="shifts-{index}-date"' in html
        assert f'for="shifts-{index}-capacity"' in html
    assert 'name="shifts-3-date"' not in html
    # With JS: a template row to clone and the rota helper.
    assert "<template data-shift-template>" in html and "shifts-__INDEX__-start" in html
    assert "添加班次" in html and "生成轮班" in html


def test_leader_creates_a_24_hour_flood_duty_rota_of_six_shifts(client, world):
    login(client, world.leader_a)
    day = local_day(3)
    next_day = day + timedelta(days=1)
    rota = [
        (day, "08:00", "12:00", 5, "第1班"),
        (day, "12:00", "16:00", 5, "第2班"),
        (day, "16:00", "20:00", 5, "第3班"),
        (day, "20:00", "00:00", 4, "第4班"),  # ends at midnight: the next day
        (next_day, "00:00", "04:00", 4, "第5班"),
        (next_day, "04:00", "08:00", 4, "第6班"),
    ]
    data = event_form(rota, title="汛期24小时防汛值守")
    # Two rows left empty (as the page offers them without JS) are ignored.
    data.update({"shifts-6-date": "", "shifts-6-start": "", "shifts-7-capacity": ""})
    response = client.post(f"/teams/{world.team_a.id}/events/new", data=data)
    event_id = created_event_id(response)

    event = db.session.get(Event, event_id)
    shifts = shifts_of(event_id)
    assert [s.title for s in shifts] == [f"第{i}班" for i in range(1, 7)]
    assert [s.capacity for s in shifts] == [5, 5, 5, 4, 4, 4]
    starts = [at(day, "08:00") + timedelta(hours=4 * i) for i in range(6)]
    assert [s.starts_at for s in shifts] == starts
    assert [s.ends_at for s in shifts] == [start + timedelta(hours=4) for start in starts]
    assert event.starts_at == at(day, "08:00")
    assert event.ends_at == at(next_day, "08:00")
    assert event.team_id == world.team_a.id
    assert event.created_by_id == world.leader_a.id
    assert event.status == "published"
    assert len({s.code for s in shifts}) == 6

    html = page(client.get(f"/events/{event_id}"))
    assert "活动已创建" in html
    for shift in shifts:
        assert f"{shift.code}</strong>" in html
    assert "共 6 个班次" in html


def test_leader_creates_a_lecture_with_one_shift_as_draft(client, world, make):
    login(client, world.leader_a)
    day = local_day(5)
    data = event_form(
        [(day, "09:30", "11:00", 40, "讲解员")],
        title="英烈事迹宣讲进校园",
        category=make.category("英烈讲解").id,
        status="draft",
        location="鄂州市第一中学报告厅",
    )
    event_id = created_event_id(client.post(f"/teams/{world.team_a.id}/events/new", data=data))
    (shift,) = shifts_of(event_id)
    assert (shift.starts_at, shift.ends_at, shift.capacity) == (
        at(day, "09:30"),
        at(day, "11:00"),
        40,
    )
    event = db.session.get(Event, event_id)
    assert event.status == "draft"
    html = page(client.get(f"/events/{event_id}"))
    assert "草稿" in html and "鄂州市第一中学报告厅" in html
    assert "代队员报名" not in html  # no sign-ups before it is published


def test_edit_page_shows_existing_shifts_in_local_time_and_spare_rows(client, world, make):
    login(client, world.leader_a)
    shifts = make.shifts_of(world.event_a)
    html = page(client.get(f"/events/{world.event_a.id}/edit"))
    local = shifts[0].starts_at.astimezone(SHANGHAI)
    assert f'value="{local.date().isoformat()}"' in html
    assert f'value="{local:%H:%M}"' in html
    assert f'name="shifts-0-id" value="{shifts[0].id}"' in html
    assert shifts[0].code in html
    # Two existing shifts, then two empty rows for a browser without JS.
    assert 'name="shifts-3-date" value=""' in html
    assert 'name="shifts-4-date"' not in html


def test_edit_moves_a_shift_adds_one_and_removes_two(client, world, make):
    event = make.event(world.team_a, shifts=3, capacity=2)
    first, second, third = make.shifts_of(event)
    on_second = sign_up(second.id, world.member_a.id, "sms").signup
    db.session.commit()
    login(client, world.leader_a)
    day = local_day(6)

    data = event_form(
        [
            (day, "07:00", "09:30", 3, "早班（改时间）", first.id),
            (day, "13:00", "15:00", 2, "第3班", third.id),
            (day, "19:00", "01:00", 6, "夜班"),  # new, across midnight
        ],
        title="长江巡堤（调整）",
    )
    data["shifts-1-remove"] = "y"  # removed with the checkbox (no JS)
    # ``second`` is simply missing from the post (removed by the JS button).
    response = client.post(f"/events/{event.id}/edit", data=data)
    assert response.status_code == 302, page(response)[:3000]
    assert response.headers["Location"].endswith(f"/events/{event.id}")

    current = [s for s in shifts_of(event.id) if not s.is_cancelled]
    assert len(current) == 2
    moved, night = current
    assert moved.id == first.id and moved.code == first.code
    assert (moved.starts_at, moved.ends_at, moved.capacity, moved.title) == (
        at(day, "07:00"),
        at(day, "09:30"),
        3,
        "早班（改时间）",
    )
    assert night.id not in (first.id, second.id, third.id)
    assert (night.starts_at, night.ends_at) == (
        at(day, "19:00"),
        at(day + timedelta(days=1), "01:00"),
    )
    assert db.session.get(Shift, second.id).is_cancelled
    assert db.session.get(Shift, third.id).is_cancelled
    assert db.session.get(Signup, on_second.id).status == "cancelled"
    edited = db.session.get(Event, event.id)
    assert edited.title == "长江巡堤（调整）"
    assert edited.revision == 1
    assert "活动已保存" in page(client.get(f"/events/{event.id}"))


def test_edit_with_a_shift_of_another_event_changes_nothing(client, world):
    login(client, world.leader_a)
    foreign = world.shift_b  # team B's shift, smuggled into team A's form
    before = row_counts()
    data = event_form([(local_day(4), "08:00", "10:00", 5, "偷梁换柱", foreign.id)])
    response = client.post(f"/events/{world.event_a.id}/edit", data=data)
    assert response.status_code == 400
    assert "班次不属于该活动" in page(response)
    assert row_counts() == before


def test_cancel_event_asks_for_a_reason_then_cancels_everything(client, world, make):
    login(client, world.leader_b)
    event = world.event_b
    confirm = client.get(f"/events/{event.id}/cancel")
    html = page(confirm)
    assert confirm.status_code == 200
    assert "1 人的报名" in html and "确认取消活动" in html

    before = row_counts()
    response = client.post(f"/events/{event.id}/cancel", data={"reason": "  "})
    assert response.status_code == 400
    assert "请填写取消原因" in page(response)
    assert row_counts() == before

    response = client.post(f"/events/{event.id}/cancel", data={"reason": "暴雨红色预警，活动延期"})
    assert response.status_code == 302
    db.session.expire_all()
    cancelled = db.session.get(Event, event.id)
    assert cancelled.status == "cancelled"
    assert "暴雨红色预警，活动延期" in cancelled.description
    assert all(s.is_cancelled for s in shifts_of(event.id))
    assert db.session.get(Signup, world.signup_b.id).status == "cancelled"

    html = page(client.get(f"/events/{event.id}"))
    assert "活动已取消" in html and "此活动已取消" in html
    assert f"/events/{event.id}/edit" not in html
    response = client.get(f"/events/{event.id}/edit", follow_redirects=True)
    assert "活动已取消，不能再修改" in page(response)


INVALID = {
    "end not after start": (
        {"shifts": [("day", "10:00", "10:00", 5)]},
        "第 1 个班次：结束时间必须晚于开始时间",
    ),
    "capacity below one": ({"shifts": [("day", "08:00", "12:00", 0)]}, "第 1 个班次：人数至少为 1"),
    "capacity not a number": (
        {"shifts": [("day", "08:00", "12:00", "五")]},
        "第 1 个班次：人数请填写数字",
    ),
    "unknown category": ({"category": 999999}, "请选择有效的服务类别"),
    "missing title": ({"title": "   "}, "请填写活动名称"),
    "bad date": ({"shifts": [("2025-02-30", "08:00", "12:00", 5)]}, "日期格式不正确"),
}


@pytest.mark.parametrize("case", INVALID, ids=list(INVALID))
@pytest.mark.parametrize("action", ["create", "edit"])
def test_invalid_event_is_a_400_with_the_message_and_changes_nothing(client, world, case, action):
    changes, message = INVALID[case]
    login(client, world.leader_a)
    day = local_day(3)
    shifts = changes.get("shifts", [(day, "08:00", "12:00", 5)])
    shifts = [(day if s[0] == "day" else s[0], *s[1:]) for s in shifts]
    kwargs = {k: v for k, v in changes.items() if k != "shifts"}
    data = event_form(shifts, location="鄂州市鄂城区洋澜湖畔", **kwargs)
    url = (
        f"/teams/{world.team_a.id}/events/new"
        if action == "create"
        else f"/events/{world.event_a.id}/edit"
    )
    before = row_counts()
    response = client.post(url, data=data)
    html = page(response)
    assert response.status_code == 400
    assert message in html
    assert 'class="field-error"' in html
    assert 'aria-invalid="true"' in html
    # What was typed is still there.
    assert "鄂州市鄂城区洋澜湖畔" in html
    assert f'value="{shifts[0][1]}"' in html
    assert row_counts() == before


def test_several_errors_are_shown_at_once_next_to_their_rows(client, world):
    login(client, world.leader_a)
    day = local_day(3)
    data = event_form(
        [(day, "08:00", "12:00", 5), (day, "09:00", "", 0), (day, "18:00", "18:00", 2)],
        title="",
    )
    response = client.post(f"/teams/{world.team_a.id}/events/new", data=data)
    html = page(response)
    assert response.status_code == 400
    assert "请填写活动名称" in html
    assert "第 2 个班次：请填写结束时间" in html
    assert "第 3 个班次：结束时间必须晚于开始时间" in html
    assert 'id="shifts-1-end-error"' in html
    assert 'id="shifts-2-end-error"' in html


# -- 公开招募 and who a leader may sign up ------------------------------------------------


def test_open_to_all_is_set_on_the_form_shown_and_kept_until_unticked(client, world):
    login(client, world.leader_a)
    day = local_day(3)
    new_form = page(client.get(f"/teams/{world.team_a.id}/events/new"))
    assert 'name="open_to_all"' in new_form and "公开招募" in new_form

    data = event_form([(day, "08:00", "12:00", 10)], title="抗洪抢险值守")
    event_id = created_event_id(
        client.post(f"/teams/{world.team_a.id}/events/new", data={**data, "open_to_all": "y"})
    )
    assert db.session.get(Event, event_id).open_to_all is True
    shown = page(client.get(f"/events/{event_id}"))
    assert "公开招募" in shown and "任何登记过的志愿者都可报名" in shown
    edit = page(client.get(f"/events/{event_id}/edit"))
    assert re.search(
        r'<input[^>]*checked[^>]*name="open_to_all"|name="open_to_all"[^>]*checked', edit
    )

    shift_id = shifts_of(event_id)[0].id
    rows = event_form([(day, "08:00", "12:00", 10, "", shift_id)], title="抗洪抢险值守")
    response = client.post(f"/events/{event_id}/edit", data=rows)  # the box left unticked
    assert response.status_code == 302, page(response)[:2000]
    db.session.expire_all()
    assert db.session.get(Event, event_id).open_to_all is False
    assert "仅限本队队员" in page(client.get(f"/events/{event_id}"))


def test_a_new_event_is_for_members_only(client, world):
    login(client, world.leader_a)
    data = event_form([(local_day(3), "08:00", "12:00", 10)])
    event_id = created_event_id(client.post(f"/teams/{world.team_a.id}/events/new", data=data))
    assert db.session.get(Event, event_id).open_to_all is False


@pytest.mark.parametrize("open_to_all", [False, True])
def test_a_leader_signs_up_only_members_and_learns_nothing_of_other_phones(
    client, world, make, open_to_all
):
    """Another team's leader, a member of another team, an unknown number: the same
    message, no name shown, nobody created or enrolled or signed up."""
    event = make.event(world.team_a, shifts=1, **({"open_to_all": True} if open_to_all else {}))
    (shift,) = make.shifts_of(event)
    login(client, world.leader_a)
    before = row_counts()

    answers = []
    for phone in (world.leader_b.phone, world.member_b.phone, "+8613900008888"):
        response = client.post(
            f"/shifts/{shift.id}/signups",
            data={"person_id": "", "phone": phone, "name": "随便"},
            follow_redirects=True,
        )
        answers.append(page(response))
    for html in answers:
        assert "只能为“凤凰街道退役军人志愿服务队”的队员报名" in html
        assert "李队长" not in html and "赵卫东" not in html
    assert row_counts() == before
    assert not db.session.scalars(select(Signup).where(Signup.shift_id == shift.id)).all()
    # The page offers the team's members only.
    html = page(client.get(f"/events/{event.id}"))
    assert 'name="phone"' not in html and "队长只能为本队队员报名" in html


def test_a_coordinator_over_the_team_signs_up_any_phone(client, world, make):
    event = make.event(world.team_a, shifts=1)
    (shift,) = make.shifts_of(event)
    login(client, world.coordinator_x)
    assert 'name="phone"' in page(client.get(f"/events/{event.id}"))
    response = client.post(
        f"/shifts/{shift.id}/signups",
        data={"person_id": "", "phone": world.member_b.phone},
        follow_redirects=True,
    )
    assert "已为 赵卫东 报名，已确认" in page(response)
    signup = db.session.scalar(select(Signup).where(Signup.shift_id == shift.id))
    assert (signup.person_id, signup.source) == (world.member_b.id, "leader")


def test_publishing_a_shift_in_the_past_asks_to_confirm_first(client, world):
    login(client, world.leader_a)
    last_year = local_day(-400)
    data = event_form([(local_day(3), "09:00", "11:00", 5), (last_year, "09:00", "11:00", 5)])
    before = row_counts()
    response = client.post(f"/teams/{world.team_a.id}/events/new", data=data)
    assert response.status_code == 400
    html = page(response)
    assert "第 2 个班次的时间已经过去" in html and 'id="confirm_past"' in html
    assert row_counts() == before
    # A draft is no publication: no question asked.
    draft = client.post(f"/teams/{world.team_a.id}/events/new", data={**data, "status": "draft"})
    draft_id = created_event_id(draft)
    # Ticked: published, and the past date shows its year wherever it is shown.
    confirmed = client.post(
        f"/teams/{world.team_a.id}/events/new", data={**data, "confirm_past": "y"}
    )
    event_id = created_event_id(confirmed)
    assert db.session.get(Event, event_id).status == "published"
    html = page(client.get(f"/events/{event_id}"))
    assert f"{last_year.year}年{last_year.month}月{last_year.day}日" in html
    soon = local_day(3)
    if soon.year == local_day(0).year:
        assert f"{soon.year}年{soon.month}月{soon.day}日" not in html
    # Publishing the draft later asks too; editing a published event's past shift does not.
    form_data = {**data, "status": "published"}
    for index, shift in enumerate(reversed(shifts_of(draft_id))):  # the form's row order
        form_data[f"shifts-{index}-id"] = str(shift.id)
    response = client.post(f"/events/{draft_id}/edit", data=form_data)
    assert response.status_code == 400 and "时间已经过去" in page(response)
    form_data = {**data, "title": "改个名字"}
    for index, shift in enumerate(reversed(shifts_of(event_id))):
        form_data[f"shifts-{index}-id"] = str(shift.id)
    assert client.post(f"/events/{event_id}/edit", data=form_data).status_code == 302
