"""The fake Twilio REST server itself: shapes, scripting, records, signing, shutdown."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs

import pytest
import requests
from flask import Flask, request
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from volunteer_hub.devtools.fake_twilio import FakeTwilio
from volunteer_hub.devtools.fake_twilio_account import API_VERSION, FROM_NUMBER
from volunteer_hub.sms.backends.twilio import RedirectingHttpClient, TwilioGateway
from volunteer_hub.sms.gateway import TransientSmsError

PHONE = "+8613800138000"


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


def post_message(http, fake, form, *, auth=None, account=None):
    url = f"{fake.base_url}/{API_VERSION}/Accounts/{account or fake.account_sid}/Messages.json"
    return http.post(url, data=form, auth=auth or (fake.account_sid, fake.auth_token), timeout=5)


def test_created_message_is_shaped_like_twilios(fake_twilio, http):
    response = post_message(http, fake_twilio, {"To": PHONE, "From": FROM_NUMBER, "Body": "hi"})
    assert response.status_code == 201
    body = response.json()
    assert body["sid"].startswith("SM") and len(body["sid"]) == 34
    assert body["status"] == "queued"
    assert body["num_segments"] == "1"
    assert (body["to"], body["from"], body["body"]) == (PHONE, FROM_NUMBER, "hi")
    assert body["error_code"] is None
    assert body["account_sid"] == fake_twilio.account_sid
    assert body["direction"] == "outbound-api"
    assert body["date_created"].endswith("+0000")
    assert "params" not in body


def test_the_real_client_creates_and_fetches(fake_twilio):
    http_client = RedirectingHttpClient(timeout=5, api_base_url=fake_twilio.base_url)
    client = Client(fake_twilio.account_sid, fake_twilio.auth_token, http_client=http_client)
    try:
        created = client.messages.create(to=PHONE, from_=FROM_NUMBER, body="报名成功")
        fetched = client.messages(created.sid).fetch()
    finally:
        http_client.close()
    assert fetched.sid == created.sid
    assert fetched.body == "报名成功"
    assert fetched.date_created is not None  # the client parsed the RFC 2822 date


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"To": "13800138000", "From": FROM_NUMBER, "Body": "x"}, 21211),
        ({"To": PHONE, "Body": "x"}, 21603),
        ({"To": PHONE, "From": "not a number!", "Body": "x"}, 21212),
        ({"To": PHONE, "MessagingServiceSid": "MGnope", "Body": "x"}, 21701),
        ({"To": PHONE, "From": FROM_NUMBER, "Body": ""}, 21602),
        ({"To": PHONE, "From": FROM_NUMBER, "Body": "x" * 1601}, 21617),
    ],
)
def test_validation_errors_are_twilio_shaped(fake_twilio, http, form, code):
    response = post_message(http, fake_twilio, form)
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == code
    assert error["status"] == 400
    assert error["message"]
    assert error["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert fake_twilio.messages == []


def test_basic_auth_and_account_are_checked(fake_twilio, http):
    form = {"To": PHONE, "From": FROM_NUMBER, "Body": "x"}
    wrong = post_message(http, fake_twilio, form, auth=(fake_twilio.account_sid, "nope"))
    assert wrong.status_code == 401 and wrong.json()["code"] == 20003
    other = post_message(http, fake_twilio, form, account="AC" + "9" * 32)
    assert other.status_code == 404
    unknown = http.post(f"{fake_twilio.base_url}/2010-04-01/Calls.json", timeout=5)
    assert unknown.status_code == 404
    assert fake_twilio.auth_failures == 1
    assert fake_twilio.messages == []


def test_scripted_failures_run_in_order_then_success(fake_twilio, http):
    form = {"To": PHONE, "From": FROM_NUMBER, "Body": "x"}
    fake_twilio.fail_next(status=429, times=2)
    fake_twilio.fail_next(status=500)
    fake_twilio.fail_next(status=400, code=21211)
    answers = [post_message(http, fake_twilio, form) for _ in range(5)]
    assert [a.status_code for a in answers] == [429, 429, 500, 400, 201]
    assert [a.json()["code"] for a in answers[:4]] == [20429, 20429, 20500, 21211]
    assert fake_twilio.requests == 5
    assert len(fake_twilio.messages) == 1


def test_unsubscribed_and_messages_to(fake_twilio, http):
    other = "+8613900139000"
    fake_twilio.unsubscribed.add(other)
    refused = post_message(http, fake_twilio, {"To": other, "From": FROM_NUMBER, "Body": "x"})
    assert refused.json()["code"] == 21610
    post_message(http, fake_twilio, {"To": PHONE, "From": FROM_NUMBER, "Body": "a"})
    post_message(http, fake_twilio, {"To": PHONE, "From": FROM_NUMBER, "Body": "b"})
    assert [m["body"] for m in fake_twilio.messages_to(PHONE)] == ["a", "b"]
    assert fake_twilio.messages_to(other) == []


def test_rate_cap_answers_429_beyond_it(fake_twilio, http):
    fake_twilio.max_per_second = 3
    form = {"To": PHONE, "From": FROM_NUMBER, "Body": "x"}
    statuses = [post_message(http, fake_twilio, form).status_code for _ in range(5)]
    assert statuses.count(201) == 3
    assert fake_twilio.statuses[429] == 2


def test_reset_forgets_everything(fake_twilio, http):
    fake_twilio.unsubscribed.add(PHONE)
    fake_twilio.fail_next(status=500, times=3)
    post_message(http, fake_twilio, {"To": PHONE, "From": FROM_NUMBER, "Body": "x"})
    fake_twilio.reset()
    assert fake_twilio.requests == 0
    assert fake_twilio.statuses == {}
    assert post_message(http, fake_twilio, {"To": PHONE, "From": FROM_NUMBER, "Body": "x"}).ok
    assert len(fake_twilio.messages) == 1


def test_concurrent_sends_are_all_recorded(fake_twilio):
    gateway = TwilioGateway(
        fake_twilio.account_sid, fake_twilio.auth_token, FROM_NUMBER, None, fake_twilio.base_url
    )
    phones = [f"+86138{i:08d}" for i in range(40)]
    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            sids = list(pool.map(lambda phone: gateway.send(phone, "x").provider_sid, phones))
    finally:
        gateway.close()
    assert len(set(sids)) == 40
    assert sorted(m["to"] for m in fake_twilio.messages) == sorted(phones)
    assert fake_twilio.requests == 40


def test_stop_does_not_wait_for_idle_keep_alive_connections():
    fake = FakeTwilio().start()
    gateway = TwilioGateway(fake.account_sid, fake.auth_token, FROM_NUMBER, None, fake.base_url)
    try:
        gateway.send(PHONE, "x")  # leaves a pooled keep-alive connection open
        started = time.monotonic()
        fake.stop()
        assert time.monotonic() - started < 2
        # and a send after the fake is gone is a transient failure, not a hang
        with pytest.raises(TransientSmsError):
            gateway.send(PHONE, "x")
    finally:
        gateway.close()
        fake.stop()


def test_base_url_needs_a_running_fake():
    with pytest.raises(RuntimeError):
        _ = FakeTwilio().base_url


def test_uses_the_real_twilio_http_client_underneath():
    assert issubclass(RedirectingHttpClient, TwilioHttpClient)


# -- Twilio calling our app ----------------------------------------------------------------


def signed_app(token):
    """A stand-in for our webhook: answers 204 when the signature holds, 403 otherwise."""
    app = Flask(__name__)
    seen = []

    @app.post("/sms/inbound")
    def inbound():
        valid = RequestValidator(token).validate(
            request.url, request.form, request.headers.get("X-Twilio-Signature", "")
        )
        seen.append(request.form.to_dict())
        return ("", 204) if valid else ("", 403)

    return app, seen


def test_post_signed_through_a_flask_test_client(fake_twilio):
    app, seen = signed_app(fake_twilio.auth_token)
    client = app.test_client()
    url = "https://vh.example.cn/sms/inbound"
    response = fake_twilio.send_inbound(url, PHONE, "报名 1234", client=client)
    assert response.status_code == 204
    assert seen[0]["Body"] == "报名 1234" and seen[0]["From"] == PHONE
    assert seen[0]["MessageSid"].startswith("SM")
    forged = fake_twilio.post_signed(url, {"Body": "x"}, client=client, signature="Zm9yZ2Vk")
    assert forged.status_code == 403


def test_status_callback_for_a_recorded_message(fake_twilio, http):
    app, seen = signed_app(fake_twilio.auth_token)
    callback = "https://vh.example.cn/sms/inbound"  # any signed route will do here
    form = {"To": PHONE, "From": FROM_NUMBER, "Body": "x", "StatusCallback": callback}
    sid = post_message(http, fake_twilio, form).json()["sid"]
    response = fake_twilio.send_status_callback(sid, "delivered", client=app.test_client())
    assert response.status_code == 204
    assert seen[0]["MessageSid"] == sid
    assert seen[0]["MessageStatus"] == "delivered"
    assert fake_twilio.message(sid)["status"] == "delivered"


def test_post_signed_over_http(fake_twilio):
    received = {}

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers["Content-Length"])
            received["form"] = {
                k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()
            }
            received["signature"] = self.headers["X-Twilio-Signature"]
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/sms/status"
        params = {"MessageSid": "SM" + "3" * 32, "MessageStatus": "undelivered"}
        response = fake_twilio.post_signed(url, params)
    finally:
        thread.join(5)
        server.server_close()
    assert response.status_code == 204
    assert received["form"] == params
    assert RequestValidator(fake_twilio.auth_token).validate(url, params, received["signature"])
