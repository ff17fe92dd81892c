"""The Twilio backend through the real twilio client, against the local fake REST API."""

from __future__ import annotations

import base64
import logging
import socket

import pytest
from twilio.request_validator import RequestValidator

from volunteer_hub.devtools.fake_twilio import FakeTwilio
from volunteer_hub.devtools.fake_twilio_account import FROM_NUMBER
from volunteer_hub.sms.backends import BACKENDS, console, gateway_for
from volunteer_hub.sms.backends.console import ConsoleGateway
from volunteer_hub.sms.backends.twilio import RedirectingHttpClient, TwilioGateway
from volunteer_hub.sms.gateway import (
    PermanentSmsError,
    RecipientOptedOut,
    SendResult,
    TransientSmsError,
)

PHONE = "+8613800138000"
BODY = "【退役军人志愿服务】您已报名：长江大保护巡河，班次 1234。"
SERVICE_SID = "MG" + "ab" * 16
CALLBACK = "https://vh.example.cn/sms/status"


def gateway_at(fake: FakeTwilio, **overrides) -> TwilioGateway:
    options = {
        "account_sid": fake.account_sid,
        "auth_token": fake.auth_token,
        "from_number": FROM_NUMBER,
        "api_base_url": fake.base_url,
        "timeout": 5,
        **overrides,
    }
    return TwilioGateway(**options)


# -- sending ---------------------------------------------------------------------------


def test_send_reaches_the_fake_with_basic_auth_and_our_fields(fake_twilio, twilio_gateway):
    result = twilio_gateway.send(PHONE, BODY, status_callback=CALLBACK)

    assert isinstance(result, SendResult)
    assert result.status == "sent"
    assert result.provider_sid.startswith("SM") and len(result.provider_sid) == 34
    assert result.segments == 1
    [message] = fake_twilio.messages_to(PHONE)
    assert message["sid"] == result.provider_sid
    assert (message["to"], message["from"], message["body"]) == (PHONE, FROM_NUMBER, BODY)
    assert message["status_callback"] == CALLBACK
    assert "MessagingServiceSid" not in message["params"]
    assert fake_twilio.requests == 1
    assert fake_twilio.auth_failures == 0


def test_long_chinese_text_reports_its_segments(twilio_gateway):
    result = twilio_gateway.send(PHONE, "报" * 71)
    assert result.segments == 2


def test_messaging_service_sid_is_the_sender_when_set(fake_twilio):
    gateway = gateway_at(fake_twilio, from_number=None, messaging_service_sid=SERVICE_SID)
    try:
        result = gateway.send(PHONE, BODY)
    finally:
        gateway.close()
    [message] = fake_twilio.messages
    assert message["params"]["MessagingServiceSid"] == SERVICE_SID
    assert "From" not in message["params"]
    # Twilio has not picked a sender yet, so it cannot say how many segments: unknown.
    assert result.segments is None
    assert result.status == "sent"


def test_wrong_credentials_are_refused_by_the_fake(fake_twilio):
    gateway = gateway_at(fake_twilio, auth_token="not-the-token")
    try:
        with pytest.raises(TransientSmsError) as caught:
            gateway.send(PHONE, BODY)
    finally:
        gateway.close()
    assert caught.value.code == "20003"
    assert fake_twilio.auth_failures == 1
    assert fake_twilio.messages == []


def test_the_client_is_built_lazily_and_once(fake_twilio):
    gateway = gateway_at(fake_twilio)
    try:
        assert gateway._client is None
        gateway.send(PHONE, BODY)
        client = gateway._client
        gateway.send(PHONE, BODY)
        assert gateway._client is client
    finally:
        gateway.close()
    assert len(fake_twilio.messages) == 2


def test_edge_and_region_hosts_are_rewritten_too(fake_twilio, monkeypatch):
    # The client reads these and sends to api.singapore.sg1.twilio.com: still the fake.
    monkeypatch.setenv("TWILIO_EDGE", "singapore")
    monkeypatch.setenv("TWILIO_REGION", "sg1")
    gateway = gateway_at(fake_twilio)
    try:
        gateway.send(PHONE, BODY)
    finally:
        gateway.close()
    assert len(fake_twilio.messages) == 1


# -- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_transient(fake_twilio, twilio_gateway, status):
    fake_twilio.fail_next(status=status)
    with pytest.raises(TransientSmsError) as caught:
        twilio_gateway.send(PHONE, BODY)
    assert caught.value.code
    assert fake_twilio.messages == []
    # No retry inside the backend: exactly one request reached Twilio.
    assert fake_twilio.requests == 1


