"""/ops and the SMS backends: each backend sending or paused (since when, why) with a
button to resume it; texts held for the quiet hours, a recipient cap or a paused
backend counted apart from "queued", with when they go out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import login
from tests.ops import test_ops_page
from tests.ops.test_ops_page import text
from volunteer_hub.broker import queue_depth
from volunteer_hub.db import utcnow
from volunteer_hub.ops import services
from volunteer_hub.sms import pauses
from volunteer_hub.sms.limits import CAP_CODE

admin_client = test_ops_page.admin_client

SINCE = datetime(2026, 12, 6, 1, 30, tzinfo=UTC)  # 09:30 in Beijing


@pytest.fixture
def two_backends(app, monkeypatch):
    """Mainland numbers to aliyun, the rest to twilio (no gateway is built for the page)."""
    monkeypatch.setitem(app.config, "SMS_BACKEND", "twilio")
    monkeypatch.setitem(app.config, "SMS_ROUTES", "+86=aliyun")


def paused_aliyun():
    pauses.pause(
        "aliyun",
        code="isv.AMOUNT_NOT_ENOUGH",
        reason="Aliyun isv.AMOUNT_NOT_ENOUGH: 账户余额不足",
        at=SINCE,
    )


def test_each_backend_in_use_is_shown_sending(admin_client, two_backends):
    page = admin_client.get("/ops").get_data(as_text=True)
    for name in ("aliyun", "twilio"):
        assert f'id="backend-{name}"' in page
    assert page.count("正常发送") == 2
    assert "恢复发送" not in page


def test_a_paused_backend_says_since_when_and_why_with_a_resume_button(admin_client, two_backends):
    paused_aliyun()
    page = admin_client.get("/ops").get_data(as_text=True)
    aliyun = page.split('id="backend-aliyun"', 1)[1].split("</li>", 1)[0]
    assert "已暂停" in aliyun and "账户余额不足" in aliyun
    assert "isv.AMOUNT_NOT_ENOUGH" in aliyun
    assert "12月6日" in aliyun and "09:30" in aliyun  # local time
    assert 'action="/ops/sms/aliyun/resume"' in aliyun
    assert "自动恢复" not in aliyun  # an empty balance waits for a person
    twilio = page.split('id="backend-twilio"', 1)[1].split("</li>", 1)[0]
    assert "正常发送" in twilio


def test_a_daily_quota_pause_says_when_it_ends_by_itself(admin_client, two_backends):
    pauses.pause(
        "aliyun",
        code="isv.DAY_LIMIT_CONTROL",
        reason="Aliyun isv.DAY_LIMIT_CONTROL: 触发日发送限额",
        at=SINCE,
        resets="day",
    )
    page = admin_client.get("/ops").get_data(as_text=True)
    aliyun = page.split('id="backend-aliyun"', 1)[1].split("</li>", 1)[0]
    assert "已暂停" in aliyun and "触发日发送限额" in aliyun
    assert "12月7日" in aliyun and "00:00" in aliyun and "自动恢复" in aliyun
    assert 'action="/ops/sms/aliyun/resume"' in aliyun  # a raised quota may resume it now


def test_resuming_lifts_the_pause_and_sends_the_waiting_texts(admin_client, two_backends, broker):
    paused_aliyun()
    text("queued", error_code=pauses.PAUSED_CODE)
    text("queued", error_code=pauses.PAUSED_CODE, to_phone="+14155550123")

    response = admin_client.post("/ops/sms/aliyun/resume", follow_redirects=True)

    assert response.status_code == 200
    assert "已恢复 aliyun 发送，1 条等待的短信将陆续发出。" in response.get_data(as_text=True)
    assert pauses.current("aliyun") is None
    assert queue_depth(broker, "sms") == 1  # the mainland text only: abroad is twilio's
    held = {group.reason: group.count for group in services.held_texts(utcnow())}
    assert held == {pauses.PAUSED_CODE: 1}  # abroad's mark stays: twilio is not resumed
    again = admin_client.post("/ops/sms/aliyun/resume", follow_redirects=True)
    assert "没有暂停" in again.get_data(as_text=True)


def test_only_an_admin_resumes_and_only_a_backend_in_use(client, make, two_backends):
    paused_aliyun()
    team = make.team()
    login(client, make.leader(team))
    assert client.post("/ops/sms/aliyun/resume").status_code == 404
    assert pauses.current("aliyun") is not None
    client.post("/logout")
    login(client, make.admin())
    assert client.post("/ops/sms/tencent/resume").status_code == 404
    assert pauses.current("aliyun") is not None


def test_held_texts_are_apart_from_queued_with_when_they_go_out(admin_client):
    now = utcnow()
    morning = now + timedelta(hours=9)
    text("queued", send_after=morning)  # a call-out written at night
    text("queued", send_after=morning + timedelta(minutes=5), kind="broadcast")
    text("queued", send_after=now + timedelta(minutes=40), error_code=CAP_CODE)
    text("queued", error_code=pauses.PAUSED_CODE)
    text("queued")  # due: waiting for a worker

    counts = services.outbox_counts(now - timedelta(hours=24), now)
    assert (counts["queued"], counts["held"]) == (1, 4)
    held = {group.reason: group for group in services.held_texts(now)}
    assert list(held) == ["quiet_hours", CAP_CODE, pauses.PAUSED_CODE]
    assert held["quiet_hours"].count == 2
    assert held["quiet_hours"].first_out == morning
    assert held["quiet_hours"].last_out == morning + timedelta(minutes=5)
    assert held[CAP_CODE].first_out == now + timedelta(minutes=40)
    assert held[pauses.PAUSED_CODE].first_out is None

    page = admin_client.get("/ops").get_data(as_text=True)
    assert "夜间免打扰：2 条" in page
    assert "已达单个号码的发送上限：1 条" in page
    assert "通道暂停，等待恢复：1 条" in page
    assert "陆续发出" in page.split('id="held-quiet_hours"', 1)[1].split("</li>", 1)[0]


def test_a_held_text_whose_time_has_come_is_queued_again():
    now = utcnow()
    text("queued", send_after=now - timedelta(minutes=1), error_code=CAP_CODE)
    counts = services.outbox_counts(now - timedelta(hours=24), now)
    assert (counts["queued"], counts["held"]) == (1, 0)
    assert services.held_texts(now) == []


def test_texts_waiting_for_a_paused_backend_are_not_stuck():
    text("queued", created=timedelta(minutes=30), error_code=pauses.PAUSED_CODE)
    text("queued", created=timedelta(minutes=30))
    assert services.stuck_texts(utcnow()).queued == 1
