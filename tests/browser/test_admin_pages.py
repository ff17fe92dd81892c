"""The unit tree and a shift's sign-in sheet in Chromium at 390 px, with the browser's
font enlarged as many older volunteers set it: nothing wider than the screen, every
control named; the sheet prints without its buttons. Screenshots for a look."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE, release_database, staff_login
from tests.browser.test_layout import check_page, enlarge_font
from tests.factories import PASSWORD
from volunteer_hub.extensions import db
from volunteer_hub.signups.services import sign_up

pytestmark = pytest.mark.slow


def log_in(journey, phone: str) -> None:
    staff_login(journey.page, phone, PASSWORD)
    journey.page.wait_for_url(lambda url: "/login" not in url)


def test_unit_tree_and_sign_in_sheet_fit_a_phone(journey, make, broker, worker):
    city = make.unit("鄂州市")
    district = make.unit("鄂城区", parent=city)
    street = make.unit("凤凰街道", parent=district)
    for name in ("莲花山社区", "洋澜湖社区", "滨湖社区"):
        make.unit(name, parent=street)
    team = make.team(street, name="凤凰街道退役军人志愿服务队")
    leader = make.leader(team, name="张队长")
    coordinator = make.coordinator(city, name="刘协调员")
    event = make.event(team, shifts=1, title="护苗护学站岗", location="凤凰小学门口")
    shift = make.shifts_of(event)[0]
    for name in ("王建国", "赵卫东", "李红"):
        sign_up(shift.id, make.member(team, name=name).id, "sms")
    db.session.commit()
    street_id, shift_id, team_id = street.id, shift.id, team.id
    leader_phone, coordinator_phone = leader.phone, coordinator.phone
    release_database()

    on_phone = journey("coordinator", PHONE)
    log_in(on_phone, coordinator_phone)
    enlarge_font(on_phone)
    check_page(on_phone, "/units", "unit-tree", "单位管理")
    on_phone.page.get_by_role("link", name="凤凰街道").first.click()
    on_phone.page.wait_for_url(f"**/units/{street_id}")
    check_page(on_phone, f"/units/{street_id}", "unit-page", "凤凰街道")

    sheet = journey("leader", PHONE)
    log_in(sheet, leader_phone)
    enlarge_font(sheet)
    check_page(sheet, f"/teams/{team_id}/manage", "manage-team", "管理服务队")
    check_page(sheet, f"/shifts/{shift_id}/sign-in-sheet", "sign-in-sheet", "签到表")
    assert sheet.page.get_by_role("button", name="打印签到表").is_visible()
    for name in ("王建国", "赵卫东", "李红"):
        assert sheet.page.get_by_role("cell", name=name).is_visible()
    sheet.page.emulate_media(media="print")
    assert not sheet.page.get_by_role("button", name="打印签到表").is_visible()
    sheet.shot("sign-in-sheet-print")
