"""Tencent Cloud SMS (腾讯云短信), through the real ``tencentcloud-sdk-python-sms``.

A mainland provider sends only approved templates under a registered signature: a text is
our template key plus its variables, sent as Tencent's TemplateId and TemplateParamSet
with SMS_SIGN_NAME as the SignName. Every Tencent detail stays here: the API host
override, error codes, the shapes of its pushes and their answer.

**The template file** (``SMS_TEMPLATES``, TOML; one file serves both domestic providers,
each reads its own table). Tencent numbers a template's variables ``{1}``, ``{2}`` …, so
each entry says which of our variables fills which number:

    [aliyun]
    signup_confirmed = "SMS_123456789"          # Aliyun names its variables: ${title} …

    [tencent]
    # the short form: TemplateId only; the variables go in the order the catalogue
    # declares them (what `flask sms templates` prints as {1}, {2} …)
    signup_cancelled = "1234567"
    # the explicit form, when the approved template numbers them differently
    signup_confirmed = { id = "1234568", params = ["title", "starts", "code"] }

**Errors**: flow control (``LimitExceeded.*``, ``RequestLimitExceeded``), Tencent's own
failures, timeouts and non-200 answers are ``TransientSmsError``; an empty SMS package,
arrears or the account's daily cap is ``ProviderPaused`` (transient, but no text can go
until an operator acts or the cap resets: pause sending and show it on /ops); refused
credentials, SdkAppId, sign name or template code are ``ProviderConfigError``
(permanent); a number on Tencent's do-not-disturb list (the person unsubscribed, 退订) is
``RecipientOptedOut``; an invalid number and anything else is ``PermanentSmsError``.

**Pushes**: a reply (上行短信) arrives as one JSON object, delivery reports (状态报告) as a
JSON array; both expect ``{"result": 0, "errmsg": "OK"}``. Tencent signs neither, so the
URL carries our secret (checked by the view); a reply has no message id, so its id is a digest of its fields (number, second, text, sign, extension): a replayed
push gets the same id, and so would the same words from the same phone within one second.
A report's ``sid`` is the ``SerialNo`` that SendSms answered, our ``provider_sid``.

The backend never retries (the send actor owns retries) and builds its client on first use.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tomllib
from collections import defaultdict, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from ipaddress import ip_address
from typing import Any

from volunteer_hub.sms.backends import DEFAULT_TIMEOUT
from volunteer_hub.sms.gateway import (
    LazyClient,
    PermanentSmsError,
    ProviderConfigError,
    ProviderPaused,
    RecipientOptedOut,
    SendResult,
    SmsError,
    TransientSmsError,
    sign_name,
)
from volunteer_hub.sms.push import DeliveryReport, InboundText

log = logging.getLogger(__name__)

#: SendSms takes at most this many numbers, all with the same template parameters
MAX_NUMBERS_PER_CALL = 200
DEFAULT_REGION = "ap-guangzhou"
#: what Tencent expects back from every push, or it pushes again
PUSH_ACK: dict[str, Any] = {"result": 0, "errmsg": "OK"}
PUSH_KINDS = frozenset({"inbound", "report"})
#: report times are Beijing wall-clock time without an offset
BEIJING = timezone(timedelta(hours=8))

#: report_status → ours. FAIL is the carrier's receipt: it tried and could not deliver.
STATUS_MAP: dict[str, str] = {"SUCCESS": "delivered", "FAIL": "undelivered"}


#: Tencent error codes, first match wins (an entry matches a code it prefixes).
ERROR_CLASSES: tuple[tuple[str, type[SmsError]], ...] = (
    ("FailedOperation.InsufficientBalanceInSmsPackage", ProviderPaused),
    ("UnauthorizedOperation.ServiceSuspendDueToArrears", ProviderPaused),
    # the account's own daily caps (set in the console): nothing goes until tomorrow
    ("LimitExceeded.AppDailyLimit", ProviderPaused),
    ("LimitExceeded.AppMainlandChinaDailyLimit", ProviderPaused),
    ("LimitExceeded.AppGlobalDailyLimit", ProviderPaused),
    ("LimitExceeded.DailyLimit", ProviderPaused),
    # 免打扰名单: usually the person unsubscribed (退订) with the carrier
    ("FailedOperation.PhoneNumberInBlacklist", RecipientOptedOut),
    ("InvalidParameterValue.IncorrectPhoneNumber", PermanentSmsError),
    ("FailedOperation.PhoneNumberParseFail", PermanentSmsError),
    # more than 200 numbers in one call is our mistake, retrying repeats it
    ("LimitExceeded.PhoneNumberCountLimit", PermanentSmsError),
    ("LimitExceeded.AppCountryOrRegionInBlacklist", PermanentSmsError),
    # flow control: per number per 30 s / hour / day, the delivery frequency policy
    ("LimitExceeded", TransientSmsError),
    ("RequestLimitExceeded", TransientSmsError),
    ("InternalError", TransientSmsError),
    ("AuthFailure", ProviderConfigError),
    ("UnauthorizedOperation", ProviderConfigError),
    ("InvalidParameterValue.SdkAppIdNotExist", ProviderConfigError),
    ("FailedOperation.SignatureIncorrectOrUnapproved", ProviderConfigError),
    ("FailedOperation.MissingSignature", ProviderConfigError),
    ("FailedOperation.TemplateIncorrectOrUnapproved", ProviderConfigError),
    ("FailedOperation.TemplateUnapprovedOrNotExist", ProviderConfigError),
    ("FailedOperation.TemplateIdNotExist", ProviderConfigError),
    ("FailedOperation.TemplateParamSetNotMatchApprovedTemplate", ProviderConfigError),
    # the SDK's own words for a failed exchange: no answer, a non-200 answer, a cut body
    ("ClientNetworkError", TransientSmsError),
    ("ServerNetworkError", TransientSmsError),
    ("ConnectionError", TransientSmsError),
    ("ChunkedEncodingError", TransientSmsError),
    ("JSONDecodeError", TransientSmsError),
)

#: the account's own daily caps: Tencent lifts them at midnight, Beijing time
DAILY_LIMITS = frozenset({
    "LimitExceeded.AppDailyLimit",
    "LimitExceeded.AppMainlandChinaDailyLimit",
    "LimitExceeded.AppGlobalDailyLimit",
    "LimitExceeded.DailyLimit",
})  # fmt: skip

# Error texts end up in logs and outbox rows, where phone numbers must not be.
_DIGIT_RUN = re.compile(r"\+?\d[\d\s-]{5,}\d")


def classify(code: str, message: str) -> SmsError:
    """The error a Tencent code means for the caller, its message without numbers."""
    error_class: type[SmsError] = PermanentSmsError
    for prefix, candidate in ERROR_CLASSES:
        if code == prefix or code.startswith(prefix + "."):
            error_class = candidate
            break
    # A non-200 answer's "message" is the whole page a proxy sent: its start is enough.
    text = _DIGIT_RUN.sub("[number]", f"Tencent Cloud SMS error {code}: {message[:200]}")
    if code == "ClientNetworkError":
        # The SDK wraps every requests failure alike; a timeout deserves its own code.
        code = "timeout" if "timed out" in message.lower() else "connection"
    if error_class is ProviderConfigError:
        log.error("tencent sms refused our configuration: %s", code)
    if error_class is ProviderPaused:
        return ProviderPaused(text, code=code, resets="day" if code in DAILY_LIMITS else None)
    return error_class(text, code=code)


# -- the template file --------------------------------------------------------------------


@dataclass(frozen=True)
class TencentTemplate:
    #: Tencent's TemplateId
    id: str
    #: our variable names for {1}, {2} …; None: the order the caller's mapping has
    params: tuple[str, ...] | None = None

    def param_set(self, variables: Mapping[str, str]) -> list[str]:
        if self.params is None:
            return [str(value) for value in variables.values()]
        missing = [name for name in self.params if name not in variables]
        if missing:
            raise ProviderConfigError(
                f"template {self.id} needs variables {', '.join(missing)}", code="template_params"
            )
        return [str(variables[name]) for name in self.params]


def parse_templates(table: Mapping[str, Any]) -> dict[str, TencentTemplate]:
    """The ``[tencent]`` table of the template file; ValueError on a malformed entry."""
    templates: dict[str, TencentTemplate] = {}
    for key, entry in table.items():
        if isinstance(entry, str | int) and str(entry).strip():
            templates[key] = TencentTemplate(str(entry).strip())
            continue
        if isinstance(entry, Mapping) and str(entry.get("id", "")).strip():
            params = entry.get("params")
            if params is not None and not (
                isinstance(params, list) and all(isinstance(name, str) for name in params)
            ):
                raise ValueError(f"[tencent] {key}: params must be a list of variable names")
            templates[key] = TencentTemplate(
                str(entry["id"]).strip(), tuple(params) if params is not None else None
            )
            continue
        raise ValueError(f'[tencent] {key}: expected "TemplateId" or {{ id = "…", params = […] }}')
    return templates


def load_templates(path: str) -> dict[str, TencentTemplate]:
    with open(path, "rb") as file:
        table = tomllib.load(file).get("tencent")
    if not isinstance(table, Mapping) or not table:
        raise ValueError(f"{path} has no [tencent] table of template codes")
    return parse_templates(table)


def endpoint_profile(endpoint: str | None, timeout: float) -> Any:
    """The SDK's HttpProfile: Tencent's own host over https, or ``TENCENT_SMS_ENDPOINT``
    (``host:port``, plain http when the host is a loopback address: a local fake in tests
    and benchmarks)."""
    from tencentcloud.common.profile.http_profile import HttpProfile

    profile = HttpProfile(reqTimeout=timeout)
    if not endpoint:
        return profile
    scheme, _, rest = endpoint.rpartition("://")
    host = rest.rstrip("/")
    hostname = host.rsplit(":", 1)[0].strip("[]")
    if not scheme:
        try:
            scheme = "http" if ip_address(hostname).is_loopback else "https"
        except ValueError:
            scheme = "http" if hostname == "localhost" else "https"
    profile.endpoint = host
    profile.scheme = profile.protocol = scheme
    return profile


# -- the gateway ---------------------------------------------------------------------------


class TencentSmsGateway(LazyClient):
    """Sends approved templates through Tencent Cloud SMS and reads its pushes."""

    name = "tencent"
    #: numbers one SendSms call takes (they share one parameter set)
    batch_limit = MAX_NUMBERS_PER_CALL

    def __init__(
        self,
        secret_id: str,
        secret_key: str,
        sdk_app_id: str,
        sign_name: str,
        templates: Mapping[str, TencentTemplate],
        *,
        endpoint: str | None = None,
        region: str = DEFAULT_REGION,
        timeout: float = DEFAULT_TIMEOUT,
    ):
        if not secret_id or not secret_key or not sdk_app_id:
            raise ValueError("Tencent Cloud SMS needs a SecretId, a SecretKey and an SdkAppId")
        if not sign_name:
            raise ValueError("Tencent Cloud SMS needs the registered sign name")
        super().__init__(timeout)
        self.secret_id = secret_id
        self._secret_key = secret_key
        self.sdk_app_id = str(sdk_app_id)
        self.sign_name = sign_name
        self.templates = dict(templates)
        self.endpoint = endpoint
        self.region = region

    def __repr__(self) -> str:  # never the key
        return f"<TencentSmsGateway {self.sdk_app_id} endpoint={self.endpoint or 'tencent'}>"

    def _build_client(self) -> Any:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.sms.v20210111.sms_client import SmsClient

        profile = ClientProfile(httpProfile=endpoint_profile(self.endpoint, self.timeout))
        return SmsClient(
            credential.Credential(self.secret_id, self._secret_key), self.region, profile
        )

    def _release(self, client: Any) -> None:
        client.request.conn._session.close()

    # -- sending ---------------------------------------------------------------------------

    def template(self, template_key: str) -> TencentTemplate:
        try:
            return self.templates[template_key]
        except KeyError:
            raise ProviderConfigError(
                f"SMS_TEMPLATES has no Tencent template for {template_key!r}",
                code="template_unmapped",
            ) from None

    def send_template(self, to: str, template_key: str, variables: Mapping[str, str]) -> SendResult:
        template = self.template(template_key)
        [outcome] = self._send_sms([to], template.id, template.param_set(variables))
        if isinstance(outcome, SmsError):
            raise outcome
        return outcome

    def send_template_batch(
        self, recipients: Sequence[tuple[str, Mapping[str, str]]], template_key: str
    ) -> list[SendResult | SmsError]:
        """One outcome per recipient, in order. One SendSms call carries one parameter set,
        so recipients are grouped by their variables, up to 200 numbers a call."""
        outcomes: list[SendResult | SmsError | None] = [None] * len(recipients)
        try:
            template = self.template(template_key)
        except SmsError as exc:
            return [exc] * len(recipients)
        groups: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for index, (_, variables) in enumerate(recipients):
            try:
                groups[tuple(template.param_set(variables))].append(index)
            except SmsError as exc:
                outcomes[index] = exc
        for params, indexes in groups.items():
            for start in range(0, len(indexes), MAX_NUMBERS_PER_CALL):
                chunk = indexes[start : start + MAX_NUMBERS_PER_CALL]
                numbers = [recipients[index][0] for index in chunk]
                for index, outcome in zip(
                    chunk, self._send_sms(numbers, template.id, list(params)), strict=True
                ):
                    outcomes[index] = outcome
        return outcomes  # type: ignore[return-value]  # every index is filled above

    def _send_sms(
        self, numbers: list[str], template_id: str, params: list[str]
    ) -> list[SendResult | SmsError]:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )
        from tencentcloud.sms.v20210111 import models

        request = models.SendSmsRequest()
        request.PhoneNumberSet = numbers
        request.SmsSdkAppId = self.sdk_app_id
        request.TemplateId = template_id
        request.SignName = self.sign_name
        request.TemplateParamSet = params
        try:
            response = self.client.SendSms(request)
        except TencentCloudSDKException as exc:
            error = classify(str(exc.code or "ClientError"), str(exc.message or ""))
            return [error] * len(numbers)
        return _match_statuses(numbers, response.SendStatusSet or [])

    def send(self, to: str, body: str, *, status_callback: str | None = None) -> SendResult:
        """Free text cannot reach a mainland phone: Tencent sends approved templates only."""
        raise PermanentSmsError(
            "Tencent Cloud SMS sends approved templates only; use send_template",
            code="free_text",
        )

    def verify_webhook(self, url: str, params: dict[str, str], signature: str | None) -> bool:
        # Tencent signs nothing it pushes: the push URL's secret is the only proof.
        return False

    # -- pushes ------------------------------------------------------------------------------

    def delivery_status(self, provider_status: str) -> str | None:
        return STATUS_MAP.get((provider_status or "").strip().upper())

    def parse_push(self, kind: str, payload: Any) -> list[InboundText | DeliveryReport]:
        """A reply push (one object) or a report push (an array) in our words. ValueError
        when it is not shaped like a Tencent push; an entry missing what we need is
        skipped and logged, so one bad entry does not make Tencent push the rest again."""
        if kind not in PUSH_KINDS:
            raise ValueError(f"unknown push kind {kind!r}")
        if isinstance(payload, Mapping):
            entries: list[Any] = [payload]
        elif isinstance(payload, list):
            entries = payload
        else:
            raise ValueError(f"a Tencent {kind} push is a JSON object or array")
        parse = _inbound_text if kind == "inbound" else self._delivery_report
        parsed: list[InboundText | DeliveryReport] = []
        for entry in entries:
            item = parse(entry) if isinstance(entry, Mapping) else None
            if item is None:
                log.warning("tencent %s push: skipped an entry without the fields we need", kind)
            else:
                parsed.append(item)
        return parsed

    def push_ack(self, kind: str) -> tuple[dict[str, Any], int]:
        return dict(PUSH_ACK), 200

    def _delivery_report(self, entry: Mapping[str, Any]) -> DeliveryReport | None:
        sid = str(entry.get("sid") or "").strip()
        status = self.delivery_status(str(entry.get("report_status") or ""))
        to = _e164(entry)
        if not sid or status is None or to is None:
            return None
        return DeliveryReport(
            provider_sid=sid,
            to=to,
            status=status,
            error_code=None if status == "delivered" else str(entry.get("errmsg") or "") or None,
            reported_at=_beijing_time(entry.get("user_receive_time")),
        )


def _match_statuses(numbers: list[str], statuses: list[Any]) -> list[SendResult | SmsError]:
    """Each number's SendStatus: Tencent answers one per number, matched by the number."""
    by_number: dict[str, deque[Any]] = defaultdict(deque)
    for status in statuses:
        by_number[str(status.PhoneNumber)].append(status)
    outcomes: list[SendResult | SmsError] = []
    for number in numbers:
        if not by_number[number]:
            # Sent or not, we cannot tell: never risk a second copy of the text.
            outcomes.append(
                PermanentSmsError("Tencent returned no status for a number", code="no_status")
            )
            continue
        status = by_number[number].popleft()
        if status.Code == "Ok":
            outcomes.append(
                SendResult(
                    provider_sid=str(status.SerialNo), status="sent", segments=status.Fee or None
                )
            )
        else:
            outcomes.append(classify(str(status.Code), str(status.Message or "")))
    return outcomes


