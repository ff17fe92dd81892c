"""Aliyun SMS (阿里云短信服务, dysmsapi 2017-05-25), through the real Alibaba Cloud SDK.

A mainland provider sends only pre-approved templates under a registered signature: a
text is our template key plus its variables, and this backend turns it into Aliyun's
template code (``TemplateCode``), the variables as ``TemplateParam`` JSON and the sign
name. Every Aliyun detail stays here: error codes, the push formats (SmsUp replies and
SmsReport delivery reports), the report's status words and the answer Aliyun expects.

**The template file** (``SMS_TEMPLATES``, TOML) maps our template keys to each
provider's template codes, one table per provider; a backend reads only its own table::

    [aliyun]
    signup_confirmed = "SMS_123456789"            # the code the Aliyun console gave
    waitlisted = { code = "SMS_123456790" }       # the same, as a table

    [tencent]
    signup_confirmed = "1234567"                  # see the Tencent backend for its form

An Aliyun template is registered with our catalogue's own variable names (``${title}``),
so the variables go through unchanged; a key missing from the table is a configuration
error for that text, never a silent fallback to free text.

**Provider ids.** Aliyun answers a send with one ``BizId`` per call, shared by every
number of a SendBatchSms call, and its reports carry ``biz_id`` and ``phone_number``.
So the ``provider_sid`` of one text is ``<BizId>/<tag>``, the tag a short digest of the
recipient's number: unique per text, rebuilt identically from a report, and without the
number in clear (sids reach logs).

The backend never retries (the send actor owns retries); the SDK's own retry is off.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from volunteer_hub.sms.gateway import (
    LazyClient,
    PermanentSmsError,
    ProviderConfigError,
    ProviderPaused,
    SendResult,
    SmsError,
    TransientSmsError,
    sign_name,
)
from volunteer_hub.sms.push import DeliveryReport, InboundText

log = logging.getLogger(__name__)

API_HOST = "dysmsapi.aliyuncs.com"
#: SendBatchSms takes at most this many numbers per call
BATCH_LIMIT = 100
#: what Aliyun expects back from a push (it checks only that ``code`` is a number)
PUSH_ACK = {"code": 0, "msg": "接收成功"}
#: Aliyun writes push times in Beijing time, without an offset
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")


#: Aliyun error codes → what the caller should do. Anything else is permanent for that text.
TRANSIENT_CODES = frozenset({
    "isv.BUSINESS_LIMIT_CONTROL",  # flow control: per number per minute/hour/day
    "isp.SYSTEM_ERROR",
    "isp.GATEWAY_ERROR",
    "InternalError",
    "ServiceUnavailable",
})  # fmt: skip
PAUSE_CODES = frozenset({
    "isv.AMOUNT_NOT_ENOUGH",  # 账户余额不足
    "isv.OUT_OF_SERVICE",  # 业务停机 (arrears)
    "isv.DAY_LIMIT_CONTROL",  # the account's daily quota set in the console
    "isv.MONTH_LIMIT_CONTROL",
    "isv.ACCOUNT_ABNORMAL",
})  # fmt: skip
#: the pauses that end by themselves: the account's own quotas, reset by Aliyun
QUOTA_RESETS = {"isv.DAY_LIMIT_CONTROL": "day", "isv.MONTH_LIMIT_CONTROL": "month"}
CONFIG_CODES = frozenset({
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidAccessKeyId.NotFound",
    "InvalidAccessKeyId.Inactive",
    "isp.RAM_PERMISSION_DENY",
    "isv.ACCOUNT_NOT_EXISTS",
    "isv.PRODUCT_UN_SUBSCRIPT",
    "isv.PRODUCT_UNSUBSCRIBE",
    "isv.SMS_SIGNATURE_ILLEGAL",
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL",
    "isv.SIGN_STATE_ILLEGAL",
    "isv.SMS_TEMPLATE_ILLEGAL",
    "isv.DENY_IP_RANGE",
    "template_unmapped",
})  # fmt: skip
INVALID_NUMBER = "isv.MOBILE_NUMBER_ILLEGAL"

#: a recipient on its way into a batch: its position, Aliyun's form of its number, variables
_Pending = tuple[int, str, Mapping[str, str]]

_MAINLAND_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def classify(code: str, message: str, http_status: int = 200) -> SmsError:
    """An Aliyun error code (from a 200 answer or an error response) as our error."""
    text = f"Aliyun {code}: {message}"
    if code in PAUSE_CODES:
        return ProviderPaused(text, code=code, resets=QUOTA_RESETS.get(code))
    if code in CONFIG_CODES:
        return ProviderConfigError(text, code=code)
    if code in TRANSIENT_CODES or code.startswith("Throttling") or http_status >= 500:
        return TransientSmsError(text, code=code)
    return PermanentSmsError(text, code=code)


def load_template_codes(path: str | Path, provider: str) -> dict[str, str]:
    """Our template key → the provider's template code, from the ``[provider]`` table of
    the SMS_TEMPLATES file. A value is the code, or a table with ``code``."""
    with open(path, "rb") as file:
        table = tomllib.load(file).get(provider, {})
    codes: dict[str, str] = {}
    for key, value in table.items():
        code = value.get("code") if isinstance(value, dict) else value
        if not isinstance(code, str) or not code.strip():
            raise ValueError(f"{path}: [{provider}] {key} needs a template code")
        codes[key] = code.strip()
    return codes


def aliyun_number(phone: str) -> str:
    """E.164 → what Aliyun takes: the 11 national digits for the mainland, country code
    and number without "+" elsewhere. PermanentSmsError when it is not a mobile number."""
    if _E164.match(phone or ""):
        digits = phone[1:]
        if not digits.startswith("86"):
            return digits
        if _MAINLAND_MOBILE.match(digits[2:]):
            return digits[2:]
    raise PermanentSmsError("not a mobile number Aliyun can text", code=INVALID_NUMBER)


def e164(number: str) -> str:
    """A number as Aliyun writes it in a push (national for the mainland) → E.164."""
    digits = "".join(ch for ch in str(number) if ch.isdigit())
    if digits.startswith("00"):
        digits = digits[2:]
    elif _MAINLAND_MOBILE.match(digits):
        digits = "86" + digits
    return "+" + digits


def provider_sid(biz_id: str, number: str) -> str:
    """``<BizId>/<tag>`` for one recipient (see the module docstring)."""
    national = e164(number)
    return f"{biz_id}/{hashlib.sha256(national.encode()).hexdigest()[:16]}"


def _beijing_time(text: Any) -> datetime:
    """A push's "2017-01-01 00:00:00", Beijing time → aware UTC."""
    return datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S").replace(tzinfo=BEIJING).astimezone(UTC)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def aliyun_from_config(config: Mapping[str, Any]) -> AliyunGateway:
    """The backend SMS_BACKEND=aliyun names, from the app config; RuntimeError at startup
    when a setting is missing rather than at the first text."""
    missing = [
        key
        for key in ("ALIYUN_ACCESS_KEY_ID", "ALIYUN_ACCESS_KEY_SECRET", "SMS_TEMPLATES")
        if not config.get(key)
    ]
    if missing:
        raise RuntimeError(f"SMS_BACKEND=aliyun needs {', '.join(missing)}")
    try:
        codes = load_template_codes(config["SMS_TEMPLATES"], "aliyun")
    except (OSError, tomllib.TOMLDecodeError, ValueError) as exc:
        raise RuntimeError(f"SMS_TEMPLATES cannot be read: {exc}") from None
    if not codes:
        raise RuntimeError(f"SMS_TEMPLATES ({config['SMS_TEMPLATES']}) has no [aliyun] table")
    return AliyunGateway(
        config["ALIYUN_ACCESS_KEY_ID"],
        config["ALIYUN_ACCESS_KEY_SECRET"],
        sign_name(config),
        codes,
        endpoint=config.get("ALIYUN_SMS_ENDPOINT") or None,
        timeout=float(config.get("SMS_SEND_TIMEOUT") or 10),
    )


