"""Sharing an event to a WeChat group: the notice to paste and the poster to post."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from tests.conftest import login
from volunteer_hub.events import poster
from volunteer_hub.events.models import EventStatus
from volunteer_hub.extensions import db

START = datetime(2031, 7, 1, 0, 0, tzinfo=UTC)  # 08:00 in Shanghai


@pytest.fixture
def flood_duty(make):
    team = make.team(name="江岸区长江卫士服务队")
    leader = make.leader(team)
    event = make.event(
        team,
        title="防汛巡堤",
        location="汉口江滩三阳路码头",
        shifts=[
            {
                "title": "早班",
                "starts_at": START,
                "ends_at": START + timedelta(hours=4),
                "capacity": 10,
            },
            {
                "title": "午班",
                "starts_at": START + timedelta(hours=4),
                "ends_at": START + timedelta(hours=8),
                "capacity": 10,
            },
        ],
    )
    return team, leader, event


def notice_of(client, event) -> str:
    html = client.get(f"/events/{event.id}").get_data(as_text=True)
    return html.split('<textarea id="wechat-notice"')[1].split(">", 1)[1].split("</textarea>")[0]


def test_the_event_page_has_a_notice_ready_to_paste(client, app, flood_duty, make):
    _team, leader, event = flood_duty
    early, late = make.shifts_of(event)
    login(client, leader)

    lines = notice_of(client, event).splitlines()
    assert lines[0] == "【江岸区长江卫士服务队】防汛巡堤"
    assert lines[1] == "时间：2031年7月1日 周二 08:00–16:00"
    assert lines[2] == "地点：汉口江滩三阳路码头"
    assert lines[4] == f"· 早班 2031年7月1日 周二 08:00–12:00 —— 报名 {early.code}"
    assert lines[5] == f"· 午班 2031年7月1日 周二 12:00–16:00 —— 报名 {late.code}"
    assert f"“报名 {early.code}”" in lines[6]
    assert lines[7] == f"网上报名：http://localhost/me/events/{event.id}"

    app.config.update(PUBLIC_BASE_URL="https://vh.example.cn", TWILIO_FROM_NUMBER="+12025550123")
    try:
        lines = notice_of(client, event).splitlines()
    finally:
        app.config.update(PUBLIC_BASE_URL=None, TWILIO_FROM_NUMBER=None)
    assert "+1 202-555-0123" in lines[6]
    assert lines[7] == f"网上报名：https://vh.example.cn/me/events/{event.id}"


def test_a_cancelled_shift_is_left_out_and_a_draft_has_nothing_to_share(client, flood_duty, make):
    _team, leader, event = flood_duty
    _early, late = make.shifts_of(event)
    late.is_cancelled = True
    db.session.commit()
    login(client, leader)
    assert late.code not in notice_of(client, event)

    event.status = EventStatus.DRAFT
    db.session.commit()
    html = client.get(f"/events/{event.id}").get_data(as_text=True)
    assert "wechat-notice" not in html and "poster.png" not in html


def test_the_poster_is_a_png_cached_by_what_it_says(client, flood_duty):
    _team, leader, event = flood_duty
    login(client, leader)
    url = f"/events/{event.id}/poster.png"
    assert f'href="{url}" download' in client.get(f"/events/{event.id}").get_data(as_text=True)

    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "image/png"
    image = Image.open(io.BytesIO(response.data))
    assert image.format == "PNG" and image.width == poster.WIDTH and image.height > image.width
    tag = response.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": tag}).status_code == 304
    assert client.get(url, headers={"If-None-Match": f"W/{tag}"}).status_code == 304

    event.title = "防汛巡堤（加强）"
    db.session.commit()
    changed = client.get(url, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["ETag"] != tag


def test_another_teams_leader_gets_no_poster(client, flood_duty, make):
    _team, _leader, event = flood_duty
    login(client, make.leader(make.team()))
    assert client.get(f"/events/{event.id}/poster.png").status_code == 404


def test_the_qr_code_holds_the_sign_up_page(app):
    """The code drawn is the one segno makes of the URL, module for module."""
    import segno

    url = "https://vh.example.cn/me/events/7"
    image = poster._qr_image(url, 360)
    matrix = [list(row) for row in segno.make(url, error="m").matrix_iter(border=2)]
    step = 360 / len(matrix)
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            pixel = image.getpixel((int((x + 0.5) * step), int((y + 0.5) * step)))
            assert (pixel == 0) == bool(dark), (x, y)


def test_the_poster_font_has_chinese_when_the_system_has_one():
    path, _index = poster._cjk_font()
    if path is None:
        pytest.skip("no CJK font on this system: the poster falls back to Pillow's font")
    from PIL import ImageFont

    font = ImageFont.truetype(path, size=40, index=_index)
    # A glyph for 报 is not the font's "missing" box.
    assert font.getmask("报").getbbox() != font.getmask("\uffff").getbbox()
