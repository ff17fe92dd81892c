"""The Tencent Cloud SMS backend through the real tencentcloud SDK, against the local fake
SendSms API; its push parsing on Tencent's documented push examples; the fake itself."""

from __future__ import annotations

import collections
import json
import socket
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
import requests
from flask import Flask, request

from volunteer_hub.devtools.fake_tencent import (
    BLACKLISTED,
    FLOW_CONTROL,
    INVALID_NUMBER,
    NO_BALANCE,
    SIGN_NAME,
    FakeTencentSms,
    tc3_signature,
)
from volunteer_hub.sms.backends.tencent import (
    PUSH_ACK,
    TencentSmsGateway,
    TencentTemplate,
    classify,
    endpoint_profile,
    gateway_from_config,
    parse_templates,
)
from volunteer_hub.sms.gateway import (
    PermanentSmsError,
    ProviderConfigError,
    ProviderPaused,
    RecipientOptedOut,
    SendResult,
    TransientSmsError,
)
from volunteer_hub.sms.push import DeliveryReport, InboundText

PHONE = "+8613800138000"
#: approved templates, as the fake holds them: TemplateId → content
APPROVED = {
    "1234567": "您已报名{1}，班次{2}，{3}开始。",
    "1234568": "您已取消{1}的报名。",
}
TEMPLATES = {
    "signup_confirmed": TencentTemplate("1234567", ("title", "code", "starts")),
    "signup_cancelled": TencentTemplate("1234568"),
}
CONFIRMED = {"code": "1234", "starts": "6月1日 08:00", "title": "长江大保护巡河"}

#: Tencent's documented push examples (cloud.tencent.com/document/product/382/43547 and
#: /43548), the masked numbers filled in
DOCUMENTED_REPLY = {
    "extend": "",
    "mobile": "13800138000",
    "nationcode": "86",
    "sign": "腾讯云",
    "text": "hello",
    "time": 1457336869,
}
DOCUMENTED_REPORTS = [
    {
        "user_receive_time": "2015-10-17 08:03:04",
        "nationcode": "86",
        "mobile": "13800138000",
        "report_status": "SUCCESS",
        "errmsg": "DELIVRD",
        "description": "用户短信送达成功",
        "sid": "xxxxxxx",
    }
]


@pytest.fixture
def fake():
    with FakeTencentSms(templates=APPROVED) as server:
        yield server


def gateway_at(fake: FakeTencentSms, **overrides) -> TencentSmsGateway:
    options = {
        "secret_id": fake.secret_id,
        "secret_key": fake.secret_key,
        "sdk_app_id": fake.sdk_app_id,
        "sign_name": SIGN_NAME,
        "templates": TEMPLATES,
        "endpoint": fake.endpoint,
        "timeout": 5,
        **overrides,
    }
    return TencentSmsGateway(**options)


@pytest.fixture
def gateway(fake):
    gateway = gateway_at(fake)
    yield gateway
    gateway.close()


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"+86139{index:08d}" for index in range(start, start + count)]


# -- sending ---------------------------------------------------------------------------


def test_send_is_recorded_with_template_params_in_order_and_sign_name(fake, gateway):
    result = gateway.send_template(PHONE, "signup_confirmed", CONFIRMED)

    assert isinstance(result, SendResult)
    assert result.status == "sent"
    [message] = fake.messages_to(PHONE)
    assert result.provider_sid == message["serial_no"]
    assert message["template_id"] == "1234567"
    assert message["params"] == ["长江大保护巡河", "1234", "6月1日 08:00"]
    assert message["sign_name"] == SIGN_NAME
    assert message["sdk_app_id"] == fake.sdk_app_id
    assert (
        message["text"]
        == "【退役军人志愿服务】您已报名长江大保护巡河，班次1234，6月1日 08:00开始。"
    )
    assert result.segments == message["fee"] == 1
    assert (fake.requests, fake.auth_failures) == (1, 0)


def test_the_short_form_sends_variables_in_the_callers_order(fake, gateway):
    gateway.send_template(PHONE, "signup_cancelled", {"title": "防汛巡堤"})
    [message] = fake.messages
    assert (message["template_id"], message["params"]) == ("1234568", ["防汛巡堤"])


def test_a_long_text_reports_the_fee_as_segments(fake, gateway):
    result = gateway.send_template(PHONE, "signup_cancelled", {"title": "长" * 80})
    assert result.segments == 2