def test_429_twice_then_success_is_three_calls_by_the_caller(fake_twilio, twilio_gateway):
    fake_twilio.fail_next(status=429, times=2)
    for _ in range(2):
        with pytest.raises(TransientSmsError):
            twilio_gateway.send(PHONE, BODY)
    assert twilio_gateway.send(PHONE, BODY).status == "sent"
    assert fake_twilio.requests == 3
    assert fake_twilio.statuses == {429: 2, 201: 1}


def test_unsubscribed_recipient_is_opted_out(fake_twilio, twilio_gateway):
    fake_twilio.unsubscribed.add(PHONE)
    with pytest.raises(RecipientOptedOut) as caught:
        twilio_gateway.send(PHONE, BODY)
    assert caught.value.code == "21610"
    assert isinstance(caught.value, PermanentSmsError)


def test_scripted_21610_is_opted_out_too(fake_twilio, twilio_gateway):
    fake_twilio.fail_next(
        status=400, code=21610, message="Attempt to send to unsubscribed recipient"
    )
    with pytest.raises(RecipientOptedOut):
        twilio_gateway.send(PHONE, BODY)


def test_invalid_number_is_permanent_with_its_code_and_without_the_number(twilio_gateway):
    with pytest.raises(PermanentSmsError) as caught:
        twilio_gateway.send("+86 138 0013 8000x", BODY)
    assert type(caught.value) is PermanentSmsError
    assert caught.value.code == "21211"
    # Twilio quotes the number in its message; ours must not carry it on.
    assert "138" not in str(caught.value)


@pytest.mark.parametrize("code", [21211, 21614, 21408])
def test_other_client_errors_are_permanent(fake_twilio, twilio_gateway, code):
    fake_twilio.fail_next(status=400, code=code)
    with pytest.raises(PermanentSmsError) as caught:
        twilio_gateway.send(PHONE, BODY)
    assert type(caught.value) is PermanentSmsError
    assert caught.value.code == str(code)


def test_connection_refused_is_transient():
    with socket.socket() as probe:  # a port nobody listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gateway = TwilioGateway("AC" + "0" * 32, "token", FROM_NUMBER, None, f"http://127.0.0.1:{port}")
    try:
        with pytest.raises(TransientSmsError) as caught:
            gateway.send(PHONE, BODY)
    finally:
        gateway.close()
    assert caught.value.code == "connection"


def test_an_answer_slower_than_the_timeout_is_transient(fake_twilio):
    # A real client-side timeout: the fake holds its answer for 1 s, the client waits 0.2 s.
    fake_twilio.delay_next(1.0)
    gateway = gateway_at(fake_twilio, timeout=0.2)
    try:
        with pytest.raises(TransientSmsError) as caught:
            gateway.send(PHONE, BODY)
    finally:
        gateway.close()
    assert caught.value.code == "timeout"


# -- the HTTP client ---------------------------------------------------------------------------


def test_twilio_origins_are_rewritten_to_the_base_url_and_others_left_alone():
    client = RedirectingHttpClient(timeout=3, api_base_url="http://127.0.0.1:9/prefix/")
    try:
        assert (
            client.rewrite("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json?x=1")
            == "http://127.0.0.1:9/prefix/2010-04-01/Accounts/AC1/Messages.json?x=1"
        )
        assert client.rewrite("https://messaging.twilio.com/v1/Services") == (
            "http://127.0.0.1:9/prefix/v1/Services"
        )
        assert client.rewrite("https://example.com/a") == "https://example.com/a"
        assert client.rewrite("https://eviltwilio.com/a") == "https://eviltwilio.com/a"
        assert client.timeout == 3
    finally:
        client.close()


def test_without_a_base_url_requests_go_to_twilio_itself():
    client = RedirectingHttpClient(timeout=3)
    try:
        url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json"
        assert client.rewrite(url) == url
    finally:
        client.close()


# -- status words and webhooks ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("twilio_word", "ours"),
    [
        ("queued", "sent"),
        ("accepted", "sent"),
        ("scheduled", "sent"),
        ("sending", "sent"),
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("read", "delivered"),
        ("undelivered", "undelivered"),
        ("failed", "failed"),
        ("canceled", "failed"),
        ("receiving", None),
        ("", None),
    ],
)
def test_delivery_status_maps_twilio_words(twilio_gateway, twilio_word, ours):
    assert twilio_gateway.delivery_status(twilio_word) == ours


