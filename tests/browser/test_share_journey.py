"""A leader shares an event to the team's WeChat group, on a phone and at a desk: the
notice is copied to the clipboard as it reads on the page, the poster downloads as a
PNG; a volunteer who scans its QR code lands on the event's page after logging in."""

from __future__ import annotations

import re
import shutil

import pytest
from PIL import Image

from tests.browser import conftest as browser
from volunteer_hub.extensions import db

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("viewport_name", "viewport"), [("phone", browser.PHONE), ("desk", browser.DESKTOP)]
)
def test_share_notice_and_poster(journey, make, viewport_name, viewport):
    from playwright.sync_api import expect  # here: without it the journey fixture skips

    day = browser.local_midnight(days_ahead=3)
    shifts = [
        {
            "title": title,
            "starts_at": day + at * browser.HOUR,
            "ends_at": day + (at + 4) * browser.HOUR,
            "capacity": 6,
        }
        for title, at in (("早班", 8), ("午班", 14))
    ]
    team = make.team(name="江岸区长江卫士服务队")
    event = make.event(
        team, title="防汛巡堤", location="汉口江滩三阳路码头", shifts=shifts, capacity=6
    )
    leader = make.leader(team, name="张队长")
    event_id, phone = event.id, leader.phone
    browser.release_database()

    desk = journey(f"leader-{viewport_name}", viewport)
    desk.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = desk.page
    browser.staff_login(page, phone, make.PASSWORD)
    page.goto(f"/events/{event_id}")

    share = page.locator("#share")
    share.scroll_into_view_if_needed()
    notice = share.get_by_label("复制下面的通知，粘贴到队里的微信群").input_value()
    assert notice.startswith("【江岸区长江卫士服务队】防汛巡堤\n")
    share.get_by_role("button", name="复制通知").click()
    expect(share.get_by_role("button", name="已复制")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == notice
    desk.shot("share", full_page=True)

    with page.expect_download() as downloading:
        share.get_by_role("link", name="下载海报（PNG）").click()
    download = downloading.value
    assert download.suggested_filename == f"event-{event_id}-poster.png"
    saved = desk.folder / f"poster-{viewport_name}.png"
    shutil.copy(download.path(), saved)
    with Image.open(saved) as poster:
        assert poster.format == "PNG" and poster.width == 1080
    assert db.session.get(type(event), event_id) is not None
    browser.release_database()


def test_the_poster_code_leads_a_volunteer_to_sign_up(journey, make, broker, worker):
    """What the QR code opens, on a phone not logged in: the volunteer login, then the
    event itself, where one tap signs up."""
    from playwright.sync_api import expect

    from tests.browser.test_volunteer_journey import read_texts

    day = browser.local_midnight(days_ahead=2)
    team = make.team(name="江岸区长江卫士服务队")
    volunteer = make.member(team, name="王建国")
    event = make.event(team, title="防汛巡堤", starts_at=day + 8 * browser.HOUR)
    event_id, shift_id, my_phone = event.id, make.shifts_of(event)[0].id, volunteer.phone
    browser.release_database()

    scan = journey("volunteer", browser.PHONE)
    page = scan.page
    page.goto(f"/me/events/{event_id}")
    expect(page.get_by_text("请先登录")).to_be_visible()
    page.get_by_label("手机号码").fill(my_phone.removeprefix("+86"))
    page.get_by_role("button", name="获取验证码").click()
    code = re.search(r"登录验证码是 (\d{6})", read_texts(scan, my_phone, broker, worker))[1]
    page.goto("/me/login/code")
    page.get_by_label("短信验证码").fill(code)
    page.get_by_role("button", name="登录").click()

    expect(page.get_by_role("heading", name="防汛巡堤")).to_be_visible()
    assert page.url.endswith(f"/me/events/{event_id}")
    scan.shot("event-page")
    page.locator(f"#shift-{shift_id}").get_by_role("button", name="报名").click()
    expect(page.get_by_text("报名成功，请按时参加。")).to_be_visible()
    scan.shot("signed-up")