def _e164(entry: Mapping[str, Any]) -> str | None:
    mobile = "".join(ch for ch in str(entry.get("mobile") or "") if ch.isdigit())
    if not mobile:
        return None
    if str(entry.get("mobile", "")).startswith("+"):
        return "+" + mobile
    nationcode = "".join(ch for ch in str(entry.get("nationcode") or "86") if ch.isdigit())
    return f"+{nationcode or '86'}{mobile}"


def _inbound_text(entry: Mapping[str, Any]) -> InboundText | None:
    from_phone = _e164(entry)
    text = entry.get("text")
    if from_phone is None or not isinstance(text, str):
        return None
    try:
        received_at = datetime.fromtimestamp(int(entry["time"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError):
        received_at = datetime.now(UTC)
    # A reply has no id of its own: the digest of what Tencent sent is the same on a replay.
    fields = [entry.get(name) for name in ("nationcode", "mobile", "time", "sign", "extend")]
    digest = hashlib.sha256(json.dumps([*fields, text], ensure_ascii=False).encode()).hexdigest()
    sign, extend = str(entry.get("sign") or ""), str(entry.get("extend") or "")
    return InboundText(
        provider_message_id=f"tencent-{digest[:32]}",
        from_phone=from_phone,
        to=sign or extend,
        body=text,
        received_at=received_at,
    )


def _beijing_time(value: Any) -> datetime:
    try:
        local = datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return datetime.now(UTC)
    return local.replace(tzinfo=BEIJING).astimezone(UTC)


# -- from the app's settings -------------------------------------------------------------------


def gateway_from_config(config: Mapping[str, Any]) -> TencentSmsGateway:
    """The backend SMS_BACKEND=tencent names; RuntimeError at startup when incomplete."""
    required = (
        "TENCENTCLOUD_SECRET_ID",
        "TENCENTCLOUD_SECRET_KEY",
        "TENCENT_SMS_APP_ID",
        "SMS_TEMPLATES",
    )
    missing = [key for key in required if not config.get(key)]
    if missing:
        raise RuntimeError(f"SMS_BACKEND=tencent needs {', '.join(missing)}")
    try:
        templates = load_templates(config["SMS_TEMPLATES"])
    except (OSError, ValueError) as exc:  # tomllib.TOMLDecodeError is a ValueError
        raise RuntimeError(f"SMS_TEMPLATES: {exc}") from None
    return TencentSmsGateway(
        config["TENCENTCLOUD_SECRET_ID"],
        config["TENCENTCLOUD_SECRET_KEY"],
        config["TENCENT_SMS_APP_ID"],
        sign_name(config),
        templates,
        endpoint=config.get("TENCENT_SMS_ENDPOINT"),
        region=config.get("TENCENT_SMS_REGION") or DEFAULT_REGION,
        timeout=float(config.get("SMS_SEND_TIMEOUT") or DEFAULT_TIMEOUT),
    )