def test_batch_groups_by_variables_and_answers_in_order(fake, gateway):
    # One SendSms carries one parameter set: two sets, two calls.
    other = {**CONFIRMED, "code": "5678"}
    phones = numbers(4)
    recipients = [
        (phones[0], CONFIRMED),
        (phones[1], other),
        (phones[2], CONFIRMED),
        (phones[3], other),
    ]

    results = gateway.send_template_batch(recipients, "signup_confirmed")

    assert fake.requests == 2
    assert all(isinstance(result, SendResult) for result in results)
    for phone, result in zip(phones, results, strict=True):
        [message] = fake.messages_to(phone)
        assert message["serial_no"] == result.provider_sid
    codes = [fake.messages_to(phone)[0]["params"][1] for phone in phones]
    assert codes == ["1234", "5678", "1234", "5678"]
    calls = {message["request_id"] for message in fake.messages_to(phones[0])}
    assert calls == {message["request_id"] for message in fake.messages_to(phones[2])}


def test_batch_sends_at_most_200_numbers_a_call(fake, gateway):
    phones = numbers(401)
    results = gateway.send_template_batch([(p, CONFIRMED) for p in phones], "signup_confirmed")
    assert fake.requests == 3
    per_call = collections.Counter(message["request_id"] for message in fake.messages)
    assert sorted(per_call.values()) == [1, 200, 200]
    assert [result.provider_sid for result in results] == [
        fake.messages_to(phone)[0]["serial_no"] for phone in phones
    ]


def test_batch_fails_only_the_invalid_number_and_the_one_missing_a_variable(fake, gateway):
    phones = numbers(3)
    recipients = [
        (phones[0], CONFIRMED),
        ("+86 138", CONFIRMED),
        (phones[1], {"title": "x"}),
        (phones[2], CONFIRMED),
    ]

    results = gateway.send_template_batch(recipients, "signup_confirmed")

    assert isinstance(results[0], SendResult) and isinstance(results[3], SendResult)
    assert type(results[1]) is PermanentSmsError
    assert results[1].code == INVALID_NUMBER
    assert isinstance(results[2], ProviderConfigError)
    assert results[2].code == "template_params"
    assert [m["phone"] for m in fake.messages] == [phones[0], phones[2]]


def test_an_unmapped_template_key_is_a_configuration_error_and_sends_nothing(fake, gateway):
    with pytest.raises(ProviderConfigError) as caught:
        gateway.send_template(PHONE, "login_code", {"code": "123456"})
    assert caught.value.code == "template_unmapped"
    results = gateway.send_template_batch([(PHONE, {}), (PHONE, {})], "login_code")
    assert [type(result) for result in results] == [ProviderConfigError] * 2
    assert fake.requests == 0


def test_free_text_is_refused_without_a_call(fake, gateway):
    with pytest.raises(PermanentSmsError) as caught:
        gateway.send(PHONE, "【退役军人志愿服务】你好")
    assert caught.value.code == "free_text"
    assert fake.requests == 0


def test_the_client_is_built_on_first_use_and_kept(fake, gateway):
    assert gateway._client is None
    gateway.send_template(PHONE, "signup_cancelled", {"title": "a"})
    client = gateway._client
    gateway.send_template(PHONE, "signup_cancelled", {"title": "b"})
    assert gateway._client is client is not None


# -- errors ------------------------------------------------------------------------------


def test_a_wrong_secret_key_is_refused_by_the_fake_as_a_configuration_error(fake):
    gateway = gateway_at(fake, secret_key="not-the-key")
    try:
        with pytest.raises(ProviderConfigError) as caught:
            gateway.send_template(PHONE, "signup_confirmed", CONFIRMED)
    finally:
        gateway.close()
    assert isinstance(caught.value, PermanentSmsError)
    assert caught.value.code == "AuthFailure.SignatureFailure"
    assert fake.auth_failures == 1
    assert fake.messages == []


def test_an_unknown_secret_id_is_refused_too(fake):
    gateway = gateway_at(fake, secret_id="AKIDsomeoneelse")
    try:
        with pytest.raises(ProviderConfigError) as caught:
            gateway.send_template(PHONE, "signup_confirmed", CONFIRMED)
    finally:
        gateway.close()
    assert caught.value.code == "AuthFailure.SecretIdNotFound"


