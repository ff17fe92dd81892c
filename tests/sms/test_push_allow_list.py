"""SMS_PUSH_ALLOWED_IPS: the domestic push endpoints take pushes from the listed
addresses only, as the trusted proxies forwarded them (TRUSTED_PROXY_HOPS); any other
address gets the 404 of a wrong secret and changes nothing, logged without the secret."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import func, select

from tests.other_app import other_app
from tests.sms.domestic_fakes import PUSH_SECRET, push_url
from volunteer_hub.config import from_environment, parse_networks
from volunteer_hub.extensions import db
from volunteer_hub.sms.models import InboundSms

PHONE = "+8613800138000"

PROVIDER_NETWORK = "203.0.113.0/24, 2001:db8::/32"


def inbound() -> int:
    return db.session.scalar(select(func.count()).select_from(InboundSms))


def push_from(app, address: str, provider_, *, forwarded_for=None, body="帮助"):
    kind, fake = provider_
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    if forwarded_for is not None:
        client.environ_base["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return fake.push_reply(push_url("inbound", kind.name), PHONE, body, client=client)


@pytest.fixture
def allow_list(app, monkeypatch):
    monkeypatch.setitem(
        app.config, "SMS_PUSH_ALLOWED_IPS", parse_networks("test", PROVIDER_NETWORK)
    )


def test_a_push_from_a_listed_address_is_taken(app, provider, allow_list, make):
    make.person(phone=PHONE)
    assert push_from(app, "203.0.113.9", provider).status_code == 200
    # (Tencent's replies carry no id: the same words within a second would be a replay)
    assert push_from(app, "2001:db8::7", provider, body="我的").status_code == 200
    assert inbound() == 2


def test_a_push_from_elsewhere_is_404_and_logged_without_the_secret(
    app, provider, allow_list, make, caplog
):
    make.person(phone=PHONE)
    with caplog.at_level(logging.WARNING, logger="volunteer_hub.sms.views"):
        response = push_from(app, "198.51.100.7", provider)
    assert response.status_code == 404
    assert inbound() == 0
    assert "198.51.100.7" in caplog.text and "SMS_PUSH_ALLOWED_IPS" in caplog.text
    assert PUSH_SECRET not in caplog.text


def test_a_wrong_secret_from_a_listed_address_is_still_404(app, provider, allow_list):
    kind, fake = provider
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    response = fake.push_reply(
        push_url("inbound", kind.name, "forged"), PHONE, "帮助", client=client
    )
    assert response.status_code == 404 and inbound() == 0


def test_without_trusted_proxies_a_forwarded_address_is_not_believed(
    app, provider, allow_list, make
):
    make.person(phone=PHONE)
    response = push_from(app, "10.0.0.2", provider, forwarded_for="203.0.113.9")
    assert response.status_code == 404


def test_behind_a_trusted_proxy_the_forwarded_address_counts(app, provider, make):
    """An app started with TRUSTED_PROXY_HOPS=1: ProxyFix puts the client the proxy saw
    in REMOTE_ADDR, and that is what the list is checked against."""
    make.person(phone=PHONE)
    networks = parse_networks("test", PROVIDER_NETWORK)
    settings = {"SMS_PUSH_ALLOWED_IPS": networks, "SMS_INBOUND_SECRET": PUSH_SECRET}
    with other_app(app, TRUSTED_PROXY_HOPS=1, **settings) as proxied, proxied.app_context():
        kept = push_from(proxied, "10.0.0.2", provider, forwarded_for="203.0.113.9")
        refused = push_from(
            proxied, "10.0.0.2", provider, forwarded_for="198.51.100.7", body="我的"
        )
    assert (kept.status_code, refused.status_code) == (200, 404)
    assert inbound() == 1


def test_the_list_is_read_as_the_environment_spells_it(app, provider, monkeypatch, make):
    make.person(phone=PHONE)
    monkeypatch.setitem(app.config, "SMS_PUSH_ALLOWED_IPS", "203.0.113.9")
    assert push_from(app, "203.0.113.9", provider).status_code == 200
    assert push_from(app, "203.0.113.10", provider, body="我的").status_code == 404


def test_the_setting_is_checked_at_start(tmp_path):
    config = from_environment(str(tmp_path), {"SMS_PUSH_ALLOWED_IPS": PROVIDER_NETWORK})
    assert [str(n) for n in config["SMS_PUSH_ALLOWED_IPS"]] == ["203.0.113.0/24", "2001:db8::/32"]
    assert from_environment(str(tmp_path), {})["SMS_PUSH_ALLOWED_IPS"] == ()
    with pytest.raises(ValueError, match="SMS_PUSH_ALLOWED_IPS"):
        from_environment(str(tmp_path), {"SMS_PUSH_ALLOWED_IPS": "203.0.113.0/33"})
