"""A local fake of Tencent Cloud SMS's SendSms API and its pushes, for tests, benchmarks
and by hand.

The real ``tencentcloud-sdk-python-sms`` talks to it (``TENCENT_SMS_ENDPOINT=fake.endpoint``:
``HttpProfile(endpoint=…)`` over plain http), so the code under test builds and signs real
requests and parses real-shaped answers; only the far end is ours. Like Tencent it checks
each request's ``TC3-HMAC-SHA256`` signature against the configured SecretKey and refuses a
bad one with ``AuthFailure.*``, answers every outcome with HTTP 200 and a JSON
``{"Response": …}`` (per-number outcomes in ``SendStatusSet``, request errors in
``Error``), and can be told to answer flow control, an invalid number, an empty SMS
package, a 5xx from the gateway in front, or to be slow. It pushes replies (one JSON object)
and delivery reports (a JSON array) the way Tencent does, to our push URLs.

    with FakeTencentSms() as fake:
        fake.fail_next(FLOW_CONTROL)
        ...                          # send through TencentSmsGateway(endpoint=fake.endpoint)
        [message] = fake.messages_to("+8613800138000")
        fake.push_reports(report_url, [message["serial_no"]])

By hand: ``python -m volunteer_hub.devtools.fake_tencent --port 8096``.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from volunteer_hub.devtools.fake_provider import (
    FakeAccount,
    FakeServer,
    KeepAliveHandler,
    fake_arguments,
    run_by_hand,
    server_options,
)
from volunteer_hub.sms.segments import count_segments

SECRET_ID = "AKIDfakeTencentSms0000000000000000000"
SECRET_KEY = "fake-tencent-sms-secret-key"
SDK_APP_ID = "1400000001"
SIGN_NAME = "退役军人志愿服务"
ACTION, VERSION, SERVICE = "SendSms", "2021-01-11", "sms"
#: Tencent refuses a request signed more than five minutes away from its clock
MAX_CLOCK_SKEW = 300
MAX_NUMBERS = 200
BEIJING = timezone(timedelta(hours=8))

FLOW_CONTROL = "LimitExceeded.DeliveryFrequencyLimit"
INVALID_NUMBER = "InvalidParameterValue.IncorrectPhoneNumber"
NO_BALANCE = "FailedOperation.InsufficientBalanceInSmsPackage"
BLACKLISTED = "FailedOperation.PhoneNumberInBlacklist"

#: Tencent's wording for the errors the fake produces
ERROR_MESSAGES = {
    "AuthFailure.InvalidAuthorization": "Authorization header format is invalid.",
    "AuthFailure.SecretIdNotFound": "The SecretId is not found, please ensure that your SecretId is correct.",
    "AuthFailure.SignatureExpire": "Signature expired. Timestamp and server time differ by more than five minutes.",
    "AuthFailure.SignatureFailure": "The provided credentials could not be validated. Please check your signature is correct.",
    "InvalidAction": "The action requested was invalid.",
    "NoSuchVersion": "The requested version does not exist.",
    "MissingParameter.EmptyPhoneNumberSet": "the phone number set is empty",
    "LimitExceeded.PhoneNumberCountLimit": "the number of phone numbers in a request exceeds 200",
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail": "SmsSdkAppId verify fail",
    "FailedOperation.SignatureIncorrectOrUnapproved": "signature format is incorrect or signature is not approved",
    "FailedOperation.TemplateIncorrectOrUnapproved": "template is not approved or request content does not match the approved template content",
    "FailedOperation.TemplateParamSetNotMatchApprovedTemplate": "the request content does not match the template content",
    "UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber": "there are both Mainland China and international phone numbers in the request",
    FLOW_CONTROL: "the number of SMS messages sent exceeds the frequency limit policy",
    "LimitExceeded.PhoneNumberDailyLimit": "the number of SMS messages sent to a single mobile number every day exceeds the upper limit",
    INVALID_NUMBER: "incorrect phone number",
    NO_BALANCE: "insufficient balance in SMS package",
    BLACKLISTED: "the phone number is in the blocklist",
    "InternalError.Timeout": "sending SMS timed out",
}

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
MAINLAND_MOBILE = re.compile(r"^\+861\d{10}$")
AUTHORIZATION = re.compile(
    r"^TC3-HMAC-SHA256 Credential=(?P<secret_id>[^/]+)/(?P<date>\d{4}-\d{2}-\d{2})/"
    r"(?P<service>[^/]+)/tc3_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), "
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


def tc3_signature(
    secret_key: str,
    headers: Mapping[str, str],
    signed_headers: Sequence[str],
    payload: bytes,
    timestamp: int,
    service: str = SERVICE,
    method: str = "POST",
) -> str:
    """Tencent's TC3-HMAC-SHA256 over a request to ``/`` (``headers`` by lower-case name)."""
    canonical_headers = "".join(
        f"{name}:{headers.get(name, '').strip().lower()}\n" for name in signed_headers
    )
    payload_hash = hashlib.sha256(payload).hexdigest()
    canonical_request = "\n".join(
        [method, "/", "", canonical_headers, ";".join(signed_headers), payload_hash]
    )
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    scope = f"{date}/{service}/tc3_request"
    digest = hashlib.sha256(canonical_request.encode()).hexdigest()
    string_to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{digest}"
    key = ("TC3" + secret_key).encode()
    for part in (date, service, "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


class TencentError(Exception):
    def __init__(self, code: str, message: str | None = None):
        self.code = code
        self.message = message or ERROR_MESSAGES.get(code, code)


@dataclass(frozen=True)
class Scripted:
    #: a Tencent error code; None: answer normally
    code: str | None = None
    message: str | None = None
    #: "number": in each number's SendStatus; "request": the whole request's Error
    where: str = "number"
    #: an HTTP status other than 200: the API gateway in front failed (no JSON)
    http_status: int = 200
    delay: float = 0.0


def _serial_no() -> str:
    return f"{secrets.randbelow(9000) + 1000}:{secrets.randbelow(10**28):028d}"


class _Handler(KeepAliveHandler):
    def do_POST(self) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, data = self.server.fake.handle(headers, self.body())
        # Exactly this type: the SDK looks for errors only in application/json answers.
        self.answer(status, "application/json" if status == 200 else "text/html", data)

    def do_GET(self) -> None:
        self.send_error(405)


class FakeTencentSms(FakeAccount, FakeServer):
    """A threaded HTTP server on 127.0.0.1 that answers like Tencent Cloud's SendSms."""

    handler = _Handler
    scripted = Scripted
    #: a recorded text, one per number: ``serial_no``, ``phone``, ``template_id``,
    #: ``params``, ``sign_name``, ``sdk_app_id``, ``text`` (when the template is known),
    #: ``fee``, ``request_id``
    phone_field = "phone"

    def __init__(
        self,
        secret_id: str = SECRET_ID,
        secret_key: str = SECRET_KEY,
        sdk_app_id: str = SDK_APP_ID,
        *,
        sign_names: Iterable[str] = (SIGN_NAME,),
        templates: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        delay: float = 0.0,
    ):
        self.secret_id = secret_id
        self.secret_key = secret_key
        self.sdk_app_id = sdk_app_id
        #: approved sign names; another one is refused
        self.sign_names = set(sign_names)
        #: approved TemplateId → content with {1}, {2} …; None accepts any id and count
        self.templates = dict(templates) if templates is not None else None
        #: seconds every request takes (benchmarks: provider latency)
        self.delay = delay
        #: numbers that always get this per-number code (e.g. BLACKLISTED)
        self.number_errors: dict[str, str] = {}
        self.host, self.port = host, port
        super().__init__()

    def _reset_state(self) -> None:
        super()._reset_state()
        self._errors: collections.Counter[str] = collections.Counter()
        self._pushes: list[dict[str, Any]] = []

    @property
    def endpoint(self) -> str:
        """``host:port``, what TENCENT_SMS_ENDPOINT takes (loopback: plain http)."""
        return self.address

    def app_config(self) -> dict[str, Any]:
        """Config keys that point the app's tencent backend at this fake (SMS_TEMPLATES
        apart: a file of the caller's)."""
        return {
            "SMS_BACKEND": "tencent",
            "TENCENTCLOUD_SECRET_ID": self.secret_id,
            "TENCENTCLOUD_SECRET_KEY": self.secret_key,
            "TENCENT_SMS_APP_ID": self.sdk_app_id,
            "TENCENT_SMS_ENDPOINT": self.endpoint,
            "SMS_SIGN_NAME": next(iter(sorted(self.sign_names)), SIGN_NAME),
        }

    # -- scripting ----------------------------------------------------------------------

    def fail_next(
        self,
        code: str | None = None,
        *,
        message: str | None = None,
        where: str = "number",
        http_status: int = 200,
        times: int = 1,
        delay: float = 0.0,
    ) -> None:
        """The next ``times`` requests get this error: Tencent ``code`` in every number's
        SendStatus (``where="number"``) or as the request's Error (``"request"``), or with
        ``http_status`` a bare non-200 answer, as from the gateway in front of the API."""
        if where not in ("number", "request"):
            raise ValueError("where is 'number' or 'request'")
        self._enqueue(Scripted(code, message, where, http_status, delay), times)

    def _forget_setup(self) -> None:
        self.number_errors.clear()

    # -- records --------------------------------------------------------------------------

    @property
    def errors(self) -> collections.Counter[str]:
        """Error codes answered, request-level and per number."""
        with self._lock:
            return collections.Counter(self._errors)

    @property
    def pushes(self) -> list[dict[str, Any]]:
        """Every push sent: ``url``, ``payload``, ``status`` and ``acknowledged``."""
        with self._lock:
            return [dict(push) for push in self._pushes]

    # -- the API ------------------------------------------------------------------------

    def handle(self, headers: Mapping[str, str], body: bytes) -> tuple[int, bytes]:
        """Answer one POST to ``/`` (``headers`` by lower-case name): status and body."""
        with self._lock:
            self._requests += 1
        scripted = self._next_scripted()
        request_id = str(uuid.uuid4())
        try:
            self._authenticate(headers, body)
            if self._wait(scripted.delay if scripted else self.delay):
                raise TencentError("InternalError.Timeout")
            if scripted is not None and scripted.http_status != 200:
                return scripted.http_status, b"<html><body>502 Bad Gateway</body></html>"
            if scripted is not None and scripted.code and scripted.where == "request":
                raise TencentError(scripted.code, scripted.message)
            statuses = self._send(json.loads(body or b"{}"), request_id, scripted)
        except (TencentError, ValueError) as error:
            if not isinstance(error, TencentError):
                error = TencentError("InvalidParameter", "the request body is not JSON")
            with self._lock:
                self._errors[error.code] += 1
            response = {"Error": {"Code": error.code, "Message": error.message}}
        else:
            response = {"SendStatusSet": statuses}
        return 200, json.dumps({"Response": {**response, "RequestId": request_id}}).encode()

    def _authenticate(self, headers: Mapping[str, str], body: bytes) -> None:
        try:
            self._check_signature(headers, body)
        except TencentError:
            with self._lock:
                self._auth_failures += 1
            raise
        if headers.get("x-tc-action") != ACTION:
            raise TencentError("InvalidAction")
        if headers.get("x-tc-version") != VERSION:
            raise TencentError("NoSuchVersion")

    def _check_signature(self, headers: Mapping[str, str], body: bytes) -> None:
        match = AUTHORIZATION.match(headers.get("authorization", ""))
        if match is None or match["service"] != SERVICE:
            raise TencentError("AuthFailure.InvalidAuthorization")
        if not secrets.compare_digest(match["secret_id"], self.secret_id):
            raise TencentError("AuthFailure.SecretIdNotFound")
        try:
            timestamp = int(headers.get("x-tc-timestamp", ""))
        except ValueError:
            raise TencentError("AuthFailure.InvalidAuthorization") from None
        if abs(time.time() - timestamp) > MAX_CLOCK_SKEW:
            raise TencentError("AuthFailure.SignatureExpire")
        signed = match["signed"].split(";")
        if "content-type" not in signed or "host" not in signed:
            raise TencentError("AuthFailure.InvalidAuthorization")
        expected = tc3_signature(self.secret_key, headers, signed, body, timestamp)
        date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
        if match["date"] != date or not secrets.compare_digest(match["signature"], expected):
            raise TencentError("AuthFailure.SignatureFailure")

    def _send(
        self, params: Mapping[str, Any], request_id: str, scripted: Scripted | None
    ) -> list[dict[str, Any]]:
        numbers = [str(number) for number in params.get("PhoneNumberSet") or []]
        template_id = str(params.get("TemplateId") or "")
        values = [str(value) for value in params.get("TemplateParamSet") or []]
        sign_name = str(params.get("SignName") or "")
        text = self._validate(params, numbers, template_id, values, sign_name)
        statuses, accepted = [], []
        for number in numbers:
            code = self.number_errors.get(number)
            if scripted is not None and scripted.code:
                code = scripted.code
            elif not E164.match(number):
                code = INVALID_NUMBER
            status = {
                "SerialNo": "",
                "PhoneNumber": number,
                "Fee": 0,
                "SessionContext": str(params.get("SessionContext") or ""),
                "Code": code or "Ok",
                "Message": ERROR_MESSAGES.get(code, code) if code else "send success",
                "IsoCode": "CN" if number.startswith("+86") else "",
            }
            if scripted is not None and scripted.message and code:
                status["Message"] = scripted.message
            if code is None:
                status["SerialNo"] = _serial_no()
                status["Fee"] = max(count_segments(text), 1) if text else 1
                accepted.append(
                    {
                        "serial_no": status["SerialNo"],
                        "phone": number,
                        "template_id": template_id,
                        "params": values,
                        "sign_name": sign_name,
                        "sdk_app_id": str(params.get("SmsSdkAppId")),
                        "session_context": status["SessionContext"],
                        "text": text,
                        "fee": status["Fee"],
                        "request_id": request_id,
                    }
                )
            statuses.append(status)
        with self._lock:
            self._messages.extend(accepted)
            self._errors.update(s["Code"] for s in statuses if s["Code"] != "Ok")
        return statuses

    def _validate(
        self,
        params: Mapping[str, Any],
        numbers: list[str],
        template_id: str,
        values: list[str],
        sign_name: str,
    ) -> str | None:
        """Request-level checks, in Tencent's order; the text a phone would show."""
        if str(params.get("SmsSdkAppId") or "") != self.sdk_app_id:
            raise TencentError("UnauthorizedOperation.SmsSdkAppIdVerifyFail")
        if not numbers:
            raise TencentError("MissingParameter.EmptyPhoneNumberSet")
        if len(numbers) > MAX_NUMBERS:
            raise TencentError("LimitExceeded.PhoneNumberCountLimit")
        # A number without "+" is a mainland one to Tencent (11 digits, 86 or 0086 in front).
        if len({number.startswith("+86") or not number.startswith("+") for number in numbers}) > 1:
            raise TencentError("UnsupportedOperation.ContainDomesticAndInternationalPhoneNumber")
        if sign_name not in self.sign_names:
            raise TencentError("FailedOperation.SignatureIncorrectOrUnapproved")
        if self.templates is None:
            return None
        content = self.templates.get(template_id)
        if content is None:
            raise TencentError("FailedOperation.TemplateIncorrectOrUnapproved")
        if len(values) != len(set(re.findall(r"\{(\d+)\}", content))):
            raise TencentError("FailedOperation.TemplateParamSetNotMatchApprovedTemplate")
        body = re.sub(r"\{(\d+)\}", lambda m: values[int(m[1]) - 1], content)
        return f"【{sign_name}】{body}"

    # -- Tencent calling us -----------------------------------------------------------------

    def reply_payload(
        self,
        from_phone: str,
        text: str,
        *,
        sign: str | None = None,
        extend: str = "",
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """A volunteer's reply as Tencent pushes it: one JSON object."""
        nationcode, mobile = _split_mainland(from_phone)
        return {
            "extend": extend,
            "mobile": mobile,
            "nationcode": nationcode,
            "sign": sign if sign is not None else next(iter(sorted(self.sign_names)), ""),
            "text": text,
            "time": int((at or datetime.now(UTC)).timestamp()),
        }

    def report_payload(
        self,
        serial_nos: Iterable[str],
        *,
        status: str = "SUCCESS",
        errmsg: str | None = None,
        at: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Delivery reports for recorded texts as Tencent pushes them: a JSON array."""
        received = (at or datetime.now(UTC)).astimezone(BEIJING).strftime("%Y-%m-%d %H:%M:%S")
        delivered = status == "SUCCESS"
        with self._lock:
            by_serial = {message["serial_no"]: message for message in self._messages}
        reports = []
        for serial_no in serial_nos:
            nationcode, mobile = _split_mainland(by_serial[serial_no]["phone"])
            reports.append(
                {
                    "user_receive_time": received,
                    "nationcode": nationcode,
                    "mobile": mobile,
                    "report_status": status,
                    "errmsg": errmsg or ("DELIVRD" if delivered else "UNDELIV"),
                    "description": "用户短信送达成功" if delivered else "用户短信未送达",
                    "sid": serial_no,
                }
            )
        return reports

    def push(self, url: str, payload: Any, *, client: Any = None, timeout: float = 10) -> Any:
        """POST ``payload`` as JSON to ``url`` the way Tencent does, unsigned. With
        ``client`` (a Flask test client) through it, else over HTTP with ``requests``;
        the response is returned and recorded with whether it was Tencent's ack."""
        if client is not None:
            parts = urlsplit(url)
            response = client.post(
                parts.path + (f"?{parts.query}" if parts.query else ""),
                json=payload,
                base_url=f"{parts.scheme}://{parts.netloc}",
            )
            status, answer = response.status_code, response.get_json(silent=True)
        else:
            import requests

            response = requests.post(url, json=payload, timeout=timeout)
            status = response.status_code
            try:
                answer = response.json()
            except ValueError:
                answer = None
        acknowledged = status == 200 and isinstance(answer, dict) and answer.get("result") == 0
        with self._lock:
            self._pushes.append(
                {"url": url, "payload": payload, "status": status, "acknowledged": acknowledged}
            )
        return response

    def push_reply(self, url: str, from_phone: str, text: str, *, client: Any = None, **kw: Any):
        return self.push(url, self.reply_payload(from_phone, text, **kw), client=client)

    def push_reports(
        self, url: str, serial_nos: Iterable[str], *, client: Any = None, **kw: Any
    ) -> Any:
        return self.push(url, self.report_payload(serial_nos, **kw), client=client)


def _split_mainland(phone: str) -> tuple[str, str]:
    """+8613800138000 → ("86", "13800138000"), as Tencent's pushes carry a number."""
    if phone.startswith("+86"):
        return "86", phone[3:]
    return "", phone.lstrip("+")


def _describe(text: dict[str, Any]) -> str:
    """A received text for the terminal, its number masked."""
    where = f"to ****{text['phone'][-4:]}: template {text['template_id']}"
    return f"{text['serial_no']} {where} params {text['params']}"


def main(argv: Iterable[str] | None = None) -> None:
    parser = fake_arguments("A local fake of Tencent Cloud SMS SendSms.", port=8096)
    parser.add_argument("--secret-id", default=SECRET_ID)
    parser.add_argument("--secret-key", default=SECRET_KEY)
    parser.add_argument("--app-id", default=SDK_APP_ID)
    parser.add_argument("--sign-name", default=SIGN_NAME)
    args = parser.parse_args(list(argv) if argv is not None else None)
    credentials = (args.secret_id, args.secret_key, args.app_id)
    fake = FakeTencentSms(*credentials, sign_names=[args.sign_name], **server_options(args))
    run_by_hand(fake, "fake Tencent Cloud SMS", _describe)


if __name__ == "__main__":
    main()
