"""A district coordinator calls out flood duty: starts a two-ring call-out for 10 seats
with a preview, volunteers answer by text on /dev/sms, the board fills without a reload
(at a desk and on a 390 px phone), the second ring fires from the scheduler tick, the
coordinator stops it and the stand-down goes out."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from tests.browser.conftest import HOUR, PHONE, local_midnight, release_database, staff_login
from volunteer_hub.db import utcnow
from volunteer_hub.scheduler import tick

pytestmark = pytest.mark.slow

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip with the reason
    expect = None


def text_in(page, phone: str, body: str) -> None:
    """A volunteer's text, through the development SMS page (the webhook's own code)."""
    page.goto("/dev/sms")
    page.get_by_label("发信手机号").fill(phone)
    page.get_by_label("短信内容").fill(body)
    page.get_by_role("button", name="发送给系统").click()
    expect(page.get_by_text(re.compile("回复："))).to_be_visible()


def test_coordinator_calls_out_the_board_fills_and_stands_down(journey, make):
    city = make.unit("鄂州市")
    district = make.unit("鄂城区", parent=city)
    fenghuang = make.team(make.unit("凤凰街道", parent=district), name="凤凰街道应急救援队")
    xishan = make.team(make.unit("西山街道", parent=district), name="西山街道应急救援队")
    near = [make.member(fenghuang, name=n) for n in ("王建国", "李卫东", "赵红梅", "陈志刚")]
    far = [make.member(xishan, name=n) for n in ("刘海涛", "孙立军", "周晓燕")]
    coordinator = make.coordinator(district, name="刘协调员")
    day = local_midnight(days_ahead=1)
    duty = {"starts_at": day + 8 * HOUR, "ends_at": day + 14 * HOUR, "capacity": 10}
    event = make.event(fenghuang, title="江堤管涌抢险", location="三江港江堤", shifts=[duty])
    event_id, coordinator_phone = event.id, coordinator.phone
    near_phones, far_phones = [p.phone for p in near], [p.phone for p in far]
    release_database()

    desk = journey("coordinator")
    page = desk.page
    staff_login(page, coordinator_phone, make.PASSWORD)
    page.goto(f"/events/{event_id}")
    page.get_by_role("link", name="应急召集").click()
    expect(page.get_by_role("heading", name="应急召集")).to_be_visible()

    # Ring 1: the street's team (ticked already); ring 2 after 10 minutes: the district.
    page.get_by_label("第 2 圈").select_option(label="鄂城区及下级单位的全部服务队")
    page.locator("#rings-0-after_minutes").fill("10")
    page.get_by_label("附言（会写进短信，可不填）").fill("江堤出现管涌，请带雨具")
    page.get_by_label(re.compile("紧急")).check()
    page.get_by_role("button", name="预览人数").click()
    preview = page.locator("#preview")
    expect(preview.get_by_role("heading", name="预览：第一圈将发给 4 人")).to_be_visible()
    expect(preview.get_by_text("第 2 圈如现在发出，另有 3 人")).to_be_visible()
    expect(
        preview.get_by_text(re.compile("紧急召集：江堤出现管涌，请带雨具。江堤管涌抢险"))
    ).to_be_visible()
    desk.shot("preview")
    preview.get_by_role("button", name="确认发送").click()
    expect(page.get_by_role("heading", name="召集进展")).to_be_visible()
    expect(page.get_by_text("已留位 0 / 10")).to_be_visible()
    board_url = page.url
    page.evaluate("window.notReloaded = true")
    desk.shot("board-started")

    phone = journey("coordinator-phone", PHONE)
    staff_login(phone.page, coordinator_phone, make.PASSWORD)
    phone.page.goto(f"/events/{event_id}/callouts")
    expect(phone.page.get_by_role("link", name=re.compile("编号"))).to_be_visible()  # this one
    phone.shot("start-page-with-the-callout-listed")
    phone.page.goto(board_url)
    phone.page.evaluate("window.notReloaded = true")

    # Answers by text: three yes, one no.
    sms = journey("volunteers")
    for number, answer in zip(near_phones, ("1", "是", "2", "报名"), strict=True):
        text_in(sms.page, number, answer)
    expect(page.get_by_text("已留位 3 / 10")).to_be_visible()
    expect(page.locator("#declined-title")).to_contain_text("1")
    expect(phone.page.get_by_text("已留位 3 / 10")).to_be_visible()
    desk.shot("board-three-coming")
    phone.shot("board-three-coming")

    # Ten minutes on, seats still free: the scheduler tick fires ring 2.
    tick(utcnow() + timedelta(minutes=11))
    release_database()
    rings = page.locator(".callout-rings")
    expect(rings.get_by_text(re.compile("已发 3 人"))).to_be_visible()
    text_in(sms.page, far_phones[0], "1")
    expect(page.get_by_text("已留位 4 / 10")).to_be_visible()
    expect(phone.page.get_by_text("已留位 4 / 10")).to_be_visible()
    assert page.evaluate("window.notReloaded") is True  # updated in place
    assert phone.page.evaluate("window.notReloaded") is True
    desk.shot("board-second-ring")
    phone.shot("board-second-ring")

    # Stop: the stand-down to everyone seated.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="停止召集").click()
    expect(page.get_by_text("召集已停止")).to_be_visible()
    expect(page.locator(".callout-status-stopped").first).to_be_visible()
    desk.shot("board-stopped")
    sms.page.goto(f"/dev/sms?phone={far_phones[0]}")
    expect(
        sms.page.get_by_text(re.compile("召集已结束。请按时到达：江堤管涌抢险")).first
    ).to_be_visible()
    sms.shot("stand-down")
