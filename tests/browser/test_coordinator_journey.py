"""A district coordinator: subscribes to the district's flood-control events, copies the
webcal link, reads the hours report with its charts (on a desk and on a phone) and
exports it to Excel."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from tests.browser.conftest import HOUR, PHONE, local_midnight, release_database
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance, verification
from volunteer_hub.hours.models import ServiceRecord
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import SignupSource

pytestmark = pytest.mark.slow

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip with the reason
    expect = None


def served_hours(make, team, leader, title, category_name, days_ago, people):
    """An event that took place ``days_ago`` days ago, everyone present and verified."""
    from volunteer_hub.auth.permissions import viewer_for

    day = local_midnight(days_ahead=-days_ago)
    event = make.event(
        team,
        title=title,
        category_name=category_name,
        shifts=[{"starts_at": day + 8 * HOUR, "ends_at": day + 12 * HOUR, "capacity": 10}],
    )
    shift = make.shifts_of(event)[0]
    for person in people:
        signups.sign_up(shift.id, person.id, SignupSource.WEB, now=day - timedelta(days=2))
    leader_view = viewer_for(leader)
    attendance.mark_all_attended(shift.id, viewer=leader_view, now=day + 13 * HOUR)
    db.session.flush()
    ids = db.session.scalars(
        db.select(ServiceRecord.id).where(ServiceRecord.shift_id == shift.id)
    ).all()
    verification.verify(ids, viewer=leader_view)
    db.session.commit()


def test_coordinator_subscribes_reads_the_report_and_exports(
    journey, make, broker, worker, tmp_path
):
    city = make.unit("鄂州市")
    district = make.unit("鄂城区", parent=city)
    rescue = make.team(make.unit("凤凰街道", parent=district), name="凤凰街道退役军人志愿服务队")
    lecture = make.team(make.unit("西山街道", parent=district), name="西山街道红色宣讲队")
    rescue_leader, lecture_leader = make.leader(rescue), make.leader(lecture)
    rescue_people = [make.member(rescue) for _ in range(4)]
    lecture_people = [make.member(lecture) for _ in range(2)]
    served_hours(make, rescue, rescue_leader, "江堤巡查", "防汛抗旱", 20, rescue_people)
    served_hours(make, lecture, lecture_leader, "红色故事宣讲", "红色宣讲", 10, lecture_people)
    make.event(rescue, title="汛前江堤隐患排查", category_name="防汛抗旱")
    make.event(lecture, title="英烈事迹进社区", category_name="红色宣讲")
    coordinator = make.coordinator(district, name="刘协调员")
    coordinator_phone = coordinator.phone
    release_database()
    broker.join("hours")
    worker.join()

    desk = journey("coordinator")
    page = desk.page
    desk.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto("/login")
    page.get_by_label("手机号码").fill(coordinator_phone)
    page.get_by_label("密码").fill(make.PASSWORD)
    page.get_by_role("button", name="登录").click()

    # A feed of the district, flood control only.
    page.goto("/calendar")
    page.get_by_label("订阅内容").select_option(label="鄂城区 及下属")
    page.get_by_label("防汛抗旱").check()
    desk.shot("new-feed")
    page.get_by_role("button", name="生成订阅链接").click()
    expect(page.get_by_role("heading", name="订阅链接已生成")).to_be_visible()
    webcal = page.get_by_label(re.compile("webcal 链接"))
    page.locator("[data-copy=webcal-url]").click()
    expect(page.locator("[data-copy=webcal-url]")).to_have_text("已复制")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == webcal.input_value()
    assert re.fullmatch(r"webcal://127\.0\.0\.1:\d+/feeds/[\w-]+\.ics", copied), copied
    desk.shot("feed-created")
    feed = page.request.get(copied.replace("webcal://", "http://"))
    assert feed.ok and feed.headers["content-type"].startswith("text/calendar")
    body = feed.text()
    assert "汛前江堤隐患排查" in body and "英烈事迹进社区" not in body

    # The hours report, with its charts.
    page.goto("/hours/reports")
    expect(page.get_by_role("heading", name=re.compile("服务时长统计 · 鄂城区"))).to_be_visible()
    top_teams = page.get_by_role("img", name=re.compile("服务时长前 \\d+ 名的服务队"))
    expect(top_teams).to_be_visible()
    expect(top_teams).to_contain_text("凤凰街道退役军人志愿服务队")
    expect(page.get_by_role("img", name=re.compile("每月服务时长"))).to_be_visible()
    by_team = page.locator("section", has=page.get_by_role("heading", name="按服务队"))
    expect(
        by_team.get_by_role("row", name=re.compile("凤凰街道退役军人志愿服务队.*16"))
    ).to_be_visible()
    desk.shot("hours-report")

    # Excel: the same figures, Chinese intact.
    with page.expect_download() as download_info:
        page.get_by_role("link", name="导出 Excel").click()
    path = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(path)
    cells = [
        str(cell)
        for sheet in load_workbook(path).worksheets
        for row in sheet.iter_rows(values_only=True)
        for cell in row
        if cell is not None
    ]
    assert "凤凰街道退役军人志愿服务队" in cells and "西山街道红色宣讲队" in cells
    assert any("服务队" in cell for cell in cells)

    # The same report on a phone.
    page.set_viewport_size(PHONE)
    page.reload()
    expect(top_teams).to_be_visible()
    desk.shot("hours-report-phone")
    page.get_by_role("heading", name="图表").scroll_into_view_if_needed()
    page.evaluate("window.scrollBy(0, -60)")
    desk.shot("hours-charts-phone", full_page=False)
