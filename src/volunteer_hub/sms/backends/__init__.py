"""SMS backends by name, chosen with SMS_BACKEND, and the one the running app uses.

A backend is a factory taking the app config and returning an ``SmsGateway``. A domestic
provider (Aliyun, Tencent Cloud) is added with one module and one line in ``BACKENDS``;
nothing outside ``sms/backends`` has to change. Factories import their provider's library
themselves, so a console-only process never loads ``twilio``. ``current_gateway`` is what
the actors and the webhooks call: the configured backend, built once per app.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import current_app

from volunteer_hub.sms.gateway import SmsGateway

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


def gateway_for(config: Mapping[str, Any]) -> SmsGateway:
    """The gateway SMS_BACKEND names, configured from ``config``; RuntimeError at startup
    when it is unknown or incompletely configured, rather than at the first text."""
    name = (config.get("SMS_BACKEND") or "console").strip().lower()
    factory = BACKENDS.get(name)
    if factory is None:
        raise RuntimeError(
            f"unknown SMS_BACKEND {name!r}; choose one of: {', '.join(sorted(BACKENDS))}"
        )
    return factory(config)


def current_gateway() -> SmsGateway:
    """The configured provider backend, built once per app (never at import time).

    Kept in ``app.extensions["sms_gateway"]``, where tests put a gateway of their own."""
    extensions = current_app.extensions
    if "sms_gateway" not in extensions:
        extensions["sms_gateway"] = gateway_for(current_app.config)
    return extensions["sms_gateway"]
