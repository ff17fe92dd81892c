"""A volunteer on a phone: logs in with the code the console backend shows, signs up,
lands on the waitlist of a full shift, cancels, and sees a freed seat go to them."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import HOUR, PHONE, local_midnight, release_database
from volunteer_hub.extensions import db
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import SignupSource

pytestmark = pytest.mark.slow

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip with the reason
    expect = None


def read_texts(journey, phone: str, broker, worker) -> str:
    """The texts sent to ``phone``, as the development SMS page lists them."""
    broker.join("sms")
    worker.join()
    journey.page.goto(f"/dev/sms?phone={phone}")
    return journey.page.locator(".sms-log").first.inner_text()


def test_volunteer_signs_up_waits_cancels_and_is_promoted(journey, make, broker, worker):
    team = make.team(name="莲花山社区戎马志愿服务队")
    volunteer = make.member(team, name="王建国")
    holder = make.member(team, name="李卫东")
    waiting_behind = make.member(team, name="赵红梅")
    day = local_midnight(days_ahead=3)
    event = make.event(
        team,
        title="红色故事进校园",
        location="鄂州市鄂城区莲花山小学",
        category_name="红色宣讲",
        shifts=[
            {
                "starts_at": day + 9 * HOUR,
                "ends_at": day + 11 * HOUR,
                "capacity": 1,
                "title": "讲解员",
            },
            {
                "starts_at": day + 14 * HOUR,
                "ends_at": day + 16 * HOUR,
                "capacity": 5,
                "title": "引导员",
            },
        ],
    )
    full, open_shift = make.shifts_of(event)
    signups.sign_up(full.id, holder.id, SignupSource.WEB)
    db.session.commit()
    full_id, full_code, open_id = full.id, full.code, open_shift.id
    my_phone, holder_phone, behind_id = volunteer.phone, holder.phone, waiting_behind.id
    release_database()

    phone = journey("volunteer", PHONE)
    page = phone.page
    page.goto("/me/login")
    expect(page.get_by_role("heading", name="志愿者登录")).to_be_visible()
    phone.shot("login")
    page.get_by_label("手机号码").fill(my_phone.removeprefix("+86"))
    page.get_by_role("button", name="获取验证码").click()
    expect(page.get_by_role("heading", name="输入验证码")).to_be_visible()
    phone.shot("code")

    # A wrong code first: a clear message in Chinese, still on the code page.
    page.get_by_label("短信验证码").fill("000000")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_text(re.compile("验证码不正确|请输入短信里的6位数字验证码"))).to_be_visible()
    phone.shot("wrong-code")

    texts = read_texts(phone, my_phone, broker, worker)
    code = re.search(r"登录验证码是 (\d{6})", texts).group(1)
    phone.shot("texts-with-code")
    page.goto("/me/login/code")
    page.get_by_label("短信验证码").fill(code)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="您好，王建国")).to_be_visible()
    phone.shot("home")

    # Sign up for the shift with seats; wait for the full one.
    open_card = page.locator(f"#shift-{open_id}")
    expect(open_card.get_by_text("还剩 5 个名额")).to_be_visible()
    open_card.get_by_role("button", name="报名").click()
    mine = page.locator("section", has=page.get_by_role("heading", name="我报名的班次"))
    expect(mine.get_by_text("红色故事进校园 · 引导员")).to_be_visible()
    full_card = page.locator(f"#shift-{full_id}")
    expect(full_card.get_by_text("名额已满，可以候补")).to_be_visible()
    full_card.get_by_role("button", name="候补").click()
    expect(mine.get_by_text("候补第 1 位")).to_be_visible()
    phone.shot("signed-up-and-waitlisted")

    # Someone else joins the waitlist behind; then the seat holder cancels by text.
    signups.sign_up(full_id, behind_id, SignupSource.SMS)
    db.session.commit()
    release_database()
    page.goto("/dev/sms")
    page.get_by_label("发信手机号").fill(holder_phone)
    page.get_by_label("短信内容").fill(f"取消 {full_code}")
    page.get_by_role("button", name="发送给系统").click()
    expect(page.get_by_text(re.compile("回复：.*已取消"))).to_be_visible()
    phone.shot("seat-holder-cancels-by-text")

    texts = read_texts(phone, my_phone, broker, worker)
    assert "讲解员" in texts or "红色故事进校园" in texts
    page.goto("/me")
    full_signup = mine.locator(".me-card", has_text="讲解员")
    expect(full_signup.get_by_text("已报名")).to_be_visible()
    expect(full_signup.get_by_text("候补")).to_have_count(0)
    phone.shot("promoted")

    # Cancel the other shift: it is offered again with its seat back.
    page.once("dialog", lambda dialog: dialog.accept())
    mine.locator(".me-card", has_text="引导员").get_by_role("button", name="取消报名").click()
    expect(mine.get_by_text("红色故事进校园 · 引导员")).to_have_count(0)
    expect(page.locator(f"#shift-{open_id}").get_by_text("还剩 5 个名额")).to_be_visible()
    phone.shot("after-cancel")