@pytest.mark.parametrize(
    ("code", "where"),
    [
        (FLOW_CONTROL, "number"),
        ("LimitExceeded.PhoneNumberDailyLimit", "number"),
        ("LimitExceeded.PhoneNumberThirtySecondLimit", "number"),
        ("RequestLimitExceeded", "request"),
        ("InternalError.Timeout", "request"),
    ],
)
def test_flow_control_and_tencents_own_failures_are_transient(fake, gateway, code, where):
    fake.fail_next(code, where=where)
    with pytest.raises(TransientSmsError) as caught:
        gateway.send_template(PHONE, "signup_confirmed", CONFIRMED)
    assert type(caught.value) is TransientSmsError
    assert caught.value.code == code
    # No retry inside the backend: exactly one request reached Tencent.
    assert fake.requests == 1
    assert fake.messages == []
    assert gateway.send_template(PHONE, "signup_confirmed", CONFIRMED).status == "sent"


def test_an_invalid_number_is_permanent_and_its_message_has_no_number(fake, gateway):
    with pytest.raises(PermanentSmsError) as caught:
        gateway.send_template("13800138000", "signup_confirmed", CONFIRMED)
    assert type(caught.value) is PermanentSmsError
    assert caught.value.code == INVALID_NUMBER
    fake.fail_next(INVALID_NUMBER, message="incorrect phone number +8613800138000")
    with pytest.raises(PermanentSmsError) as caught:
        gateway.send_template(PHONE, "signup_confirmed", CONFIRMED)
    assert "138" not in str(caught.value)


@pytest.mark.parametrize(
    ("code", "where"),
    [(NO_BALANCE, "number"), ("UnauthorizedOperation.ServiceSuspendDueToArrears", "request")],
)
def test_an_empty_package_or_arrears_pauses_the_provider(fake, gateway, code, where):
    fake.fail_next(code, where=where)
    with pytest.raises(ProviderPaused) as caught:
        gateway.send_template(PHONE, "signup_confirmed", CONFIRMED)
    assert isinstance(caught.value, TransientSmsError)
    assert caught.value.code == code


def test_an_empty_package_pauses_every_number_of_a_batch(fake, gateway):
    fake.fail_next(NO_BALANCE)
    results = gateway.send_template_batch([(p, CONFIRMED) for p in numbers(3)], "signup_confirmed")
    assert [type(result) for result in results] == [ProviderPaused] * 3


def test_a_number_on_the_do_not_disturb_list_is_opted_out(fake, gateway):
    fake.number_errors[PHONE] = BLACKLISTED
    with pytest.raises(RecipientOptedOut) as caught:
        gateway.send_template(PHONE, "signup_confirmed", CONFIRMED)
    assert caught.value.code == BLACKLISTED


@pytest.mark.parametrize(
    ("approved", "code"),
    [
        ({}, "FailedOperation.TemplateIncorrectOrUnapproved"),
        ({"1234567": "只有{1}"}, "FailedOperation.TemplateParamSetNotMatchApprovedTemplate"),
    ],
)
def test_an_unapproved_template_or_wrong_parameters_are_configuration_errors(approved, code):
    with FakeTencentSms(templates=approved) as fake:
        gateway = gateway_at(fake)
        try:
            with pytest.raises(ProviderConfigError) as caught:
                gateway.send_template(PHONE, "signup_confirmed", CONFIRMED)
        finally:
            gateway.close()
    assert caught.value.code == code


def test_an_unregistered_sign_name_is_a_configuration_error(fake):
    gateway = gateway_at(fake, sign_name="别的签名")
    try:
        with pytest.raises(ProviderConfigError) as caught:
            gateway.send_template(PHONE, "signup_confirmed", CONFIRMED)
    finally:
        gateway.close()
    assert caught.value.code == "FailedOperation.SignatureIncorrectOrUnapproved"


@pytest.mark.parametrize("status", [502, 503])
def test_a_5xx_from_the_gateway_in_front_is_transient(fake, gateway, status):
    fake.fail_next(http_status=status)
    with pytest.raises(TransientSmsError) as caught:
        gateway.send_template(PHONE, "signup_confirmed", CONFIRMED)
    assert caught.value.code == "ServerNetworkError"


def test_latency_within_the_timeout_is_only_slow(fake):
    fake.delay_next(0.3)
    gateway = gateway_at(fake, timeout=3)
    try:
        assert gateway.send_template(PHONE, "signup_confirmed", CONFIRMED).status == "sent"
    finally:
        gateway.close()


