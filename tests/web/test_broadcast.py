"""The "短信通知队员" form on the event page: who sees it, what it sends, what it says."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import login
from tests.web.conftest import page
from tests.web.test_csrf import token_from
from volunteer_hub.extensions import db
from volunteer_hub.i18n import local_zone
from volunteer_hub.sms import services as outbox
from volunteer_hub.sms.models import Broadcast, OutgoingSms, SmsKind


def outbox_count() -> int:
    return db.session.scalar(
        select(func.count()).select_from(OutgoingSms).where(OutgoingSms.kind == SmsKind.BROADCAST)
    )


def broadcast_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Broadcast))


@pytest.fixture
def daytime(app, monkeypatch):
    """No quiet hours, whatever the time the suite runs at."""
    monkeypatch.setitem(app.config, "SMS_QUIET_HOURS", "off")


@pytest.fixture
def night(app, monkeypatch) -> str:
    """Quiet hours around the present moment; returns when they end (HH:MM, local)."""
    now = datetime.now(local_zone())
    start, end = now - timedelta(hours=1), now + timedelta(hours=1)
    monkeypatch.setitem(app.config, "SMS_QUIET_HOURS", f"{start:%H:%M}-{end:%H:%M}")
    return f"{end:%H:%M}"


def test_the_leader_sees_the_form_and_sends(client, world, make, daytime):
    others = [make.member(world.team_b) for _ in range(2)]
    outbox.opt_out(others[0].id, channel="sms", keyword="TD")
    db.session.commit()
    login(client, world.leader_b)

    html = page(client.get(f"/events/{world.event_b.id}"))
    assert "短信通知队员" in html
    assert "紧急（防汛等，夜间也发送）" in html
    assert f'action="/events/{world.event_b.id}/broadcast"' in html

    response = client.post(f"/events/{world.event_b.id}/broadcast", data={})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/events/{world.event_b.id}#broadcast")

    html = page(client.get(response.headers["Location"]))
    # member_b and one new member; the opted-out one is skipped; the leader is the sender
    assert "已通知 2 人，1 人因已退订或超出每日上限未发送" in html
    assert "已发送的通知" in html and "李队长" in html
    assert "新活动：“长江巡堤”" in html
    [sent] = db.session.scalars(select(Broadcast)).all()
    assert (sent.event_id, sent.sent_by_id, sent.is_urgent) == (
        world.event_b.id,
        world.leader_b.id,
        False,
    )
    assert outbox_count() == 2


def test_at_night_the_flash_says_when_texts_go_out(client, world, night):
    login(client, world.leader_b)

    response = client.post(f"/events/{world.event_b.id}/broadcast", data={})

    html = page(client.get(response.headers["Location"]))
    assert f"1 人将于 {night} 收到" in html
    assert "已通知" not in html


def test_urgent_goes_out_at_night(client, world, night):
    login(client, world.leader_b)

    response = client.post(f"/events/{world.event_b.id}/broadcast", data={"urgent": "y"})

    assert "已通知 1 人" in page(client.get(response.headers["Location"]))
    assert db.session.scalar(select(Broadcast.is_urgent)) is True


def test_a_coordinator_above_the_team_may_send(client, world, daytime):
    login(client, world.coordinator_y)
    response = client.post(f"/events/{world.event_b.id}/broadcast", data={})
    assert response.status_code == 302
    assert broadcast_count() == 1


def test_a_draft_has_no_form_and_a_forced_post_changes_nothing(client, world, make, daytime):
    draft = make.event(world.team_b, status="draft")
    login(client, world.leader_b)

    assert "短信通知队员" not in page(client.get(f"/events/{draft.id}"))
    response = client.post(f"/events/{draft.id}/broadcast", data={})

    assert response.status_code == 302
    assert "草稿活动不能通知队员" in page(client.get(response.headers["Location"]))
    assert broadcast_count() == 0 and outbox_count() == 0


def test_without_the_csrf_token_nothing_is_sent(app, client, world, daytime):
    login(client, world.leader_b)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        url = f"/events/{world.event_b.id}/broadcast"
        assert client.post(url, data={}).status_code == 400
        assert client.post(url, data={"csrf_token": "forged"}).status_code == 400
        assert broadcast_count() == 0 and outbox_count() == 0
        token = token_from(page(client.get(f"/events/{world.event_b.id}")))
        assert client.post(url, data={"csrf_token": token}).status_code == 302
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert broadcast_count() == 1


def test_the_event_page_query_count_does_not_grow_with_broadcasts(
    client, world, count_queries, daytime
):
    login(client, world.leader_b)
    url = f"/events/{world.event_b.id}"
    client.post(f"{url}/broadcast", data={})
    with count_queries() as one:
        client.get(url)
    for _ in range(3):
        client.post(f"{url}/broadcast", data={"urgent": "y"})
    with count_queries() as four:
        html = page(client.get(url))
    assert html.count("已发 1 人") == 4
    assert one.count == four.count
