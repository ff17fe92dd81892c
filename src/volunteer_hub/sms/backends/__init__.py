"""SMS backends by name, chosen with SMS_BACKEND, and the one the running app uses.

A backend is a factory taking the app config and returning an ``SmsGateway``. A domestic
provider (Aliyun, Tencent Cloud) is added with one module and one line in ``BACKENDS``;
nothing outside ``sms/backends`` has to change. Factories import their provider's library
themselves, so a console-only process never loads ``twilio``. ``current_gateway`` is what
the actors and the webhooks call: the backend SMS_ROUTES picks for a destination number
(every number to SMS_BACKEND by default), each built once per app.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import current_app

from volunteer_hub.sms.gateway import SmsGateway, sign_name

BackendFactory = Callable[[Mapping[str, Any]], SmsGateway]

#: default seconds for one call to the provider; an actor holds a worker thread meanwhile
DEFAULT_TIMEOUT = 10


def _console(config: Mapping[str, Any]) -> SmsGateway:
    from volunteer_hub.sms.backends.console import ConsoleGateway

    return ConsoleGateway()


def _twilio(config: Mapping[str, Any]) -> SmsGateway:
    missing = [key for key in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN") if not config.get(key)]
    if missing:
        raise RuntimeError(
            f"SMS_BACKEND=twilio needs {' and '.join(missing)}; set them, or use "
            "SMS_BACKEND=console for development"
        )
    if not config.get("TWILIO_FROM_NUMBER") and not config.get("TWILIO_MESSAGING_SERVICE_SID"):
        raise RuntimeError(
            "SMS_BACKEND=twilio needs a sender: TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID"
        )
    from volunteer_hub.sms.backends.twilio import TwilioGateway

    return TwilioGateway(
        account_sid=config["TWILIO_ACCOUNT_SID"],
        auth_token=config["TWILIO_AUTH_TOKEN"],
        from_number=config.get("TWILIO_FROM_NUMBER"),
        messaging_service_sid=config.get("TWILIO_MESSAGING_SERVICE_SID"),
        api_base_url=config.get("TWILIO_API_BASE_URL"),
        timeout=float(config.get("SMS_SEND_TIMEOUT") or DEFAULT_TIMEOUT),
    )


def _aliyun(config: Mapping[str, Any]) -> SmsGateway:
    from volunteer_hub.sms.backends.aliyun import aliyun_from_config

    return aliyun_from_config(config)


def _tencent(config: Mapping[str, Any]) -> SmsGateway:
    from volunteer_hub.sms.backends.tencent import gateway_from_config

    return gateway_from_config(config)


BACKENDS: dict[str, BackendFactory] = {
    "console": _console,
    "twilio": _twilio,
    "aliyun": _aliyun,
    "tencent": _tencent,
}


def gateway_for(config: Mapping[str, Any], name: str | None = None) -> SmsGateway:
    """The gateway of backend ``name`` (default: SMS_BACKEND), configured from ``config``;
    RuntimeError when it is unknown or incompletely configured, rather than at the first
    text."""
    name = (name or config.get("SMS_BACKEND") or "console").strip().lower()
    factory = BACKENDS.get(name)
    if factory is None:
        raise RuntimeError(
            f"unknown SMS_BACKEND {name!r}; choose one of: {', '.join(sorted(BACKENDS))}"
        )
    return factory(config)


def parse_routes(text: str | None, default: str) -> list[tuple[str, str]]:
    """SMS_ROUTES ("+86=aliyun,*=twilio") as (number prefix, backend name) pairs, the
    longest prefix first and "*" (everything else) last; without a "*", the rest goes to
    ``default``. RuntimeError on a malformed entry or an unknown backend."""
    routes: dict[str, str] = {"*": default}
    for entry in filter(None, (part.strip() for part in (text or "").split(","))):
        prefix, equals, name = (piece.strip() for piece in entry.partition("="))
        name = name.lower()
        if not equals or not prefix or (prefix != "*" and not prefix.startswith("+")):
            raise RuntimeError(f"SMS_ROUTES: {entry!r} is not like +86=aliyun or *=twilio")
        if name not in BACKENDS:
            raise RuntimeError(f"SMS_ROUTES: unknown backend {name!r} in {entry!r}")
        routes[prefix] = name
    return sorted(routes.items(), key=lambda route: (route[0] == "*", -len(route[0])))


def backend_for(config: Mapping[str, Any], to_phone: str | None) -> str:
    """The backend name that serves ``to_phone`` (E.164) under SMS_ROUTES."""
    default = (config.get("SMS_BACKEND") or "console").strip().lower()
    for prefix, name in parse_routes(config.get("SMS_ROUTES"), default):
        if prefix == "*" or (to_phone or "").startswith(prefix):
            return name
    return default  # unreachable: "*" is always there


def backends_in_use(config: Mapping[str, Any]) -> set[str]:
    """Every backend SMS_BACKEND and SMS_ROUTES send texts through."""
    default = (config.get("SMS_BACKEND") or "console").strip().lower()
    return {name for _, name in parse_routes(config.get("SMS_ROUTES"), default)}


#: the setting naming the account a domestic provider meters our sending by
_ACCOUNT_SETTINGS = {"aliyun": "ALIYUN_ACCESS_KEY_ID", "tencent": "TENCENT_SMS_APP_ID"}


def sender_identity(config: Mapping[str, Any], name: str) -> str:
    """Who backend ``name`` sends as ("-" for nobody in particular): what its send rate is
    counted by, beside its name. Twilio meters a sending number or messaging service;
    Aliyun and Tencent Cloud an account (AccessKey, SdkAppId) and its sign name."""
    if name == "twilio":
        sender = config.get("TWILIO_MESSAGING_SERVICE_SID") or config.get("TWILIO_FROM_NUMBER")
        return str(sender or "-")
    if name in _ACCOUNT_SETTINGS:
        return f"{config.get(_ACCOUNT_SETTINGS[name]) or '-'}:{sign_name(config)}"
    return "-"


def webhook_gateway() -> SmsGateway:
    """The gateway that checks Twilio's webhooks: Twilio's when a route uses it beside a
    domestic default, else SMS_BACKEND's (which refuses them unless it is Twilio)."""
    if "twilio" in backends_in_use(current_app.config):
        return gateway_named("twilio")
    return current_gateway()