def test_an_answer_slower_than_the_timeout_is_transient(fake):
    # A real client-side timeout: the fake holds its answer 1 s, the client waits 0.2 s.
    fake.delay_next(1.0)
    gateway = gateway_at(fake, timeout=0.2)
    try:
        with pytest.raises(TransientSmsError) as caught:
            gateway.send_template(PHONE, "signup_confirmed", CONFIRMED)
    finally:
        gateway.close()
    assert caught.value.code == "timeout"


def test_connection_refused_is_transient():
    with socket.socket() as probe:  # a port nobody listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    gateway = TencentSmsGateway(
        "AKID", "key", "1400000001", SIGN_NAME, TEMPLATES, endpoint=f"127.0.0.1:{port}"
    )
    try:
        with pytest.raises(TransientSmsError) as caught:
            gateway.send_template(PHONE, "signup_confirmed", CONFIRMED)
    finally:
        gateway.close()
    assert caught.value.code == "connection"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("LimitExceeded.AppDailyLimit", ProviderPaused),
        ("LimitExceeded.PhoneNumberOneHourLimit", TransientSmsError),
        ("LimitExceeded.PhoneNumberCountLimit", PermanentSmsError),
        ("RequestLimitExceeded.IPLimitExceeded", TransientSmsError),
        ("InternalError.SendAndRecvFail", TransientSmsError),
        ("FailedOperation.InsufficientBalanceInSmsPackage", ProviderPaused),
        ("AuthFailure.SignatureExpire", ProviderConfigError),
        ("UnauthorizedOperation.SmsSdkAppIdVerifyFail", ProviderConfigError),
        ("InvalidParameterValue.SdkAppIdNotExist", ProviderConfigError),
        ("FailedOperation.TemplateUnapprovedOrNotExist", ProviderConfigError),
        ("FailedOperation.PhoneNumberInBlacklist", RecipientOptedOut),
        ("FailedOperation.PhoneNumberParseFail", PermanentSmsError),
        ("InvalidParameterValue.ContentLengthLimit", PermanentSmsError),
        ("LimitExceededSomething", PermanentSmsError),  # a prefix only counts at a dot
    ],
)
def test_tencent_codes_map_onto_what_the_caller_does(code, error):
    assert type(classify(code, "")) is error


# -- the fake's signature check, independent of the SDK ---------------------------------------


def signed_post(fake, body: bytes, *, key=None, timestamp=None, sign_body=None):
    timestamp = int(time.time()) if timestamp is None else timestamp
    headers = {"content-type": "application/json", "host": fake.endpoint}
    signature = tc3_signature(
        key or fake.secret_key, headers, ["content-type", "host"], sign_body or body, timestamp
    )
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    authorization = (
        f"TC3-HMAC-SHA256 Credential={fake.secret_id}/{date}/sms/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )
    response = requests.post(
        f"http://{fake.endpoint}/",
        data=body,
        headers={
            "Content-Type": "application/json",
            "Authorization": authorization,
            "X-TC-Action": "SendSms",
            "X-TC-Version": "2021-01-11",
            "X-TC-Timestamp": str(timestamp),
        },
        timeout=5,
    )
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    return response.json()["Response"]


SEND_BODY = json.dumps(
    {
        "PhoneNumberSet": [PHONE],
        "SmsSdkAppId": "1400000001",
        "TemplateId": "1234568",
        "SignName": SIGN_NAME,
        "TemplateParamSet": ["x"],
    }
).encode()


def test_a_correctly_signed_request_is_answered_in_tencents_shape(fake):
    answer = signed_post(fake, SEND_BODY)
    [status] = answer["SendStatusSet"]
    assert set(status) == {
        "SerialNo",
        "PhoneNumber",
        "Fee",
        "SessionContext",
        "Code",
        "Message",
        "IsoCode",
    }
    assert (status["Code"], status["PhoneNumber"], status["IsoCode"]) == ("Ok", PHONE, "CN")
    assert answer["RequestId"]


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"key": "another-key"}, "AuthFailure.SignatureFailure"),
        ({"sign_body": SEND_BODY.replace(b"1234568", b"1234567")}, "AuthFailure.SignatureFailure"),
        ({"timestamp": int(time.time()) - 600}, "AuthFailure.SignatureExpire"),
    ],
)
def test_a_bad_signature_is_refused_as_tencent_refuses_it(fake, changes, code):
    answer = signed_post(fake, SEND_BODY, **changes)
    assert answer["Error"]["Code"] == code
    assert fake.messages == [] and fake.auth_failures == 1


