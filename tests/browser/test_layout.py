"""Every key page at 390 px with the browser's font enlarged by half (how many older
volunteers set their phones): nothing wider than the screen, every form control with a
label, every image with a text alternative. Screenshots of each page for a look."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import (
    HOUR,
    PHONE,
    local_midnight,
    release_database,
    staff_login,
)
from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.callouts import services as callouts
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import SignupSource

pytestmark = pytest.mark.slow

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip with the reason
    expect = None

#: Chromium's default is 16 px; 24 px is the "large" setting of a phone
ENLARGED_FONT_PX = 24

#: what a page must not have: controls nobody can name, content wider than the screen.
#: ``width`` is the viewport the test set: on a phone (is_mobile) window.innerWidth grows
#: to fit content that is too wide, so comparing with it would never see the overflow.
CHECKS = """(width) => {
  const unnamed = [...document.querySelectorAll(
      'input:not([type=hidden]), select, textarea')].filter(el =>
      !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
      && !el.getAttribute('aria-labelledby') && !el.closest('[hidden], template'))
    .map(el => el.outerHTML.slice(0, 120));
  const noAlt = [...document.querySelectorAll('img:not([alt]), svg[role=img]')].filter(el =>
      el.tagName === 'IMG' || !(el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')))
    .map(el => el.outerHTML.slice(0, 120));
  const wide = [...document.querySelectorAll('body *')].filter(el => {
      const box = el.getBoundingClientRect();
      return box.width > 0 && box.right > width + 1
        && getComputedStyle(el).position !== 'fixed' && !el.closest('.table-scroll')
        // what a closed <details> holds is not shown, though Chromium still lays it out
        && !(el.closest('details:not([open])') && !el.closest('summary'));
    }).map(el => el.tagName + '.' + el.className).slice(0, 5);
  return {unnamed, noAlt, wide, rootFont: parseFloat(getComputedStyle(document.documentElement).fontSize),
          scrollWidth: document.documentElement.scrollWidth, width,
          visualWidth: window.visualViewport ? window.visualViewport.width : null};
}"""


def enlarge_font(journey) -> None:
    session = journey.context.new_cdp_session(journey.page)
    session.send(
        "Page.setFontSizes",
        {"fontSizes": {"standard": ENLARGED_FONT_PX, "fixed": ENLARGED_FONT_PX - 3}},
    )


def check_page(journey, path: str, label: str, heading: str) -> None:
    journey.page.goto(path)
    check_shown(journey, path, label, heading, root_font=ENLARGED_FONT_PX)


def check_shown(journey, path: str, label: str, heading: str, root_font: float) -> None:
    """The checks on the page shown now."""
    expect(journey.page.get_by_role("heading", name=re.compile(heading)).first).to_be_visible()
    width = journey.page.viewport_size["width"]
    found = journey.page.evaluate(CHECKS, width)
    journey.shot(label)
    assert found["rootFont"] >= root_font, found  # the enlargement took effect
    assert found["visualWidth"] == width, found  # the page was not zoomed out to fit
    assert found["scrollWidth"] <= width, (path, found)
    assert not found["wide"], (path, found["wide"])
    assert not found["unnamed"], (path, found["unnamed"])
    assert not found["noAlt"], (path, found["noAlt"])


def test_key_pages_fit_a_phone_with_large_text(journey, make, broker, worker):
    city = make.unit("鄂州市")
    district = make.unit("鄂城区", parent=city)
    team = make.team(make.unit("莲花山社区", parent=district), name="莲花山社区戎马志愿服务队")
    leader = make.leader(team, name="张队长")
    volunteer = make.member(team, name="王建国")
    others = [make.member(team) for _ in range(3)]
    coordinator = make.coordinator(district, name="刘协调员")
    admin = make.admin(name="管理员")
    day = local_midnight(days_ahead=-3)
    past = make.event(
        team,
        title="江堤防汛值守（第一周）",
        category_name="防汛抗旱",
        location="鄂州市鄂城区长江干堤樊口段二号哨所",
        shifts=[{"starts_at": day + 8 * HOUR, "ends_at": day + 12 * HOUR, "capacity": 5}],
    )
    past_shift = make.shifts_of(past)[0]
    for person in [volunteer, *others]:
        signups.sign_up(past_shift.id, person.id, SignupSource.SMS, now=day - 48 * HOUR)
    attendance.mark_all_attended(past_shift.id, viewer=viewer_for(leader), now=day + 13 * HOUR)
    coming = make.event(
        team,
        title="红色故事进校园：老兵讲述抗洪抢险的故事",
        category_name="红色宣讲",
        location="鄂州市鄂城区莲花山小学多功能厅",
        starts_at=local_midnight(days_ahead=3) + 9 * HOUR,
        shifts=2,
    )
    signups.sign_up(make.shifts_of(coming)[0].id, volunteer.id, SignupSource.WEB)
    db.session.commit()
    ids = {
        "team": team.id,
        "event": coming.id,
        "shift": past_shift.id,
        "unit": district.id,
    }
    phones = {
        "leader": leader.phone,
        "coordinator": coordinator.phone,
        "admin": admin.phone,
        "volunteer": volunteer.phone,
    }
    release_database()
    broker.join("hours")
    worker.join()

    # The volunteer's pages, logged in by a texted code.
    phone = journey("volunteer", PHONE)
    enlarge_font(phone)
    check_page(phone, "/me/login", "login", "志愿者登录")
    phone.page.get_by_label("手机号码").fill(phones["volunteer"])
    phone.page.get_by_role("button", name="获取验证码").click()
    broker.join("sms")
    worker.join()
    phone.page.goto(f"/dev/sms?phone={phones['volunteer']}")
    code = re.search(r"登录验证码是 (\d{6})", phone.page.locator(".sms-log").first.inner_text())
    phone.page.goto("/me/login/code")
    phone.page.get_by_label("短信验证码").fill(code.group(1))
    phone.page.get_by_role("button", name="登录").click()
    check_page(phone, "/me", "home", "您好")
    check_page(phone, "/me/hours", "my-hours", "服务")

    # The leader's, the coordinator's and the admin's pages, on the same small screen.
    for who, pages in (
        (
            "leader",
            [
                (f"/teams/{ids['team']}", "team", "莲花山社区戎马志愿服务队"),
                (f"/events/{ids['event']}", "event", "红色故事进校园"),
                (f"/teams/{ids['team']}/events/new", "new-event", "发布新活动"),
                (f"/shifts/{ids['shift']}/attendance", "attendance", "出勤登记"),
                (f"/teams/{ids['team']}/hours/records", "records", "服务记录审核"),
                (f"/teams/{ids['team']}/hours/records/new", "unplanned", "计划外服务"),
                ("/calendar", "feeds", "我的日历订阅"),
            ],
        ),
        (
            "coordinator",
            [
                ("/overview", "overview", "活动总览"),
                ("/hours/reports", "report", "服务时长统计"),
            ],
        ),
        ("admin", [("/ops", "ops", "运行")]),
    ):
        staff = journey(who, PHONE)
        enlarge_font(staff)
        staff.page.goto("/login")
        staff.page.get_by_label("手机号码").fill(phones[who])
        staff.page.get_by_label("密码").fill(make.PASSWORD)
        staff.page.get_by_role("button", name="登录").click()
        # Large text on a phone: the staff links fold into one 菜单, which opens.
        menu = staff.page.locator(".nav-menu summary")
        expect(menu).to_have_text("菜单")
        menu.click()
        expect(staff.page.get_by_role("button", name="退出")).to_be_visible()
        for path, label, heading in pages:
            check_page(staff, path, label, heading)


#: a 390 px phone at 200% browser zoom: 195 CSS px across
ZOOMED = {"width": 195, "height": 422}


def test_leader_pages_fit_a_phone_at_double_zoom(journey, make, worker):
    """At 200% zoom: no sideways scrolling on the pages a leader works on in the field,
    and the header (its links folded into 菜单) leaves most of the first screen."""
    team = make.team(name="莲花山社区戎马志愿服务队")
    leader = make.leader(team, name="张队长")
    for name in ("欧阳建国", "王建军", "李卫东"):
        make.member(team, name=name)
    now = utcnow()
    running = make.event(
        team, title="江堤防汛值守", shifts=1, capacity=2, starts_at=now - HOUR, open_to_all=True
    )
    coming = make.event(team, title="长江干堤巡查", shifts=2, capacity=3)
    viewer = viewer_for(leader)
    callout, _preview = callouts.start(
        viewer,
        callouts.CalloutInput(
            shift_ids=[make.shifts_of(coming)[0].id],
            audience=callouts.RingInput(team_ids=[team.id]),
        ),
    )
    db.session.commit()
    ids = {"team": team.id, "running": running.id, "callout": callout.id}
    phone = leader.phone
    release_database()
    worker.join()

    zoomed = journey("leader", ZOOMED)
    staff_login(zoomed.page, phone, make.PASSWORD)
    header = zoomed.page.locator(".site-header").bounding_box()
    assert header["height"] < ZOOMED["height"] * 0.35, header
    for path, label, heading in (
        (f"/teams/{ids['team']}", "team", "莲花山社区"),
        (f"/events/{ids['running']}", "event", "江堤防汛值守"),
        (f"/teams/{ids['team']}/events/new", "new-event", "发布新活动"),
        (f"/callouts/{ids['callout']}", "board", "召集进展"),
    ):
        zoomed.page.goto(path)
        for closed in zoomed.page.locator("details:not([open]) > summary").all():
            if closed.is_visible():
                closed.click()  # the walk-in form, the rota: wide controls hide in them
        check_shown(zoomed, path, label, heading, root_font=18)
