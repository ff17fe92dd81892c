"""A local fake of Aliyun's SMS API (dysmsapi 2017-05-25), for tests, benchmarks and by hand.

The real Alibaba Cloud SDK talks to it (``ALIYUN_SMS_ENDPOINT=fake.endpoint``), signing
every call the way it signs for Aliyun (``ACS3-HMAC-SHA256`` in the Authorization header);
the fake recomputes that signature with the configured AccessKey secret and refuses a bad
one as Aliyun does (HTTP 400 ``SignatureDoesNotMatch``, 404 for an unknown key). It
answers SendSms and SendBatchSms with Aliyun's response shapes (business errors come as
HTTP 200 with a ``Code``), records what was sent, can be scripted to answer an error or
to be slow, and pushes replies (SmsUp) and delivery reports (SmsReport) to a URL as Aliyun
does: a JSON array, answered with ``{"code": 0, "msg": "接收成功"}``.

    with FakeAliyun() as fake:
        fake.fail_next("isv.BUSINESS_LIMIT_CONTROL")
        ...                          # send through AliyunGateway(endpoint=fake.endpoint)
        fake.push_reports(report_url, fake.messages)

By hand: ``python -m volunteer_hub.devtools.fake_aliyun --port 8097``.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import hmac
import itertools
import json
import re
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from volunteer_hub.devtools.fake_provider import (
    FakeAccount,
    FakeServer,
    KeepAliveHandler,
    run_by_hand,
)

ACCESS_KEY_ID = "LTAI5tFakeAliyunKeyId00"
ACCESS_KEY_SECRET = "fake-aliyun-access-key-secret"
SIGN_NAME = "退役军人志愿服务"
ALGORITHM = "ACS3-HMAC-SHA256"
HOST_ID = "dysmsapi.aliyuncs.com"
BEIJING = timezone(timedelta(hours=8))
#: how far x-acs-date may be from the fake's clock, as Aliyun allows
CLOCK_SKEW = timedelta(minutes=15)
BATCH_LIMIT = 100
SEND_LIMIT = 1000
PARAM_LIMIT = 35

MAINLAND_MOBILE = re.compile(r"^(?:\+86|0086|86)?(1[3-9]\d{9})$")
INTERNATIONAL = re.compile(r"^(?:\+|00)?([1-9]\d{7,14})$")
AUTHORIZATION = re.compile(
    rf"^{ALGORITHM} Credential=(?P<key>[^,]+),SignedHeaders=(?P<headers>[^,]+),"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)

#: Aliyun's wording for the codes the fake answers, and the HTTP status each comes with
#: (the isv./isp. business codes come with 200, like Aliyun's)
ERRORS: dict[str, tuple[int, str]] = {
    "isv.BUSINESS_LIMIT_CONTROL": (200, "触发分钟级流控Permits:1"),
    "isv.MOBILE_NUMBER_ILLEGAL": (200, "非法手机号"),
    "isv.MOBILE_COUNT_OVER_LIMIT": (200, "手机号码数量超过限制"),
    "isv.AMOUNT_NOT_ENOUGH": (200, "账户余额不足"),
    "isv.OUT_OF_SERVICE": (200, "业务停机"),
    "isv.DAY_LIMIT_CONTROL": (200, "触发日发送限额"),
    "isv.SMS_SIGNATURE_ILLEGAL": (200, "该账号下找不到对应签名"),
    "isv.SMS_TEMPLATE_ILLEGAL": (200, "该账号下找不到对应模板"),
    "isv.TEMPLATE_MISSING_PARAMETERS": (200, "模板变量缺少对应参数值"),
    "isv.INVALID_JSON_PARAM": (200, "JSON参数不合法，只接受字符串值"),
    "isv.PARAM_LENGTH_LIMIT": (200, "参数超出长度限制"),
    "isv.INVALID_PARAMETERS": (200, "参数异常"),
    "isp.SYSTEM_ERROR": (200, "系统错误"),
    "SignatureDoesNotMatch": (400, "Specified signature does not match our calculation."),
    "IncompleteSignature": (400, "The request signature does not conform to Aliyun standards."),
    "InvalidAccessKeyId.NotFound": (404, "Specified access key is not found."),
    "InvalidTimeStamp.Expired": (400, "Specified time stamp or date value is expired."),
    "SignatureNonceUsed": (400, "Specified signature nonce was used already."),
    "InvalidAction.NotFound": (
        404,
        "Specified api is not found, please check your url and method.",
    ),
    "MissingParameter": (400, "A required parameter is not supplied."),
    "Throttling.User": (400, "Request was denied due to user flow control."),
    "ServiceUnavailable": (503, "The request has failed due to a temporary failure of the server."),
    "InternalError": (500, "The request processing has failed due to some unknown error."),
}


class AliyunError(Exception):
    def __init__(self, code: str, message: str | None = None, status: int | None = None):
        known_status, known_message = ERRORS.get(code, (200, code))
        self.code = code
        self.status = status or known_status
        self.message = message or known_message

    def payload(self, request_id: str) -> dict[str, Any]:
        if self.status == 200:  # a business refusal: SendSms's own answer shape
            return {"Code": self.code, "Message": self.message, "RequestId": request_id}
        return {
            "RequestId": request_id,
            "HostId": HOST_ID,
            "Code": self.code,
            "Message": self.message,
            "Recommend": f"https://api.aliyun.com/troubleshoot?q={self.code}&product=Dysmsapi",
        }


@dataclass
class Scripted:
    """One scripted answer to the next send request: an error code, or (None) success,
    after ``delay`` seconds."""

    code: str | None = None
    message: str | None = None
    status: int | None = None
    delay: float = 0.0


def beijing_now() -> str:
    return datetime.now(BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def canonical_query(raw_query: str) -> str:
    pairs = sorted(parse_qsl(raw_query, keep_blank_values=True))
    return "&".join(f"{quote(k, safe='~')}={quote(v, safe='~')}" for k, v in pairs)


def string_to_sign(
    method: str, path: str, raw_query: str, headers: Mapping[str, str], signed: str, body: bytes
) -> str:
    """ACS3's string to sign for a request as received (names in ``signed`` lower case)."""
    canonical_headers = "".join(
        f"{name}:{(headers.get(name) or '').strip()}\n" for name in signed.split(";")
    )
    canonical_request = "\n".join([
        method, path or "/", canonical_query(raw_query), canonical_headers, signed,
        hashlib.sha256(body).hexdigest(),
    ])  # fmt: skip
    return f"{ALGORITHM}\n{hashlib.sha256(canonical_request.encode()).hexdigest()}"


