"""A call-out board with JavaScript off (an old phone's browser, a saver mode) does not
promise to update itself: it says to reload. With JavaScript the promise is made."""

from __future__ import annotations

import pytest

from tests.browser.conftest import PHONE, release_database, staff_login
from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.callouts import services as callouts
from volunteer_hub.extensions import db

pytestmark = pytest.mark.slow

try:
    from playwright.sync_api import expect
except ImportError:  # the fixtures skip with the reason
    expect = None


@pytest.mark.parametrize("scripts", [False, True], ids=["without-js", "with-js"])
def test_the_board_says_how_it_updates(chromium, live_server, make, worker, scripts):
    team = make.team(name="莲花山社区戎马志愿服务队")
    leader = make.leader(team, name="张队长")
    make.member(team, name="王建国")
    coming = make.event(team, title="长江干堤巡查", shifts=1, capacity=3)
    callout, _preview = callouts.start(
        viewer_for(leader),
        callouts.CalloutInput(
            shift_ids=[make.shifts_of(coming)[0].id],
            audience=callouts.RingInput(team_ids=[team.id]),
        ),
    )
    db.session.commit()
    board, phone = f"/callouts/{callout.id}", leader.phone
    release_database()
    worker.join()

    context = chromium.new_context(
        viewport=PHONE, locale="zh-CN", base_url=live_server, java_script_enabled=scripts
    )
    try:
        page = context.new_page()
        staff_login(page, phone, make.PASSWORD)
        page.goto(board)
        expect(page.get_by_role("heading", name="召集进展")).to_be_visible()
        live, reload = page.get_by_text("本页每几秒自动更新"), page.get_by_text("请刷新页面")
        expect(live if scripts else reload).to_be_visible()
        expect(reload if scripts else live).to_be_hidden()
    finally:
        context.close()