def test_a_request_without_authorization_is_refused(fake):
    response = requests.post(f"http://{fake.endpoint}/", data=SEND_BODY, timeout=5)
    assert response.json()["Response"]["Error"]["Code"] == "AuthFailure.InvalidAuthorization"


# -- pushes ------------------------------------------------------------------------------------


def test_the_documented_reply_becomes_an_inbound_text(gateway):
    [text] = gateway.parse_push("inbound", DOCUMENTED_REPLY)
    assert text == InboundText(
        provider_message_id=text.provider_message_id,
        from_phone="+8613800138000",
        to="腾讯云",
        body="hello",
        received_at=datetime(2016, 3, 7, 7, 47, 49, tzinfo=UTC),
    )
    assert text.provider_message_id.startswith("tencent-")


def test_a_replayed_reply_has_the_same_id_and_another_reply_another(gateway):
    [first] = gateway.parse_push("inbound", dict(DOCUMENTED_REPLY))
    [replay] = gateway.parse_push("inbound", dict(DOCUMENTED_REPLY))
    [other] = gateway.parse_push("inbound", {**DOCUMENTED_REPLY, "text": "TD"})
    assert first.provider_message_id == replay.provider_message_id
    assert other.provider_message_id != first.provider_message_id


def test_the_documented_report_becomes_a_delivery_report(gateway):
    [report] = gateway.parse_push("report", DOCUMENTED_REPORTS)
    assert report == DeliveryReport(
        provider_sid="xxxxxxx",
        to="+8613800138000",
        status="delivered",
        error_code=None,
        reported_at=datetime(2015, 10, 17, 0, 3, 4, tzinfo=UTC),  # 08:03:04 in Beijing
    )


def test_a_failed_report_is_undelivered_with_the_carriers_code(gateway):
    failed = {**DOCUMENTED_REPORTS[0], "report_status": "FAIL", "errmsg": "MK:0001"}
    [report] = gateway.parse_push("report", [failed])
    assert (report.status, report.error_code) == ("undelivered", "MK:0001")


def test_entries_without_what_we_need_are_skipped(gateway):
    good = DOCUMENTED_REPORTS[0]
    pushed = [good, {**good, "sid": ""}, {**good, "report_status": "WHATEVER"}, "junk"]
    assert [r.provider_sid for r in gateway.parse_push("report", pushed)] == ["xxxxxxx"]
    assert gateway.parse_push("inbound", {**DOCUMENTED_REPLY, "mobile": ""}) == []


@pytest.mark.parametrize(("kind", "payload"), [("report", "text"), ("outbound", [])])
def test_a_push_of_the_wrong_shape_or_kind_is_a_value_error(gateway, kind, payload):
    with pytest.raises(ValueError):
        gateway.parse_push(kind, payload)


@pytest.mark.parametrize("kind", ["inbound", "report"])
def test_every_push_is_answered_as_tencent_expects(gateway, kind):
    assert gateway.push_ack(kind) == ({"result": 0, "errmsg": "OK"}, 200)


@pytest.mark.parametrize(
    ("word", "ours"),
    [
        ("SUCCESS", "delivered"),
        ("FAIL", "undelivered"),
        ("success", "delivered"),
        ("", None),
        ("DELIVRD", None),
    ],
)
def test_delivery_status_maps_tencents_report_status(gateway, word, ours):
    assert gateway.delivery_status(word) == ours


def receiver(gateway: TencentSmsGateway) -> tuple[Flask, list]:
    """A stand-in for our push endpoints: parse with the backend, answer its ack."""
    app = Flask(__name__)
    received: list = []

    @app.post("/sms/<kind>/tencent/<secret>")
    def push(kind: str, secret: str):
        kind = "inbound" if kind == "inbound" else "report"
        received.extend(gateway.parse_push(kind, request.get_json()))
        return gateway.push_ack(kind)

    return app, received


def test_the_fakes_pushes_are_parsed_and_acknowledged(fake, gateway):
    result = gateway.send_template(PHONE, "signup_confirmed", CONFIRMED)
    app, received = receiver(gateway)
    client = app.test_client()
    at = datetime(2026, 6, 1, 1, 2, 3, tzinfo=UTC)

    fake.push_reply(
        "https://vh.example.cn/sms/inbound/tencent/s3cret", PHONE, "确认", client=client, at=at
    )
    fake.push_reports(
        "https://vh.example.cn/sms/status/tencent/s3cret",
        [result.provider_sid],
        client=client,
        at=at,
    )

    assert [push["acknowledged"] for push in fake.pushes] == [True, True]
    assert isinstance(fake.pushes[0]["payload"], dict)  # a reply: one object
    assert isinstance(fake.pushes[1]["payload"], list)  # reports: an array
    text, report = received
    assert (text.from_phone, text.body, text.to, text.received_at) == (
        PHONE,
        "确认",
        SIGN_NAME,
        at,
    )
    assert (report.provider_sid, report.to, report.status, report.reported_at) == (
        result.provider_sid,
        PHONE,
        "delivered",
        at,
    )