def national(number: str) -> str | None:
    """What Aliyun takes as a number → E.164, or None when it is not a mobile number."""
    number = number.strip()
    mainland = MAINLAND_MOBILE.match(number)
    if mainland:
        return "+86" + mainland[1]
    other = INTERNATIONAL.match(number)
    if other and not other[1].startswith("86"):
        return "+" + other[1]
    return None


class _Handler(KeepAliveHandler):
    """Aliyun's RPC calls, GET or POST, all answered by ``FakeAliyun.answer``."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name.lower(): value for name, value in self.headers.items()}
        fake: FakeAliyun = self.server.fake  # type: ignore[assignment]
        status, payload = fake.answer(self.command, self.path, headers, body)
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-acs-request-id", payload.get("RequestId", ""))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _serve


class FakeAliyun(FakeAccount, FakeServer):
    """A threaded HTTP server on 127.0.0.1 that answers like Aliyun's SMS API. A recorded
    text (one per number) has ``to`` (E.164), ``biz_id``, ``sign_name``, ``template_code``,
    ``params``, ``action``, ``out_id``, ``send_time`` …"""

    phone_field = "to"
    handler = _Handler
    scripted = Scripted

    def __init__(
        self,
        access_key_id: str = ACCESS_KEY_ID,
        access_key_secret: str = ACCESS_KEY_SECRET,
        *,
        sign_names: Iterable[str] | None = (SIGN_NAME,),
        templates: Mapping[str, Sequence[str]] | None = None,
        delay: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.host, self.port = host, port
        #: seconds every send request takes (benchmarks: provider latency)
        self.delay = delay
        #: registered sign names; None takes any
        self.sign_names = set(sign_names) if sign_names is not None else None
        #: approved template codes → their variable names; None takes any code and params
        self.templates = dict(templates) if templates is not None else None
        #: numbers (E.164) Aliyun calls illegal: 非法手机号
        self.invalid_numbers: set[str] = set()
        #: texts the balance still pays for; None is unlimited
        self.balance: int | None = None
        self._biz_ids = itertools.count(secrets.randbelow(10**8) * 10**10)
        super().__init__()

    def _reset_state(self) -> None:
        super()._reset_state()
        self._nonces: set[str] = set()
        self._codes: collections.Counter[str] = collections.Counter()
        self._calls: list[str] = []

    @property
    def endpoint(self) -> str:
        """``host:port``, what goes into ALIYUN_SMS_ENDPOINT."""
        return self.address

    def app_config(self, sign_name: str = SIGN_NAME) -> dict[str, Any]:
        """Config keys that point the app's aliyun backend at this fake."""
        return {
            "SMS_BACKEND": "aliyun",
            "ALIYUN_ACCESS_KEY_ID": self.access_key_id,
            "ALIYUN_ACCESS_KEY_SECRET": self.access_key_secret,
            "ALIYUN_SMS_ENDPOINT": self.endpoint,
            "SMS_SIGN_NAME": sign_name,
        }

    # -- scripting and records -------------------------------------------------------------

    def fail_next(
        self,
        code: str,
        *,
        times: int = 1,
        delay: float = 0.0,
        message: str | None = None,
        status: int | None = None,
    ) -> None:
        """The next ``times`` send requests are answered with this Aliyun error code."""
        self._enqueue(Scripted(code, message, status, delay), times)

    def _forget_setup(self) -> None:
        self.invalid_numbers.clear()
        self.balance = None

    @property
    def calls(self) -> list[str]:
        """The action of every request that reached the API, in order."""
        with self._lock:
            return list(self._calls)

    @property
    def codes(self) -> collections.Counter[str]:
        """Answer codes given so far, e.g. ``codes["SignatureDoesNotMatch"]``."""
        with self._lock:
            return collections.Counter(self._codes)

    # -- the API ---------------------------------------------------------------------------

    def answer(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """Answer one HTTP request: (status, JSON body)."""
        request_id = str(uuid.uuid4()).upper()
        parts = urlsplit(target)
        action = headers.get("x-acs-action", "")
        try:
            self._authenticate(method, parts.path, parts.query, headers, body)
            if action not in ("SendSms", "SendBatchSms"):
                raise AliyunError("InvalidAction.NotFound")
            with self._lock:
                self._calls.append(action)
                self._requests += 1
            params = dict(parse_qsl(parts.query, keep_blank_values=True))
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            scripted = self._next_scripted()
            self._wait(scripted.delay if scripted else self.delay)
            if scripted is not None and scripted.code is not None:
                raise AliyunError(scripted.code, scripted.message, scripted.status)
            texts = self._texts(action, params)
            biz_id = self._accept(texts, request_id)
        except AliyunError as error:
            with self._lock:
                self._codes[error.code] += 1
            return error.status, error.payload(request_id)
        with self._lock:
            self._codes["OK"] += 1
        return 200, {"Code": "OK", "Message": "OK", "BizId": biz_id, "RequestId": request_id}

    def _authenticate(
        self, method: str, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> None:
        match = AUTHORIZATION.match(headers.get("authorization", ""))
        if match is None:
            raise AliyunError("IncompleteSignature")
        signed = match["headers"]
        names = set(signed.split(";"))
        if not {"host", "x-acs-date", "x-acs-signature-nonce"} <= names or any(
            name.startswith("x-acs-") and name not in names for name in headers
        ):
            raise AliyunError("IncompleteSignature")
        if not secrets.compare_digest(match["key"], self.access_key_id):
            raise AliyunError("InvalidAccessKeyId.NotFound")
        expected = string_to_sign(method, path, query, headers, signed, body)
        digest = hmac.new(self.access_key_secret.encode(), expected.encode(), hashlib.sha256)
        if not hmac.compare_digest(digest.hexdigest(), match["signature"]):
            message = f"Specified signature does not match our calculation. server StringToSign is [{expected}]"
            raise AliyunError("SignatureDoesNotMatch", message)
        try:
            sent = datetime.strptime(headers["x-acs-date"], "%Y-%m-%dT%H:%M:%SZ")
        except (KeyError, ValueError):
            raise AliyunError("InvalidTimeStamp.Expired") from None
        if abs(datetime.now(UTC) - sent.replace(tzinfo=UTC)) > CLOCK_SKEW:
            raise AliyunError("InvalidTimeStamp.Expired")
        with self._lock:
            nonce = headers.get("x-acs-signature-nonce", "")
            if nonce in self._nonces:
                raise AliyunError("SignatureNonceUsed")
            self._nonces.add(nonce)

    def _texts(self, action: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """The request's texts, one per number, validated as Aliyun validates them."""
        code = _required(params, "TemplateCode")
        if action == "SendSms":
            numbers = _required(params, "PhoneNumbers").split(",")
            signs = [_required(params, "SignName")] * len(numbers)
            variables = [_params(params.get("TemplateParam"))] * len(numbers)
            limit = SEND_LIMIT
        else:
            numbers = _json_list(_required(params, "PhoneNumberJson"))
            signs = _json_list(_required(params, "SignNameJson"))
            raw = params.get("TemplateParamJson")
            variables = [_params(v) for v in _json_list(raw)] if raw else [{}] * len(numbers)
            limit = BATCH_LIMIT
            if not (len(numbers) == len(signs) == len(variables)):
                raise AliyunError("isv.INVALID_PARAMETERS")
        if len(numbers) > limit:
            raise AliyunError("isv.MOBILE_COUNT_OVER_LIMIT")
        texts = []
        for number, sign, values in zip(numbers, signs, variables, strict=True):
            to = national(str(number))
            if to is None or to in self.invalid_numbers:
                raise AliyunError("isv.MOBILE_NUMBER_ILLEGAL")
            self._check_template(code, sign, values)
            texts.append({
                "action": action, "phone_number": str(number), "to": to, "sign_name": sign,
                "template_code": code, "params": values, "out_id": params.get("OutId"),
            })  # fmt: skip
        return texts

    def _check_template(self, code: str, sign: str, values: Mapping[str, str]) -> None:
        if self.sign_names is not None and sign not in self.sign_names:
            raise AliyunError("isv.SMS_SIGNATURE_ILLEGAL")
        if self.templates is not None:
            if code not in self.templates:
                raise AliyunError("isv.SMS_TEMPLATE_ILLEGAL")
            if set(self.templates[code]) - set(values):
                raise AliyunError("isv.TEMPLATE_MISSING_PARAMETERS")
        if any(len(value) > PARAM_LIMIT for value in values.values()):
            raise AliyunError("isv.PARAM_LENGTH_LIMIT")

    def _accept(self, texts: list[dict[str, Any]], request_id: str) -> str:
        biz_id = f"{next(self._biz_ids)}^0"
        with self._lock:
            if self.balance is not None:
                if self.balance < len(texts):
                    raise AliyunError("isv.AMOUNT_NOT_ENOUGH")
                self.balance -= len(texts)
            send_time = beijing_now()
            for text in texts:
                text.update(biz_id=biz_id, request_id=request_id, send_time=send_time)
                self._messages.append(text)
        return biz_id

    # -- Aliyun pushing to us ----------------------------------------------------------------

    def reply_item(
        self,
        from_phone: str,
        content: str,
        *,
        sign_name: str = SIGN_NAME,
        dest_code: str = "1234",
        sequence_id: int | None = None,
        send_time: str | None = None,
    ) -> dict[str, Any]:
        """One SmsUp item: a volunteer's text (``from_phone`` in E.164) to our sign."""
        return {
            "phone_number": from_phone.removeprefix("+86"),
            "send_time": send_time or beijing_now(),
            "content": content,
            "sign_name": sign_name,
            "dest_code": dest_code,
            "sequence_id": sequence_id if sequence_id is not None else secrets.randbelow(10**10),
        }

    def report_item(
        self,
        message: Mapping[str, Any],
        *,
        success: bool = True,
        err_code: str = "DELIVERED",
        err_msg: str = "用户接收成功",
        report_time: str | None = None,
    ) -> dict[str, Any]:
        """One SmsReport item for a recorded text."""
        return {
            "phone_number": message["to"].removeprefix("+86"),
            "send_time": message["send_time"],
            "report_time": report_time or beijing_now(),
            "success": success,
            "err_code": err_code,
            "err_msg": err_msg,
            "sms_size": "1",
            "biz_id": message["biz_id"],
            "out_id": message.get("out_id") or "",
        }

    def push(self, url: str, items: Sequence[Mapping[str, Any]], *, client: Any = None) -> Any:
        """POST ``items`` as Aliyun's JSON array to ``url``. With ``client`` (a Flask test
        client) through it, to the path of ``url``; else over HTTP (a requests.Response)."""
        data = json.dumps(list(items), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json;charset=utf-8"}
        if client is not None:
            parts = urlsplit(url)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            return client.post(path, data=data, headers=headers)
        import requests

        # Aliyun waits about 700 ms for the answer before it counts the push as failed.
        return requests.post(url, data=data, headers=headers, timeout=10)

    def push_reply(self, url: str, from_phone: str, content: str, **kwargs: Any) -> Any:
        client = kwargs.pop("client", None)
        return self.push(url, [self.reply_item(from_phone, content, **kwargs)], client=client)

    def push_reports(
        self, url: str, messages: Sequence[Mapping[str, Any]], *, client: Any = None, **kwargs: Any
    ) -> Any:
        """One push with a report for each of ``messages`` (records from ``messages``)."""
        return self.push(url, [self.report_item(m, **kwargs) for m in messages], client=client)


def acknowledged(response: Any) -> bool:
    """Whether Aliyun would count a push as received: HTTP 200 and a numeric ``code``."""
    status = getattr(response, "status_code", None)
    try:
        body = response.get_json() if hasattr(response, "get_json") else response.json()
    except ValueError:
        return False
    code = body.get("code") if isinstance(body, dict) else None
    return status == 200 and isinstance(code, int) and not isinstance(code, bool)


def _required(params: Mapping[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise AliyunError("MissingParameter", f"{name} is mandatory for this action.")
    return value


def _json_list(raw: str | None) -> list[Any]:
    try:
        value = json.loads(raw or "")
    except ValueError:
        raise AliyunError("isv.INVALID_PARAMETERS") from None
    if not isinstance(value, list):
        raise AliyunError("isv.INVALID_PARAMETERS")
    return value


def _params(raw: Any) -> dict[str, str]:
    if raw in (None, ""):
        return {}
    value = json.loads(raw) if isinstance(raw, str) else raw
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise AliyunError("isv.INVALID_JSON_PARAM")
    return value


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local fake of Aliyun's SMS API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8097)
    parser.add_argument("--access-key-id", default=ACCESS_KEY_ID)
    parser.add_argument("--access-key-secret", default=ACCESS_KEY_SECRET)
    parser.add_argument("--sign-name", default=SIGN_NAME)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds per send request")
    args = parser.parse_args(list(argv) if argv is not None else None)

    fake = FakeAliyun(
        args.access_key_id,
        args.access_key_secret,
        host=args.host,
        port=args.port,
        delay=args.delay,
        sign_names=[args.sign_name],
    )
    run_by_hand(
        fake,
        "fake Aliyun SMS",
        lambda message: (
            f"{message['biz_id']} to ****{message['to'][-4:]}: "
            f"{message['template_code']} {len(message['params'])} param(s)"
        ),
        config=lambda: fake.app_config(args.sign_name),
    )


if __name__ == "__main__":
    main()