def test_verify_webhook_accepts_twilio_signature_and_refuses_others(twilio_gateway):
    url = "https://vh.example.cn/sms/inbound"
    params = {"From": PHONE, "Body": "报名 1234", "MessageSid": "SM" + "1" * 32}
    good = RequestValidator(twilio_gateway._auth_token).compute_signature(url, params)

    assert twilio_gateway.verify_webhook(url, params, good)
    assert not twilio_gateway.verify_webhook(url, {**params, "Body": "取消 1234"}, good)
    assert not twilio_gateway.verify_webhook(url + "?x=1", params, good)
    forged = RequestValidator("another-token").compute_signature(url, params)
    assert not twilio_gateway.verify_webhook(url, params, forged)
    assert not twilio_gateway.verify_webhook(url, params, None)
    assert not twilio_gateway.verify_webhook(url, params, "")


def test_fake_signs_like_twilio(fake_twilio, twilio_gateway):
    url = "https://vh.example.cn/sms/status"
    params = {"MessageSid": "SM" + "2" * 32, "MessageStatus": "delivered"}
    assert twilio_gateway.verify_webhook(url, params, fake_twilio.signature(url, params))


# -- choosing a backend --------------------------------------------------------------------------


def twilio_config(**overrides):
    return {
        "SMS_BACKEND": "twilio",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "token",
        "TWILIO_FROM_NUMBER": FROM_NUMBER,
        "TWILIO_MESSAGING_SERVICE_SID": None,
        "TWILIO_API_BASE_URL": None,
        **overrides,
    }


def test_gateway_for_console_by_default():
    assert isinstance(gateway_for({"SMS_BACKEND": "console"}), ConsoleGateway)
    assert isinstance(gateway_for({}), ConsoleGateway)


def test_gateway_for_twilio_reads_the_twilio_keys():
    gateway = gateway_for(
        twilio_config(TWILIO_MESSAGING_SERVICE_SID=SERVICE_SID, TWILIO_API_BASE_URL="http://x")
    )
    assert isinstance(gateway, TwilioGateway)
    assert gateway.name == "twilio"
    assert gateway.messaging_service_sid == SERVICE_SID
    assert gateway.api_base_url == "http://x"
    assert gateway._client is None  # nothing built before the first text


def test_gateway_for_sends_through_the_fake(fake_twilio):
    gateway = gateway_for(fake_twilio.app_config())
    try:
        gateway.send(PHONE, BODY)
    finally:
        gateway.close()
    assert len(fake_twilio.messages_to(PHONE)) == 1


@pytest.mark.parametrize("missing", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"])
def test_gateway_for_refuses_twilio_without_credentials(missing):
    with pytest.raises(RuntimeError, match=missing):
        gateway_for(twilio_config(**{missing: None}))


def test_gateway_for_refuses_twilio_without_a_sender():
    with pytest.raises(RuntimeError, match="TWILIO_FROM_NUMBER"):
        gateway_for(twilio_config(TWILIO_FROM_NUMBER=None))


def test_gateway_for_refuses_an_unknown_backend():
    with pytest.raises(RuntimeError, match="aliyun, console, tencent, twilio"):
        gateway_for({"SMS_BACKEND": "carrier-pigeon"})
    assert set(BACKENDS) == {"aliyun", "console", "tencent", "twilio"}


def test_repr_never_shows_the_token():
    gateway = TwilioGateway("AC" + "0" * 32, "s3cret-token", FROM_NUMBER)
    assert "s3cret" not in repr(gateway)


# -- console ---------------------------------------------------------------------------------


def test_console_sends_without_logging_the_number_or_the_words(caplog, monkeypatch):
    # Alembic's fileConfig (run by the app fixture's upgrade) disables every logger that
    # existed before it; re-enable ours so this test reads a real log line.
    monkeypatch.setattr(logging.getLogger(console.__name__), "disabled", False)
    gateway = ConsoleGateway()
    with caplog.at_level(logging.DEBUG):
        result = gateway.send(PHONE, BODY)
    assert result.status == "delivered"
    assert result.provider_sid.startswith("console-")
    assert result.segments == 1
    text = caplog.text
    assert "138****8000" in text
    assert PHONE not in text and "13800138000" not in text
    assert "长江" not in text


def test_console_status_and_webhooks():
    gateway = ConsoleGateway()
    assert gateway.delivery_status("delivered") == "delivered"
    assert gateway.delivery_status("failed") == "failed"
    assert gateway.delivery_status("bogus") is None
    # Nothing signs for the console, so nothing claiming to be a provider is believed.
    assert gateway.verify_webhook("http://localhost/sms/inbound", {}, "any") is False


def test_basic_auth_header_is_what_the_fake_expects(fake_twilio):
    token = base64.b64encode(f"{fake_twilio.account_sid}:{fake_twilio.auth_token}".encode())
    assert fake_twilio._authorized(f"Basic {token.decode()}")
    assert not fake_twilio._authorized("Basic bm9wZTpub3Bl")
    assert not fake_twilio._authorized(None)
