"""The app pointed at a local fake of a mainland provider, for the batch and journey tests.

The fakes stand for the providers (outside our code): the real SDKs reach them over HTTP.
What differs between the two is said once here, so a test is written once for both."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from volunteer_hub.devtools.fake_aliyun import FakeAliyun
from volunteer_hub.devtools.fake_tencent import FakeTencentSms
from volunteer_hub.sms.cli import example_mapping_toml

#: the secret path segment of the push URLs in these tests
PUSH_SECRET = "batch-and-journey-push-secret-0123456789"


@dataclass(frozen=True)
class Provider:
    name: str
    fake_class: type
    #: the field of a recorded text that holds the number (E.164)
    phone_field: str

    def texts_to(self, fake: Any, phone: str) -> list[dict]:
        return [text for text in fake.messages if text[self.phone_field] == phone]

    def keys_sent_to(self, fake: Any, phone: str) -> list[str]:
        """Our template keys of the texts ``phone`` received, in order, read back from the
        provider's template codes of the mapping file these tests use."""
        table = tomllib.loads(example_mapping_toml())[self.name]
        by_code = {
            (entry["id"] if isinstance(entry, dict) else entry): key for key, entry in table.items()
        }
        code_field = "template_code" if self is ALIYUN else "template_id"
        return [by_code[text[code_field]] for text in self.texts_to(fake, phone)]

    def reply_push(self, fake: Any, phone: str, text: str) -> Any:
        """What the provider pushes when ``phone`` texts ``text`` (push it with
        ``fake.push``; pushing it again is the provider's replay)."""
        if self is ALIYUN:
            return [fake.reply_item(phone, text)]
        return fake.reply_payload(phone, text)

    def report_push(self, fake: Any, texts: list[dict]) -> Any:
        """The provider's delivery reports ("delivered") for recorded ``texts``."""
        if self is ALIYUN:
            return [fake.report_item(text) for text in texts]
        return fake.report_payload([text["serial_no"] for text in texts])


def push_url(kind: str, provider: Provider | str, secret: str = PUSH_SECRET) -> str:
    """``kind`` is "inbound" (replies) or "status" (delivery reports); ``provider`` may
    be a name, for a provider these fakes do not stand for."""
    name = provider if isinstance(provider, str) else provider.name
    return f"http://localhost/sms/{kind}/{name}/{secret}"


def mapping_file(tmp_path) -> str:
    """The path of a template mapping (SMS_TEMPLATES) with every template mapped, for
    both providers, written under ``tmp_path``."""
    path = tmp_path / "sms_templates.toml"
    path.write_text(example_mapping_toml(), encoding="utf-8")
    return str(path)


ALIYUN = Provider("aliyun", FakeAliyun, "to")
TENCENT = Provider("tencent", FakeTencentSms, "phone")
PROVIDERS = [ALIYUN, TENCENT]


@contextmanager
def app_on_fake(app, monkeypatch, tmp_path, provider: Provider, **settings) -> Iterator[Any]:
    """Run ``provider``'s fake and point SMS_BACKEND at it (every template mapped, the
    push URLs open under PUSH_SECRET); ``settings`` override the app config. Yields the
    fake; the gateway built meanwhile is closed afterwards."""
    mapping = mapping_file(tmp_path)
    with provider.fake_class() as fake:
        config = {
            **fake.app_config(),
            "SMS_TEMPLATES": mapping,
            "SMS_INBOUND_SECRET": PUSH_SECRET,
            "SMS_ROUTES": None,
            # fast enough that pacing never holds a test up; what pacing does is tested
            # in tests/messaging/test_send_rate.py
            "SMS_RATE_PER_SECOND": 1000,
            **settings,
        }
        for key, value in config.items():
            monkeypatch.setitem(app.config, key, value)
        app.extensions.pop("sms_gateway", None)
        try:
            yield fake
        finally:
            gateway = app.extensions.pop("sms_gateway", None)
            getattr(gateway, "close", lambda: None)()
            app.extensions.pop("sms_gateways", None)


def twilio_beside(app, monkeypatch, fake_twilio, routes: str) -> None:
    """The fake Twilio's settings added to the domestic ones (SMS_BACKEND left as it is),
    and SMS_ROUTES set to ``routes``."""
    for key, value in fake_twilio.app_config().items():
        if key != "SMS_BACKEND":
            monkeypatch.setitem(app.config, key, value)
    monkeypatch.setitem(app.config, "SMS_ROUTES", routes)


def route_abroad_to_twilio(app, monkeypatch, fake_twilio, domestic: str) -> None:
    """SMS_ROUTES: +86 numbers to ``domestic``, the rest to the fake Twilio."""
    twilio_beside(app, monkeypatch, fake_twilio, f"+86={domestic},*=twilio")