def test_the_fake_pushes_over_http_and_sees_a_refusal(fake):
    bodies: list = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            answer = json.dumps({"result": 1, "errmsg": "busy"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.handle_request)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/sms/inbound/tencent/s"
        response = fake.push_reply(url, PHONE, "报名 1234")
    finally:
        thread.join(timeout=10)
        server.server_close()
    assert response.status_code == 200
    assert bodies[0]["mobile"] == "13800138000" and bodies[0]["nationcode"] == "86"
    assert set(bodies[0]) == set(DOCUMENTED_REPLY)
    assert fake.pushes[0]["acknowledged"] is False
    assert PUSH_ACK == {"result": 0, "errmsg": "OK"}


# -- settings ------------------------------------------------------------------------------------


def write_templates(tmp_path, text: str) -> str:
    path = tmp_path / "sms_templates.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


TEMPLATE_FILE = """
[aliyun]
signup_confirmed = "SMS_123456789"

[tencent]
signup_cancelled = "1234568"
signup_confirmed = { id = "1234567", params = ["title", "code", "starts"] }
"""


def test_the_factory_reads_the_settings_and_the_template_file(fake, tmp_path):
    config = {**fake.app_config(), "SMS_TEMPLATES": write_templates(tmp_path, TEMPLATE_FILE)}
    config.pop("SMS_SIGN_NAME")
    config["SMS_SIGNATURE"] = "【退役军人志愿服务】"
    gateway = gateway_from_config(config)
    try:
        assert gateway.templates == TEMPLATES
        assert gateway.sign_name == SIGN_NAME
        gateway.send_template(PHONE, "signup_confirmed", CONFIRMED)
    finally:
        gateway.close()
    assert fake.messages[0]["params"] == ["长江大保护巡河", "1234", "6月1日 08:00"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[aliyun]\nx = 'SMS_1'\n", "no [tencent] table"),
        ("[tencent]\nx = { params = ['a'] }\n", "x: expected"),
        ("[tencent]\nx = { id = '1', params = 'a' }\n", "params must be a list"),
        ("[tencent\n", "SMS_TEMPLATES"),
    ],
)
def test_a_bad_template_file_stops_startup(fake, tmp_path, text, words):
    config = {**fake.app_config(), "SMS_TEMPLATES": write_templates(tmp_path, text)}
    with pytest.raises(RuntimeError, match=words.replace("[", r"\[")):
        gateway_from_config(config)


def test_missing_settings_are_named_at_startup():
    with pytest.raises(RuntimeError) as caught:
        gateway_from_config({"SMS_BACKEND": "tencent", "TENCENTCLOUD_SECRET_ID": "AKID"})
    assert "TENCENTCLOUD_SECRET_KEY, TENCENT_SMS_APP_ID, SMS_TEMPLATES" in str(caught.value)


def test_parse_templates_takes_both_forms():
    assert parse_templates({"a": "11", "b": 12, "c": {"id": "13", "params": ["x", "y"]}}) == {
        "a": TencentTemplate("11"),
        "b": TencentTemplate("12"),
        "c": TencentTemplate("13", ("x", "y")),
    }


@pytest.mark.parametrize(
    ("endpoint", "host", "scheme"),
    [
        (None, None, "https"),
        ("127.0.0.1:8096", "127.0.0.1:8096", "http"),
        ("localhost:8096", "localhost:8096", "http"),
        ("[::1]:8096", "[::1]:8096", "http"),
        ("sms.example.cn", "sms.example.cn", "https"),
        ("http://10.0.0.5:8096/", "10.0.0.5:8096", "http"),
    ],
)
def test_the_endpoint_override_is_plain_http_on_loopback_only(endpoint, host, scheme):
    profile = endpoint_profile(endpoint, 3)
    assert (profile.endpoint, profile.scheme, profile.reqTimeout) == (host, scheme, 3)