class AliyunGateway(LazyClient):
    """The Aliyun SMS backend: template sends, batch sends, push parsing."""

    name = "aliyun"
    #: numbers one SendBatchSms call takes
    batch_limit = BATCH_LIMIT

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        template_codes: Mapping[str, str],
        *,
        endpoint: str | None = None,
        timeout: float = 10,
    ):
        needed = {
            "an AccessKey ID": access_key_id,
            "its secret": access_key_secret,
            "the registered sign name": sign_name,
        }
        if missing := [what for what, value in needed.items() if not value]:
            raise ValueError(f"Aliyun needs {', '.join(missing)}")
        super().__init__(timeout)
        self.access_key_id = access_key_id
        self._access_key_secret = access_key_secret
        self.sign_name = sign_name
        self.template_codes = dict(template_codes)
        self.endpoint = endpoint

    def __repr__(self) -> str:  # never the secret
        return f"<AliyunGateway {self.access_key_id} endpoint={self.endpoint or API_HOST}>"

    def _build_client(self) -> Any:
        # Imported here: a process on another backend never loads the Alibaba Cloud SDK.
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi.utils_models import Config

        milliseconds = max(int(self.timeout * 1000), 1)
        return Client(
            Config(
                access_key_id=self.access_key_id,
                access_key_secret=self._access_key_secret,
                endpoint=self.endpoint or API_HOST,
                # plain http only to a local fake (tests, benchmarks)
                protocol="http" if _is_loopback(self.endpoint) else "https",
                region_id="cn-hangzhou",
                read_timeout=milliseconds,
                connect_timeout=milliseconds,
            )
        )

    # -- sending ------------------------------------------------------------------------------

    def send(self, to: str, body: str, *, status_callback: str | None = None) -> SendResult:
        raise PermanentSmsError(
            "Aliyun sends approved templates only: use send_template", code="free_text"
        )

    def send_template(self, to: str, template_key: str, variables: Mapping[str, str]) -> SendResult:
        return self._send_one(aliyun_number(to), variables, self._template_code(template_key))

    def _send_one(self, number: str, variables: Mapping[str, str], code: str) -> SendResult:
        from alibabacloud_dysmsapi20170525 import models

        request = models.SendSmsRequest(
            phone_numbers=number,
            sign_name=self.sign_name,
            template_code=code,
            template_param=json.dumps(_string_values(variables), ensure_ascii=False),
        )
        body = self._call(self.client.send_sms_with_options, request)
        return SendResult(provider_sid=provider_sid(body.biz_id, number), status="sent")

    def send_template_batch(
        self, recipients: Sequence[tuple[str, Mapping[str, str]]], template_key: str
    ) -> list[SendResult | SmsError]:
        """One result per recipient, in order: SendBatchSms per 100 numbers. A number
        Aliyun cannot take fails alone, before the call; when Aliyun still refuses a
        number of a batch, that batch goes text by text so only the bad number fails."""
        try:
            code = self._template_code(template_key)
        except SmsError as error:
            return [error] * len(recipients)
        outcomes: dict[int, SendResult | SmsError] = {}
        sendable: list[_Pending] = []
        for index, (phone, variables) in enumerate(recipients):
            try:
                sendable.append((index, aliyun_number(phone), variables))
            except SmsError as error:
                outcomes[index] = error
        for chunk in _chunks(sendable, BATCH_LIMIT):
            outcomes.update(self._send_chunk(chunk, code, template_key))
        return [outcomes[index] for index in range(len(recipients))]

    def _send_chunk(
        self, chunk: Sequence[_Pending], code: str, template_key: str
    ) -> dict[int, SendResult | SmsError]:
        from alibabacloud_dysmsapi20170525 import models

        request = models.SendBatchSmsRequest(
            phone_number_json=json.dumps([number for _, number, _ in chunk]),
            sign_name_json=json.dumps([self.sign_name] * len(chunk), ensure_ascii=False),
            template_code=code,
            template_param_json=json.dumps(
                [_string_values(variables) for *_, variables in chunk], ensure_ascii=False
            ),
        )
        try:
            body = self._call(self.client.send_batch_sms_with_options, request)
        except SmsError as error:
            if error.code != INVALID_NUMBER or len(chunk) == 1:
                return {index: error for index, *_ in chunk}
            return {index: self._one(number, variables, code) for index, number, variables in chunk}
        return {
            index: SendResult(provider_sid=provider_sid(body.biz_id, number), status="sent")
            for index, number, _ in chunk
        }

    def _one(self, number: str, variables: Mapping[str, str], code: str) -> SendResult | SmsError:
        try:
            return self._send_one(number, variables, code)
        except SmsError as error:
            return error

    def _template_code(self, template_key: str) -> str:
        code = self.template_codes.get(template_key)
        if not code:
            raise ProviderConfigError(
                f"no Aliyun template code for {template_key!r} in SMS_TEMPLATES",
                code="template_unmapped",
            )
        return code

    def _call(self, method: Any, request: Any) -> Any:
        """One API call; Aliyun's answer body when its Code is OK, else our error."""
        from darabonba.exceptions import ResponseException, RetryError, UnretryableException
        from darabonba.runtime import RuntimeOptions

        try:
            # No retry options in the Config: the SDK makes exactly one attempt.
            response = method(request, RuntimeOptions())
        except UnretryableException as exc:  # no usable answer: refused, reset, timed out
            inner = getattr(exc, "inner_exception", None)
            if not isinstance(inner, RetryError):
                raise TransientSmsError(
                    f"Aliyun answered unreadably: {type(inner).__name__}", code="bad_answer"
                ) from None
            if "timed out" in str(inner).lower():
                raise TransientSmsError(
                    f"Aliyun did not answer within {self.timeout}s", code="timeout"
                ) from None
            raise TransientSmsError("Aliyun unreachable", code="connection") from None
        except ResponseException as exc:  # an error answer: HTTP 4xx/5xx with a Code
            code = str(exc.code)
            if code in CONFIG_CODES:
                log.error("aliyun refused our credentials or settings: %s", code)
            raise classify(code, _first_line(exc.message), int(exc.status_code or 0)) from None
        body = response.body
        if body.code != "OK":
            raise classify(str(body.code), str(body.message or ""))
        return body

    # -- pushes ---------------------------------------------------------------------------------

    def parse_push(self, kind: str, payload: Any) -> list[InboundText | DeliveryReport]:
        """One SmsUp ("inbound") or SmsReport ("report") push: a JSON array of items. An
        item without what we need is skipped (and logged) so one bad item does not make
        Aliyun re-push the good ones; a payload that is not an array is a ValueError."""
        parse = {"inbound": self._inbound, "report": self._report}.get(kind)
        if parse is None:
            raise ValueError(f"unknown push kind {kind!r}")
        if not isinstance(payload, list):
            raise ValueError("an Aliyun push is a JSON array")
        parsed: list[InboundText | DeliveryReport] = []
        for position, item in enumerate(payload):
            try:
                parsed.append(parse(item))
            except (KeyError, TypeError, ValueError):
                log.warning("aliyun %s push: item %d malformed, skipped", kind, position)
        return parsed

    def _inbound(self, item: Mapping[str, Any]) -> InboundText:
        return InboundText(
            provider_message_id=str(int(item["sequence_id"])),
            from_phone=e164(item["phone_number"]),
            to=str(item.get("sign_name") or item.get("dest_code") or ""),
            body=str(item["content"]),
            received_at=_beijing_time(item["send_time"]),
        )

    def _report(self, item: Mapping[str, Any]) -> DeliveryReport:
        success = item["success"]
        if not isinstance(success, bool):
            raise TypeError("success is not a boolean")
        err_code = str(item.get("err_code") or "")
        status = "delivered" if success else self.delivery_status(err_code)
        if not success and status in (None, "delivered"):  # failed, whatever the code says
            status = "undelivered"
        return DeliveryReport(
            provider_sid=provider_sid(str(item["biz_id"]), item["phone_number"]),
            to=e164(item["phone_number"]),
            status=status,
            error_code=None if success else (err_code or None),
            reported_at=_beijing_time(item["report_time"]),
        )

    def push_ack(self, kind: str) -> tuple[dict[str, Any], int]:
        return dict(PUSH_ACK), 200

    def delivery_status(self, provider_status: str) -> str | None:
        """A report's ``err_code``: DELIVERED; an Aliyun platform code (isv./isp.): the
        text never left Aliyun; any other code comes from the carrier."""
        word = (provider_status or "").strip()
        if not word:
            return None
        if word.upper() in ("DELIVERED", "DELIVRD"):
            return "delivered"
        if word.startswith(("isv.", "isp.")):
            return "failed"
        return "undelivered"

    def verify_webhook(self, url: str, params: dict[str, str], signature: str | None) -> bool:
        # Aliyun signs nothing: its pushes are believed by the secret in their URL.
        return False


def _is_loopback(endpoint: str | None) -> bool:
    host = (endpoint or "").rpartition(":")[0].strip("[]") or (endpoint or "")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _string_values(variables: Mapping[str, str]) -> dict[str, str]:
    # Aliyun takes string values only (isv.INVALID_JSON_PARAM otherwise).
    return {key: str(value) for key, value in variables.items()}


def _first_line(message: str) -> str:
    # The SDK's message carries the request id and, for a signature mismatch, the
    # server's string to sign: the first line says enough.
    return str(message).splitlines()[0] if message else ""