def current_gateway(to_phone: str | None = None) -> SmsGateway:
    """The gateway that serves ``to_phone`` (SMS_ROUTES), or SMS_BACKEND's without a
    number; built once per backend per app (never at import time)."""
    return gateway_named(backend_for(current_app.config, to_phone))


def gateway_named(name: str) -> SmsGateway:
    """Backend ``name``'s gateway, built once per app. SMS_BACKEND's is kept in
    ``app.extensions["sms_gateway"]``, where tests put a gateway of their own; the
    others routes name in ``app.extensions["sms_gateways"]``."""
    config, extensions = current_app.config, current_app.extensions
    if name == (config.get("SMS_BACKEND") or "console").strip().lower():
        if "sms_gateway" not in extensions:
            extensions["sms_gateway"] = gateway_for(config)
        return extensions["sms_gateway"]
    others = extensions.setdefault("sms_gateways", {})
    if name not in others:
        others[name] = gateway_for(config, name)
    return others[name]


def push_reader(name: str) -> SmsGateway | None:
    """The backend that reads provider ``name``'s pushes (``parse_push``, ``push_ack``),
    None when it has no pushes. The configured gateway when the provider is in use; else
    one built without credentials, as parsing needs none: reports on texts sent before a
    switch of provider still arrive."""
    if name not in PUSH_PROVIDERS:
        return None
    if name in backends_in_use(current_app.config):
        return gateway_named(name)
    return PUSH_PROVIDERS[name]()


def _aliyun_reader() -> SmsGateway:
    from volunteer_hub.sms.backends.aliyun import AliyunGateway

    return AliyunGateway("-", "-", "-", {})


def _tencent_reader() -> SmsGateway:
    from volunteer_hub.sms.backends.tencent import TencentSmsGateway

    return TencentSmsGateway("-", "-", "-", "-", {})


#: the providers that push replies and reports to /sms/<inbound|status>/<name>/<secret>
PUSH_PROVIDERS: dict[str, Callable[[], SmsGateway]] = {
    "aliyun": _aliyun_reader,
    "tencent": _tencent_reader,
}
