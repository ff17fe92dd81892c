"""The Aliyun backend through the real Alibaba Cloud SDK against the fake Aliyun SMS API:
sends, batch sends, error mapping, timeouts, push parsing and the fake's own checks."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from flask import Flask, jsonify, request

from volunteer_hub.devtools.fake_aliyun import (
    SIGN_NAME,
    FakeAliyun,
    acknowledged,
    string_to_sign,
)
from volunteer_hub.sms.backends.aliyun import (
    BATCH_LIMIT,
    AliyunGateway,
    aliyun_from_config,
    load_template_codes,
    provider_sid,
)
from volunteer_hub.sms.gateway import (
    PermanentSmsError,
    ProviderConfigError,
    ProviderPaused,
    SendResult,
    TransientSmsError,
)
from volunteer_hub.sms.push import DeliveryReport, InboundText

PHONE = "+8613800138000"
OTHER = "+8613900139000"
CODES = {"signup_confirmed": "SMS_465980001", "broadcast": "SMS_465980002"}
VARIABLES = {"title": "长江巡护 & 清漂", "time": "12月6日 09:00"}

# The documented examples of Aliyun's HTTP batch pushes (SmsUp, SmsReport), with a full
# number where the documentation masks it.
SMS_UP_EXAMPLE = [
    {
        "phone_number": "13811110000",
        "send_time": "2017-09-01 00:00:00",
        "content": "内容",
        "sign_name": "签名",
        "dest_code": "1234",
        "sequence_id": 1234567890,
    }
]
SMS_REPORT_EXAMPLE = [
    {
        "phone_number": "13811110000",
        "send_time": "2017-01-01 00:00:00",
        "report_time": "2017-01-01 00:00:00",
        "success": True,
        "err_code": "DELIVERED",
        "err_msg": "用户接收成功",
        "sms_size": "1",
        "biz_id": "12345",
        "out_id": "67890",
    }
]


@pytest.fixture
def fake():
    with FakeAliyun(templates={"SMS_465980001": ["title", "time"], "SMS_465980002": []}) as fake:
        yield fake


def gateway_at(fake: FakeAliyun, *, secret: str | None = None, timeout: float = 5, **kw):
    return AliyunGateway(
        kw.pop("key_id", fake.access_key_id),
        secret or fake.access_key_secret,
        kw.pop("sign_name", SIGN_NAME),
        kw.pop("codes", CODES),
        endpoint=kw.pop("endpoint", None) or fake.endpoint,
        timeout=timeout,
    )


@pytest.fixture
def gateway(fake):
    return gateway_at(fake)


# -- sending -----------------------------------------------------------------------------------


def test_a_send_is_recorded_with_template_code_params_and_sign_name(fake, gateway):
    result = gateway.send_template(PHONE, "signup_confirmed", VARIABLES)

    assert fake.calls == ["SendSms"]
    [message] = fake.messages
    assert message["phone_number"] == "13800138000"  # national digits, as Aliyun takes them
    assert message["to"] == PHONE
    assert message["template_code"] == "SMS_465980001"
    assert message["params"] == VARIABLES
    assert message["sign_name"] == SIGN_NAME
    assert result == SendResult(provider_sid=provider_sid(message["biz_id"], PHONE), status="sent")
    assert PHONE not in result.provider_sid and "13800138000" not in result.provider_sid


def test_a_batch_send_is_one_call_with_each_recipients_params(fake, gateway):
    recipients = [(PHONE, {"title": "防汛", "time": "今天"}), (OTHER, {"title": "护学"})]
    results = gateway.send_template_batch(recipients, "broadcast")

    assert fake.calls == ["SendBatchSms"]
    messages = fake.messages
    assert [(m["to"], m["params"], m["template_code"], m["sign_name"]) for m in messages] == [
        (PHONE, {"title": "防汛", "time": "今天"}, "SMS_465980002", SIGN_NAME),
        (OTHER, {"title": "护学"}, "SMS_465980002", SIGN_NAME),
    ]
    # One BizId for the call, one provider sid per text.
    assert messages[0]["biz_id"] == messages[1]["biz_id"]
    assert [r.provider_sid for r in results] == [
        provider_sid(messages[0]["biz_id"], PHONE),
        provider_sid(messages[0]["biz_id"], OTHER),
    ]
    assert len({r.provider_sid for r in results}) == 2


def test_a_big_batch_goes_out_in_calls_of_at_most_a_hundred(fake, gateway):
    recipients = [(f"+86138{n:08d}", {"n": str(n)}) for n in range(2 * BATCH_LIMIT + 50)]
    results = gateway.send_template_batch(recipients, "broadcast")

    assert fake.calls == ["SendBatchSms"] * 3
    assert all(isinstance(r, SendResult) for r in results)
    assert [m["params"]["n"] for m in fake.messages] == [str(n) for n in range(250)]


def test_a_number_aliyun_cannot_take_fails_alone_before_the_call(fake, gateway):
    results = gateway.send_template_batch([(PHONE, {}), ("+86123", {}), (OTHER, {})], "broadcast")
    assert isinstance(results[0], SendResult) and isinstance(results[2], SendResult)
    assert type(results[1]) is PermanentSmsError
    assert results[1].code == "isv.MOBILE_NUMBER_ILLEGAL"
    assert [m["to"] for m in fake.messages] == [PHONE, OTHER]


def test_a_number_aliyun_refuses_in_a_batch_fails_alone(fake, gateway):
    fake.invalid_numbers.add(OTHER)
    third = "+8613700137000"
    results = gateway.send_template_batch([(PHONE, {}), (OTHER, {}), (third, {})], "broadcast")

    assert fake.calls == ["SendBatchSms", "SendSms", "SendSms", "SendSms"]
    assert type(results[1]) is PermanentSmsError
    assert isinstance(results[0], SendResult) and isinstance(results[2], SendResult)
    assert [m["to"] for m in fake.messages] == [PHONE, third]


def test_a_paused_account_fails_the_whole_batch_with_the_pause_error(fake, gateway):
    fake.balance = 1
    results = gateway.send_template_batch([(PHONE, {}), (OTHER, {})], "broadcast")
    assert all(isinstance(r, ProviderPaused) for r in results)
    assert fake.messages == []


def test_free_text_and_unmapped_templates_are_refused_without_a_call(fake, gateway):
    with pytest.raises(PermanentSmsError, match="template"):
        gateway.send(PHONE, "【退役军人志愿服务】报名成功")
    with pytest.raises(ProviderConfigError) as caught:
        gateway.send_template(PHONE, "no_such_template", {})
    assert caught.value.code == "template_unmapped"
    assert gateway.send_template_batch([(PHONE, {})], "no_such_template")[0].code == (
        "template_unmapped"
    )
    assert fake.calls == []


# -- errors --------------------------------------------------------------------------------------


def test_a_wrong_secret_is_refused_by_the_fake_and_is_a_configuration_error(fake):
    gateway = gateway_at(fake, secret="not-the-secret")
    with pytest.raises(ProviderConfigError) as caught:
        gateway.send_template(PHONE, "signup_confirmed", VARIABLES)
    assert isinstance(caught.value, PermanentSmsError)
    assert caught.value.code == "SignatureDoesNotMatch"
    assert "not-the-secret" not in str(caught.value)
    assert fake.codes["SignatureDoesNotMatch"] == 1
    assert fake.messages == []


def test_an_unknown_access_key_is_a_configuration_error(fake):
    with pytest.raises(ProviderConfigError) as caught:
        gateway_at(fake, key_id="LTAI-nobody").send_template(PHONE, "broadcast", {})
    assert caught.value.code == "InvalidAccessKeyId.NotFound"


def test_flow_control_is_transient_not_a_pause(fake, gateway):
    fake.fail_next("isv.BUSINESS_LIMIT_CONTROL")
    with pytest.raises(TransientSmsError) as caught:
        gateway.send_template(PHONE, "signup_confirmed", VARIABLES)
    assert type(caught.value) is TransientSmsError
    assert caught.value.code == "isv.BUSINESS_LIMIT_CONTROL"
    gateway.send_template(PHONE, "signup_confirmed", VARIABLES)  # the next one goes out
    assert len(fake.messages) == 1


def test_an_invalid_number_is_permanent(fake, gateway):
    fake.invalid_numbers.add(PHONE)
    with pytest.raises(PermanentSmsError) as caught:
        gateway.send_template(PHONE, "signup_confirmed", VARIABLES)
    assert type(caught.value) is PermanentSmsError
    assert caught.value.code == "isv.MOBILE_NUMBER_ILLEGAL"


@pytest.mark.parametrize("code", ["isv.AMOUNT_NOT_ENOUGH", "isv.OUT_OF_SERVICE"])
def test_an_empty_balance_pauses(fake, gateway, code):
    fake.fail_next(code)
    with pytest.raises(ProviderPaused) as caught:
        gateway.send_template(PHONE, "signup_confirmed", VARIABLES)
    assert isinstance(caught.value, TransientSmsError)
    assert caught.value.code == code


def test_the_fakes_balance_runs_out(fake, gateway):
    fake.balance = 1
    gateway.send_template(PHONE, "signup_confirmed", VARIABLES)
    with pytest.raises(ProviderPaused):
        gateway.send_template(PHONE, "signup_confirmed", VARIABLES)


@pytest.mark.parametrize("code", ["ServiceUnavailable", "InternalError", "isp.SYSTEM_ERROR"])
def test_server_errors_are_transient(fake, gateway, code):
    fake.fail_next(code)
    with pytest.raises(TransientSmsError) as caught:
        gateway.send_template(PHONE, "signup_confirmed", VARIABLES)
    assert type(caught.value) is TransientSmsError
    assert caught.value.code == code


def test_a_refused_template_or_sign_name_is_a_configuration_error(fake):
    with pytest.raises(ProviderConfigError) as caught:
        gateway_at(fake, codes={"broadcast": "SMS_0"}).send_template(PHONE, "broadcast", {})
    assert caught.value.code == "isv.SMS_TEMPLATE_ILLEGAL"
    with pytest.raises(ProviderConfigError) as caught:
        gateway_at(fake, sign_name="别的签名").send_template(PHONE, "broadcast", {})
    assert caught.value.code == "isv.SMS_SIGNATURE_ILLEGAL"


def test_a_missing_template_variable_is_permanent(fake, gateway):
    with pytest.raises(PermanentSmsError) as caught:
        gateway.send_template(PHONE, "signup_confirmed", {"title": "只有标题"})
    assert caught.value.code == "isv.TEMPLATE_MISSING_PARAMETERS"


def test_latency_within_the_timeout_is_fine(fake):
    fake.delay_next(0.3)
    result = gateway_at(fake, timeout=3).send_template(PHONE, "signup_confirmed", VARIABLES)
    assert result.status == "sent"


def test_latency_beyond_the_timeout_is_transient(fake):
    fake.delay_next(2.0)  # the fake answers late (its stop ends the wait), the client gives up
    with pytest.raises(TransientSmsError) as caught:
        gateway_at(fake, timeout=0.2).send_template(PHONE, "signup_confirmed", VARIABLES)
    assert caught.value.code == "timeout"


def test_connection_refused_is_transient(fake):
    with socket.socket() as probe:  # a port nobody listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransientSmsError) as caught:
        gateway_at(fake, endpoint=f"127.0.0.1:{port}").send_template(PHONE, "broadcast", {})
    assert caught.value.code == "connection"


def test_repr_never_shows_the_secret(fake):
    assert fake.access_key_secret not in repr(gateway_at(fake))


# -- pushes --------------------------------------------------------------------------------------


def test_parse_push_reads_the_documented_sms_up_example(gateway):
    assert gateway.parse_push("inbound", SMS_UP_EXAMPLE) == [
        InboundText(
            provider_message_id="1234567890",
            from_phone="+8613811110000",
            to="签名",
            body="内容",
            received_at=datetime(2017, 8, 31, 16, 0, tzinfo=UTC),  # Beijing midnight
        )
    ]


def test_parse_push_reads_the_documented_sms_report_example(gateway):
    assert gateway.parse_push("report", SMS_REPORT_EXAMPLE) == [
        DeliveryReport(
            provider_sid=provider_sid("12345", "+8613811110000"),
            to="+8613811110000",
            status="delivered",
            error_code=None,
            reported_at=datetime(2016, 12, 31, 16, 0, tzinfo=UTC),
        )
    ]


@pytest.mark.parametrize(
    ("err_code", "status"),
    [
        ("MK:0001", "undelivered"),
        ("UNDELIV", "undelivered"),
        ("isv.OUT_OF_SERVICE", "failed"),
        ("DELIVERED", "undelivered"),  # not a success, whatever the code says
    ],
)
def test_a_failed_report_says_why(gateway, err_code, status):
    item = {**SMS_REPORT_EXAMPLE[0], "success": False, "err_code": err_code, "err_msg": "失败"}
    [report] = gateway.parse_push("report", [item])
    assert (report.status, report.error_code) == (status, err_code)


def test_a_malformed_item_is_skipped_and_a_malformed_push_refused(gateway):
    items = [{"phone_number": "13811110000"}, *SMS_UP_EXAMPLE, "nonsense"]
    assert [text.body for text in gateway.parse_push("inbound", items)] == ["内容"]
    with pytest.raises(ValueError):
        gateway.parse_push("inbound", SMS_UP_EXAMPLE[0])
    with pytest.raises(ValueError):
        gateway.parse_push("status", [])
    bad_success = {**SMS_REPORT_EXAMPLE[0], "success": "false"}
    assert gateway.parse_push("report", [bad_success]) == []


def test_push_ack_is_what_aliyun_expects(gateway):
    assert gateway.push_ack("inbound") == ({"code": 0, "msg": "接收成功"}, 200)
    assert gateway.push_ack("report") == ({"code": 0, "msg": "接收成功"}, 200)


@pytest.mark.parametrize(
    ("word", "ours"),
    [("DELIVERED", "delivered"), ("MK:0005", "undelivered"), ("isv.X", "failed"), ("", None)],
)
def test_delivery_status(gateway, word, ours):
    assert gateway.delivery_status(word) == ours


def push_receiver(gateway: AliyunGateway):
    """A minimal endpoint of ours: parses the push and answers as Aliyun expects."""
    app = Flask(__name__)
    received = []
    app.config["RAW"] = raw = []

    @app.post("/sms/<kind>/aliyun/secret")
    def receive(kind):
        raw.extend(request.get_json())
        received.extend(gateway.parse_push(kind, request.get_json()))
        body, status = gateway.push_ack(kind)
        return jsonify(body), status

    return app.test_client(), received


def test_the_fakes_pushes_round_trip_through_parse_push(fake, gateway):
    results = gateway.send_template_batch([(PHONE, {}), (OTHER, {})], "broadcast")
    client, received = push_receiver(gateway)

    answer = fake.push_reports(
        "http://vh.example.cn/sms/report/aliyun/secret", fake.messages, client=client
    )
    assert acknowledged(answer)
    pushed = client.application.config["RAW"]
    assert [set(item) for item in pushed] == [set(SMS_REPORT_EXAMPLE[0])] * 2
    assert [(r.provider_sid, r.to, r.status) for r in received] == [
        (results[0].provider_sid, PHONE, "delivered"),
        (results[1].provider_sid, OTHER, "delivered"),
    ]

    received.clear()
    answer = fake.push_reply(
        "http://vh.example.cn/sms/inbound/aliyun/secret", PHONE, "报名 1234", client=client,
        sequence_id=42,
    )  # fmt: skip
    assert acknowledged(answer)
    assert [(t.provider_message_id, t.from_phone, t.body, t.to) for t in received] == [
        ("42", PHONE, "报名 1234", SIGN_NAME)
    ]


def test_the_fake_pushes_a_json_array_over_http():
    bodies = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            bodies.append(
                (self.headers["Content-Type"], self.rfile.read(int(self.headers["Content-Length"])))
            )
            data = json.dumps({"code": 0, "msg": "接收成功"}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/sms/inbound/aliyun/s"
        answer = FakeAliyun().push_reply(url, PHONE, "确认", sequence_id=7, dest_code="01")
    finally:
        server.shutdown()
        server.server_close()
    assert acknowledged(answer)
    [(content_type, raw)] = bodies
    assert content_type.startswith("application/json")
    [item] = json.loads(raw)
    assert set(item) == set(SMS_UP_EXAMPLE[0])
    assert (item["phone_number"], item["content"], item["sequence_id"]) == (
        "13800138000",
        "确认",
        7,
    )


def test_acknowledged_wants_a_numeric_code_and_200():
    app = Flask(__name__)
    with app.test_request_context():
        assert not acknowledged(app.make_response(({"code": "0"}, 200)))
        assert not acknowledged(app.make_response(({"code": 0}, 500)))
        assert acknowledged(app.make_response(({"code": 1}, 200)))  # Aliyun checks no more


# -- the fake's signature checks, beyond the SDK ---------------------------------------------------


def signed_post(fake: FakeAliyun, body: bytes, *, nonce: str, date: str, tamper: bytes = b""):
    """A SendBatchSms request signed as ACS3 says, optionally with its body changed after."""
    headers = {
        "host": fake.endpoint,
        "x-acs-action": "SendBatchSms",
        "x-acs-version": "2017-05-25",
        "x-acs-date": date,
        "x-acs-signature-nonce": nonce,
        "x-acs-content-sha256": hashlib.sha256(body).hexdigest(),
        "content-type": "application/x-www-form-urlencoded",
    }
    signed = ";".join(sorted(headers))
    to_sign = string_to_sign("POST", "/", "TemplateCode=SMS_465980002", headers, signed, body)
    signature = hmac.new(fake.access_key_secret.encode(), to_sign.encode(), hashlib.sha256)
    headers["authorization"] = (
        f"ACS3-HMAC-SHA256 Credential={fake.access_key_id},SignedHeaders={signed},"
        f"Signature={signature.hexdigest()}"
    )
    return requests.post(
        f"http://{fake.endpoint}/?TemplateCode=SMS_465980002",
        data=tamper or body,
        headers=headers,
        timeout=5,
    )


def batch_body(number: str = "13800138000") -> bytes:
    from urllib.parse import urlencode

    return urlencode({
        "PhoneNumberJson": json.dumps([number]),
        "SignNameJson": json.dumps([SIGN_NAME], ensure_ascii=False),
    }).encode()  # fmt: skip


def now_stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_fake_refuses_a_replayed_nonce_a_stale_date_and_a_changed_body(fake):
    assert signed_post(fake, batch_body(), nonce="n1", date=now_stamp()).json()["Code"] == "OK"
    replay = signed_post(fake, batch_body(), nonce="n1", date=now_stamp())
    assert (replay.status_code, replay.json()["Code"]) == (400, "SignatureNonceUsed")
    stale = signed_post(fake, batch_body(), nonce="n2", date="2020-01-01T00:00:00Z")
    assert (stale.status_code, stale.json()["Code"]) == (400, "InvalidTimeStamp.Expired")
    changed = signed_post(
        fake, batch_body(), nonce="n3", date=now_stamp(), tamper=batch_body("13900139000")
    )
    assert (changed.status_code, changed.json()["Code"]) == (400, "SignatureDoesNotMatch")
    assert [m["to"] for m in fake.messages] == [PHONE]


def test_the_fake_refuses_an_unsigned_request(fake):
    answer = requests.post(f"http://{fake.endpoint}/", data=batch_body(), timeout=5)
    assert answer.status_code == 400
    assert answer.json()["Code"] == "IncompleteSignature"
    assert answer.json()["HostId"] == "dysmsapi.aliyuncs.com"


# -- settings ------------------------------------------------------------------------------------------


def write_templates(tmp_path, text: str):
    path = tmp_path / "sms_templates.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_template_file_maps_keys_per_provider(tmp_path):
    path = write_templates(
        tmp_path,
        '[aliyun]\nsignup_confirmed = "SMS_1"\nwaitlisted = { code = "SMS_2" }\n'
        '[tencent]\nsignup_confirmed = "1234567"\n',
    )
    assert load_template_codes(path, "aliyun") == {
        "signup_confirmed": "SMS_1",
        "waitlisted": "SMS_2",
    }
    with pytest.raises(ValueError, match="waitlisted"):
        load_template_codes(write_templates(tmp_path, "[aliyun]\nwaitlisted = 3\n"), "aliyun")


def test_the_factory_reads_the_settings_and_sends_through_the_fake(fake, tmp_path):
    path = write_templates(tmp_path, '[aliyun]\nbroadcast = "SMS_465980002"\n')
    config = {**fake.app_config(), "SMS_SIGN_NAME": None, "SMS_SIGNATURE": "【退役军人志愿服务】"}
    config["SMS_TEMPLATES"] = str(path)
    gateway = aliyun_from_config(config)
    assert (gateway.name, gateway.sign_name, gateway._client) == ("aliyun", SIGN_NAME, None)
    gateway.send_template(PHONE, "broadcast", {})
    assert fake.messages[0]["sign_name"] == SIGN_NAME


@pytest.mark.parametrize(
    "missing", ["ALIYUN_ACCESS_KEY_ID", "ALIYUN_ACCESS_KEY_SECRET", "SMS_TEMPLATES"]
)
def test_the_factory_refuses_an_incomplete_configuration(fake, tmp_path, missing):
    config = {
        **fake.app_config(),
        "SMS_TEMPLATES": str(write_templates(tmp_path, "[aliyun]\nx='SMS_1'\n")),
    }
    config[missing] = None
    with pytest.raises(RuntimeError, match=missing):
        aliyun_from_config(config)


def test_the_factory_refuses_a_file_without_an_aliyun_table(fake, tmp_path):
    config = {**fake.app_config(), "SMS_TEMPLATES": str(write_templates(tmp_path, "[tencent]\n"))}
    with pytest.raises(RuntimeError, match=r"\[aliyun\]"):
        aliyun_from_config(config)
    config["SMS_TEMPLATES"] = str(tmp_path / "missing.toml")
    with pytest.raises(RuntimeError, match="cannot be read"):
        aliyun_from_config(config)
