"""/dev/sms: the console backend's texts, and an inbound simulator, in development only."""

import pytest
from sqlalchemy import func, select

from volunteer_hub.extensions import db
from volunteer_hub.signups.models import Signup
from volunteer_hub.sms import services as outbox
from volunteer_hub.sms.models import InboundSms
from volunteer_hub.sms.templates import render


@pytest.fixture
def dev_pages(app, monkeypatch):
    monkeypatch.setitem(app.config, "DEV_PAGES", True)


def test_absent_outside_development(client):
    assert client.get("/dev/sms").status_code == 404
    assert client.post("/dev/sms", data={"phone": "13800138000", "body": "帮助"}).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(InboundSms)) == 0


def test_lists_the_texts_the_system_sent(client, dev_pages, make):
    volunteer = make.person(name="王建国")
    outbox.queue_text(
        to_phone=volunteer.phone,
        text=render("reminder", title="防汛巡堤", when="12月1日 08:00", place="江滩", code="1234"),
        kind="reminder",
        dedupe_key="dev-page-test",
        person_id=volunteer.id,
    )
    db.session.commit()

    page = client.get("/dev/sms").get_data(as_text=True)

    assert "提醒：您报名的“防汛巡堤”将于12月1日 08:00开始" in page
    assert volunteer.phone in page
    assert "王建国" in page  # offered in the phone picker


def test_simulated_text_signs_up_and_shows_the_reply(client, dev_pages, make):
    team = make.team()
    shift = make.shifts_of(make.event(team, title="红色宣讲"))[0]
    volunteer = make.member(team)

    response = client.post("/dev/sms", data={"phone": volunteer.phone, "body": f"报名{shift.code}"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)

    assert "报名成功" in page and "红色宣讲" in page
    signup = db.session.scalar(select(Signup).where(Signup.person_id == volunteer.id))
    assert (signup.status, signup.source) == ("confirmed", "sms")
    assert db.session.scalar(select(InboundSms.body)) == f"报名{shift.code}"


@pytest.mark.parametrize(
    ("phone", "body", "message"),
    [("12345", "帮助", "手机号"), ("", "帮助", "手机号"), ("13800138000", "  ", "短信内容")],
)
def test_bad_input_is_a_chinese_error_and_changes_nothing(client, dev_pages, phone, body, message):
    response = client.post("/dev/sms", data={"phone": phone, "body": body})

    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(InboundSms)) == 0
