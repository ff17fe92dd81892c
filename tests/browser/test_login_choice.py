"""The front page at 390 px: a clear choice between the volunteer's texted code and the
staff password, and the way back to the code after a wrong password."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import PHONE, release_database

pytestmark = pytest.mark.slow

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip with the reason
    expect = None


def test_a_visitor_chooses_volunteer_or_staff_on_a_phone(journey, make):
    leader = make.leader(make.team(), name="张队长")
    phone = leader.phone[3:]
    release_database()
    me = journey("visitor", PHONE)
    page = me.page
    page.goto("/")
    volunteer = page.get_by_role("link", name="志愿者（短信验证码）")
    staff = page.get_by_role("link", name="工作人员（密码）")
    expect(volunteer).to_be_visible()
    expect(staff).to_be_visible()
    # Both big enough to tap, one above the other, within the screen.
    for link in (volunteer, staff):
        box = link.bounding_box()
        assert box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    me.shot("choice")

    staff.click()
    expect(page).to_have_url(re.compile(r"/login$"))
    page.get_by_label("手机号码").fill(phone)
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("手机号码或密码不正确")
    expect(alert).to_contain_text("短信验证码")
    me.shot("wrong-password")
    alert.get_by_role("link", name="志愿者登录").click()
    expect(page).to_have_url(re.compile(r"/me/login$"))
    expect(page.get_by_role("link", name="志愿者（短信验证码）")).to_have_attribute(
        "aria-current", "page"
    )
    me.shot("volunteer-login")
