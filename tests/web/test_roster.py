"""The event page: shift codes, rosters with the waitlist in order, signing people up and off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.conftest import login
from tests.web.conftest import page, row_counts
from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.signups.models import Signup
from volunteer_hub.signups.services import sign_up


def active_on(shift_id: int) -> list[tuple[int, str, str]]:
    db.session.expire_all()
    return list(
        db.session.execute(
            select(Signup.person_id, Signup.status, Signup.source)
            .where(Signup.shift_id == shift_id, Signup.status != "cancelled")
            .order_by(Signup.id)
        )
    )


def section(html: str, shift_id: int) -> str:
    start = html.index(f'id="shift-{shift_id}"')
    end = html.find("<section", start + 1)
    return html[start : end if end != -1 else None]


def test_roster_lists_confirmed_then_the_waitlist_in_order(client, world, make):
    event = make.event(world.team_a, shifts=2, capacity=2)
    shift, other = make.shifts_of(event)
    people = [make.member(world.team_a, name=f"队员{i}") for i in range(5)]
    for person in people:
        sign_up(shift.id, person.id, "sms")
    db.session.commit()
    login(client, world.leader_a)

    html = page(client.get(f"/events/{event.id}"))
    roster = section(html, shift.id)
    assert f"报名 {shift.code}" in roster.replace("</strong>", "").replace(
        '<strong class="code">', ""
    )
    assert "2/2 人" in roster and "候补 3 人" in roster
    confirmed, waitlist = roster.split("候补名单")
    assert confirmed.index("队员0") < confirmed.index("队员1")
    assert "队员2" not in confirmed
    assert waitlist.index("候补第 1 位") < waitlist.index("队员2")
    assert waitlist.index("队员2") < waitlist.index("候补第 2 位") < waitlist.index("队员3")
    assert waitlist.index("队员3") < waitlist.index("候补第 3 位") < waitlist.index("队员4")
    assert "还没有人报名" in section(html, other.id)


def test_leader_signs_a_member_up_then_the_waitlist(client, world, make):
    event = make.event(world.team_a, shifts=1, capacity=1)
    (shift,) = make.shifts_of(event)
    second = make.member(world.team_a, name="刘志强")
    login(client, world.leader_a)

    html = section(page(client.get(f"/events/{event.id}")), shift.id)
    assert f'<option value="{world.member_a.id}">王建国</option>' in html

    response = client.post(f"/shifts/{shift.id}/signups", data={"person_id": world.member_a.id})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/events/{event.id}#shift-{shift.id}")
    response = client.post(f"/shifts/{shift.id}/signups", data={"person_id": second.id})
    html = page(client.get(f"/events/{event.id}"))
    assert "已为 王建国 报名，已确认" in html
    assert "已为 刘志强 报名：名额已满，候补第 1 位" in html
    assert active_on(shift.id) == [
        (world.member_a.id, "confirmed", "leader"),
        (second.id, "waitlisted", "leader"),
    ]
    signup = db.session.scalar(select(Signup).where(Signup.person_id == second.id))
    assert signup.acted_by_id == world.leader_a.id
    # Members already on the shift are no longer offered.
    assert f'<option value="{world.member_a.id}">' not in section(html, shift.id)


def test_signing_off_promotes_the_first_waitlisted_and_says_so(client, world, make):
    event = make.event(world.team_a, shifts=1, capacity=1)
    (shift,) = make.shifts_of(event)
    first = make.member(world.team_a, name="陈立新")
    second = make.member(world.team_a, name="周国庆")
    third = make.member(world.team_a, name="吴援朝")
    held = sign_up(shift.id, first.id, "sms").signup
    sign_up(shift.id, second.id, "sms")
    sign_up(shift.id, third.id, "web")
    db.session.commit()
    login(client, world.leader_a)

    response = client.post(f"/signups/{held.id}/cancel", follow_redirects=True)
    html = page(response)
    assert "已取消 陈立新 的报名" in html
    assert "候补的 周国庆 已递补为正式名额" in html
    assert active_on(shift.id) == [(second.id, "confirmed", "sms"), (third.id, "waitlisted", "web")]
    assert db.session.get(Signup, held.id).acted_by_id == world.leader_a.id
    roster = section(html, shift.id)
    assert roster.index("周国庆") < roster.index("候补第 1 位") < roster.index("吴援朝")


def test_sign_up_by_phone_of_a_new_volunteer_and_masked_phone_for_non_members(client, world, make):
    event = make.event(world.team_a, shifts=1, capacity=5)
    (shift,) = make.shifts_of(event)
    login(client, world.coordinator_x)  # a leader signs up members only

    response = client.post(
        f"/shifts/{shift.id}/signups",
        data={"person_id": "", "phone": "138 0013 8000", "name": "孙海峰"},
        follow_redirects=True,
    )
    html = page(response)
    assert "已为 孙海峰 报名，已确认" in html
    roster = section(html, shift.id)
    # Not in any team this coordinator oversees: masked. Members are shown in full.
    assert "138****8000" in roster and "138 0013 8000" not in roster

    client.post(f"/shifts/{shift.id}/signups", data={"person_id": world.member_a.id})
    roster = section(page(client.get(f"/events/{event.id}")), shift.id)
    national = world.member_a.phone.removeprefix("+86")
    assert f"{national[:3]} {national[3:7]} {national[7:]}" in roster


def test_member_of_another_team_on_the_roster_is_masked(client, world, make):
    event = make.event(world.team_a, shifts=1, open_to_all=True)
    (shift,) = make.shifts_of(event)
    sign_up(shift.id, world.member_b.id, "sms")  # a volunteer of team B signs up by SMS
    db.session.commit()
    login(client, world.leader_a)
    roster = section(page(client.get(f"/events/{event.id}")), shift.id)
    national = world.member_b.phone.removeprefix("+86")
    assert f"{national[:3]}****{national[-4:]}" in roster
    assert national not in roster.replace(" ", "")


def test_domain_errors_become_chinese_flash_messages(client, world, make):
    event = make.event(world.team_a, shifts=1, capacity=5)
    (shift,) = make.shifts_of(event)
    login(client, world.leader_a)
    client.post(f"/shifts/{shift.id}/signups", data={"person_id": world.member_a.id})
    before = row_counts()

    cases = [
        ({"person_id": world.member_a.id}, "王建国 已在该班次的名单中"),
        ({"person_id": world.member_b.id}, "请从名单中选择本队队员"),  # not of this team
        ({"person_id": "", "phone": "12345"}, "手机号码"),
        (
            {"person_id": "", "phone": "13800138001", "name": ""},
            "只能为“凤凰街道退役军人志愿服务队”的队员报名",
        ),
        ({"person_id": ""}, "请选择队员，或填写手机号码"),
    ]
    for data, message in cases:
        response = client.post(f"/shifts/{shift.id}/signups", data=data, follow_redirects=True)
        assert response.status_code == 200
        assert message in page(response), data
    assert row_counts() == before

    signup = db.session.scalar(select(Signup).where(Signup.person_id == world.member_a.id))
    client.post(f"/signups/{signup.id}/cancel")
    response = client.post(f"/signups/{signup.id}/cancel", follow_redirects=True)
    assert "该报名已取消" in page(response)


def test_started_shift_and_draft_event_refuse_sign_ups_with_a_message(client, world, make):
    draft = make.event(world.team_a, shifts=1, status="draft")
    (draft_shift,) = make.shifts_of(draft)
    started = make.event(world.team_a, shifts=1)
    (started_shift,) = make.shifts_of(started)
    db.session.get(Shift, started_shift.id).starts_at = datetime.now(UTC) - timedelta(minutes=5)
    db.session.commit()
    login(client, world.leader_a)

    for shift, message in ((draft_shift, "该活动尚未发布"), (started_shift, "已经开始")):
        response = client.post(
            f"/shifts/{shift.id}/signups",
            data={"person_id": world.member_a.id},
            follow_redirects=True,
        )
        assert response.status_code == 200
        assert message in page(response)
    assert active_on(draft_shift.id) == [] and active_on(started_shift.id) == []
    html = section(page(client.get(f"/events/{started.id}")), started_shift.id)
    assert "已开始，不能再报名" in html and "代队员报名" not in html
