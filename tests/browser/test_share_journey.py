"""A leader shares an event to the team's WeChat group, on a phone and at a desk: the
notice is copied to the clipboard as it reads on the page, the poster downloads as a
PNG; a volunteer who scans its QR code lands on the event's page after logging in."""

from __future__ import annotations

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
