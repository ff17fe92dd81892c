"""The mainland providers wired in: SMS_BACKEND=aliyun / tencent against the local fakes,
texts pushed to our push endpoints, replies sent as templates, reports, SMS_ROUTES.

The fakes are the providers (outside our code): the real SDKs talk to them over HTTP,
and they push replies and reports to the app through the Flask test client."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.other_app import other_app
from tests.sms.domestic_fakes import (
    ALIYUN,
    PUSH_SECRET,
    push_url,
    route_abroad_to_twilio,
    twilio_beside,
)
from tests.sms.helpers import deliver_all
from volunteer_hub.extensions import db
from volunteer_hub.signups.models import Signup
from volunteer_hub.sms import pauses, services
from volunteer_hub.sms.backends import backend_for, current_gateway, parse_routes
from volunteer_hub.sms.gateway import ProviderPaused
from volunteer_hub.sms.models import InboundSms, OutgoingSms
from volunteer_hub.sms.templates import CATALOGUE, example

PHONE = "+8613800138000"
ROOT = Path(__file__).resolve().parents[2]
HELP = example(CATALOGUE["help"])


@pytest.fixture
def shift(make):
    event = make.event(make.team(), capacity=1, title="长江巡堤", open_to_all=True)
    return make.shifts_of(event)[0]


def counts() -> tuple[int, int, int]:
    return tuple(
        db.session.scalar(select(func.count()).select_from(model))
        for model in (InboundSms, Signup, OutgoingSms)
    )


def test_a_pushed_sign_up_is_answered_by_a_template_text(client, provider, make, shift):
    kind, fake = provider
    volunteer = make.person(phone=PHONE)
    response = fake.push_reply(
        push_url("inbound", kind), PHONE, f"报名 {shift.code}", client=client
    )
    assert response.status_code == 200
    assert response.get_json() == current_gateway().push_ack("inbound")[0]

    signup = db.session.scalar(select(Signup))
    assert (signup.person_id, signup.source) == (volunteer.id, "sms")
    reply = db.session.scalar(select(OutgoingSms))
    assert (reply.status, reply.to_phone, reply.template_key) == (
        "queued",
        PHONE,
        "signup_confirmed",
    )
    assert reply.template_vars["code"] == shift.code

    deliver_all()
    db.session.refresh(reply)
    assert reply.status == "sent" and reply.provider == kind.name
    [text] = fake.messages
    assert kind.keys_sent_to(fake, PHONE) == ["signup_confirmed"]  # its mapped template code
    params = text["params"]
    assert shift.code in (params.values() if isinstance(params, dict) else params)
    assert "【" not in str(params)  # the signature is the provider's sign name, not text


def test_a_replayed_push_changes_nothing(client, provider, make, shift):
    kind, fake = provider
    make.person(phone=PHONE)
    payload = kind.reply_push(fake, PHONE, f"报名 {shift.code}")
    assert fake.push(push_url("inbound", kind), payload, client=client).status_code == 200
    assert counts() == (1, 1, 1)
    assert fake.push(push_url("inbound", kind), payload, client=client).status_code == 200
    assert counts() == (1, 1, 1)


@pytest.mark.parametrize("secret", ["wrong", PUSH_SECRET[:-1], PUSH_SECRET + "x"])
def test_a_wrong_secret_or_provider_is_404_and_changes_nothing(
    client, provider, make, shift, secret
):
    kind, fake = provider
    make.person(phone=PHONE)
    body = f"报名 {shift.code}"
    assert (
        fake.push_reply(push_url("inbound", kind, secret), PHONE, body, client=client).status_code
        == 404
    )
    assert (
        fake.push_reply(push_url("inbound", "twilio"), PHONE, body, client=client).status_code
        == 404
    )
    assert counts() == (0, 0, 0)


def test_without_a_configured_secret_the_push_urls_are_closed(client, provider, app, monkeypatch):
    kind, fake = provider
    monkeypatch.setitem(app.config, "SMS_INBOUND_SECRET", None)
    assert (
        fake.push_reply(push_url("inbound", kind, "None"), PHONE, "帮助", client=client).status_code
        == 404
    )
    assert fake.push_reply(
        push_url("inbound", kind, ""), PHONE, "帮助", client=client
    ).status_code in (404, 405)
    assert counts() == (0, 0, 0)


def test_a_malformed_push_is_400_and_changes_nothing(client, provider):
    kind, _ = provider
    for body in (b"not json", b'"a string"', b"42"):
        response = client.post(
            f"/sms/inbound/{kind.name}/{PUSH_SECRET}", data=body, content_type="application/json"
        )
        assert response.status_code == 400
    assert counts() == (0, 0, 0)


def test_a_delivery_report_push_moves_the_text_to_delivered(client, provider, make, shift):
    kind, fake = provider
    make.person(phone=PHONE)
    fake.push_reply(push_url("inbound", kind), PHONE, f"报名 {shift.code}", client=client)
    deliver_all()
    report = kind.report_push(fake, fake.messages)
    response = fake.push(push_url("status", kind), report, client=client)
    assert response.status_code == 200
    reply = db.session.scalar(select(OutgoingSms))
    db.session.refresh(reply)
    assert reply.status == "delivered"


def test_a_row_without_a_template_key_is_never_sent_as_free_text(provider, make):
    _, fake = provider
    text = HELP
    row = services.queue_text(to_phone=PHONE, text=text, kind="reply", dedupe_key="free-text")
    row.template_key = None
    db.session.commit()
    assert services.deliver(row.id, current_gateway(PHONE)).outcome == "failed"
    db.session.refresh(row)
    assert (row.status, row.error_code) == ("failed", "no_template")
    assert fake.messages == []


def test_a_paused_provider_leaves_the_text_queued(provider, make):
    kind, fake = provider
    if kind is ALIYUN:
        fake.fail_next("isv.AMOUNT_NOT_ENOUGH")
    else:
        fake.fail_next("FailedOperation.InsufficientBalanceInSmsPackage")
    row = services.queue_text(to_phone=PHONE, text=HELP, kind="reply", dedupe_key="p")
    db.session.commit()
    assert services.deliver(row.id, current_gateway(PHONE)).outcome == "paused"
    db.session.refresh(row)
    assert row.status == "queued" and row.body.endswith(HELP.text)
    # a long provider code fits the column (PostgreSQL refuses more); the message has it whole
    assert row.error_code and len(row.error_code) <= 20
    assert ("AMOUNT_NOT_ENOUGH" if kind is ALIYUN else "InsufficientBalance") in row.error_message
    assert pauses.resume(kind.name, by="a test") is not None  # topped up
    assert services.deliver(row.id, current_gateway(PHONE)).outcome == "sent"


def test_routes_send_plus86_to_the_domestic_fake_and_others_to_twilio(
    provider, app, monkeypatch, fake_twilio
):
    kind, fake = provider
    route_abroad_to_twilio(app, monkeypatch, fake_twilio, kind.name)
    monkeypatch.setitem(app.config, "SMS_BACKEND", "twilio")
    app.extensions.pop("sms_gateway", None)
    abroad = "+14155550123"
    for number, key in ((PHONE, "mainland"), (abroad, "abroad")):
        services.queue_text(to_phone=number, text=HELP, kind="reply", dedupe_key=key)
    db.session.commit()
    deliver_all()
    assert [text[kind.phone_field] for text in fake.messages] == [PHONE]
    assert [message["params"]["To"] for message in fake_twilio.messages] == [abroad]
    assert {row.provider for row in db.session.scalars(select(OutgoingSms))} == {
        kind.name,
        "twilio",
    }


def test_parse_routes_longest_prefix_first_and_a_default():
    assert parse_routes("+86=aliyun,*=twilio", "console") == [("+86", "aliyun"), ("*", "twilio")]
    assert parse_routes("+852=twilio,+8=tencent", "console")[-1] == ("*", "console")
    config = {"SMS_BACKEND": "console", "SMS_ROUTES": "+8=tencent,+86=aliyun"}
    assert backend_for(config, "+8613800138000") == "aliyun"
    assert backend_for(config, "+85291234567") == "tencent"
    assert backend_for(config, "+14155550123") == "console"
    assert backend_for({}, "+8613800138000") == "console"
    for broken in ("+86", "86=aliyun", "+86=carrier-pigeon"):
        with pytest.raises(RuntimeError, match="SMS_ROUTES"):
            parse_routes(broken, "console")


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        # a domestic route without its template codes: its pushes would each answer 500
        ({"SMS_ROUTES": "+86=aliyun"}, "SMS_TEMPLATES"),
        ({"SMS_BACKEND": "tencent"}, "TENCENTCLOUD_SECRET_ID"),
        ({"SMS_ROUTES": "+86=console,*=twilio", "TWILIO_ACCOUNT_SID": None}, "TWILIO_ACCOUNT_SID"),
        # a push secret short enough to guess
        ({"SMS_INBOUND_SECRET": "secret123"}, "SMS_INBOUND_SECRET must be at least 24"),
    ],
)
def test_a_backend_in_use_without_its_settings_stops_the_app_as_it_starts(app, settings, named):
    overrides = {
        "SMS_BACKEND": "console",
        "SMS_ROUTES": None,
        "ALIYUN_ACCESS_KEY_ID": None,
        "TENCENTCLOUD_SECRET_ID": None,
        **settings,
    }
    with pytest.raises(RuntimeError, match=named), other_app(app, **overrides):
        pass


def test_flask_commands_still_run_to_write_the_settings_the_check_asks_for(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'check.sqlite3'}",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "check-test",
        "SMS_BACKEND": "aliyun",  # no keys, no SMS_TEMPLATES yet
    }
    for name in ("REDIS_URL", "SMS_ROUTES", "SMS_TEMPLATES", "ALIYUN_ACCESS_KEY_ID"):
        env.pop(name, None)
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    mapping = subprocess.run(
        [*flask, "sms", "templates", "--example-mapping"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert mapping.returncode == 0, mapping.stderr[-2000:]
    assert "[aliyun]" in mapping.stdout
    served = subprocess.run(
        [sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=120,
    )  # fmt: skip
    assert served.returncode != 0
    assert "SMS_BACKEND=aliyun needs ALIYUN_ACCESS_KEY_ID" in served.stderr, served.stderr[-2000:]


def test_provider_paused_has_one_home():
    from volunteer_hub.sms.backends import aliyun, tencent

    assert aliyun.ProviderPaused is tencent.ProviderPaused is ProviderPaused


def test_twilio_webhooks_still_work_behind_a_domestic_default(
    client, provider, app, monkeypatch, fake_twilio, make
):
    from twilio.request_validator import RequestValidator

    twilio_beside(app, monkeypatch, fake_twilio, "*=twilio")  # SMS_BACKEND stays domestic
    abroad = make.person(phone="+14155550123")
    params = {"MessageSid": "SM" + "7" * 32, "From": abroad.phone, "To": "+1500", "Body": "帮助"}
    signature = RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature(
        "http://localhost/sms/inbound", params
    )
    response = client.post("/sms/inbound", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200 and "<Message>" in response.get_data(as_text=True)
    forged = client.post("/sms/inbound", data=params, headers={"X-Twilio-Signature": "forged"})
    assert forged.status_code == 403
