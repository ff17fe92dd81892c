"""TRUSTED_PROXY_HOPS: behind that many reverse proxies, rate limits and request logs go
by the client's real address (X-Forwarded-For as the proxies set it); with none, the
header is anyone's to send and is ignored."""

from __future__ import annotations

import logging

import pytest

from tests.other_app import other_app
from volunteer_hub.config import from_environment

#: LOGIN_CODE_IP_RATE_LIMIT's default: 20 code requests per client address per hour
BUDGET = 20


def ask_for_code(client, n: int, forwarded_for: str | None = None, remote="10.0.0.2"):
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return client.post(
        "/me/login",
        data={"phone": f"+86137{n:08d}"},  # numbers nobody has: no text, same answer
        headers=headers,
        environ_base={"REMOTE_ADDR": remote},
    )


def test_behind_one_proxy_each_client_has_its_own_budget(app, caplog):
    caplog.set_level(logging.INFO, logger="volunteer_hub.requests")
    with other_app(app, TRUSTED_PROXY_HOPS=1) as behind_proxy:
        client = behind_proxy.test_client()
        # 25 people at once, all arriving through the one proxy at 10.0.0.2
        statuses = [
            ask_for_code(client, n, forwarded_for=f"198.51.100.{n}").status_code
            for n in range(1, 26)
        ]
        # One of them at it again and again still meets the limit: it is theirs alone.
        again = [
            ask_for_code(client, 100 + n, forwarded_for="198.51.100.1").status_code
            for n in range(BUDGET)
        ]
        # Whatever a client puts in front of the proxy's entry is not believed.
        forged = ask_for_code(client, 200, forwarded_for="203.0.113.9, 198.51.100.1")

    assert statuses == [302] * 25
    assert again == [302] * (BUDGET - 1) + [429]
    assert forged.status_code == 429
    clients = [
        r.getMessage().rsplit("client=", 1)[1]
        for r in caplog.records
        if r.name == "volunteer_hub.requests"
    ]
    assert clients[:3] == ["198.51.100.1", "198.51.100.2", "198.51.100.3"]
    assert clients[-1] == "198.51.100.1"
    assert "10.0.0.2" not in clients


def test_two_proxies_take_the_address_the_outer_one_saw(app, caplog):
    caplog.set_level(logging.INFO, logger="volunteer_hub.requests")
    with other_app(app, TRUSTED_PROXY_HOPS=2) as behind_two:
        client = behind_two.test_client()
        # client forged 203.0.113.9; the outer proxy saw 198.51.100.7; the inner one 10.0.0.1
        ask_for_code(client, 1, forwarded_for="203.0.113.9, 198.51.100.7, 10.0.0.1")

    [line] = [r.getMessage() for r in caplog.records if r.name == "volunteer_hub.requests"]
    assert line.endswith("client=198.51.100.7")


def test_without_a_trusted_proxy_a_forged_header_does_not_reset_the_budget(client, caplog):
    caplog.set_level(logging.INFO, logger="volunteer_hub.requests")
    statuses = [
        ask_for_code(client, n, forwarded_for=f"198.51.100.{n}", remote="192.0.2.50").status_code
        for n in range(1, BUDGET + 2)
    ]

    assert statuses == [302] * BUDGET + [429]
    logged = [r.getMessage() for r in caplog.records if r.name == "volunteer_hub.requests"]
    assert all(line.endswith("client=192.0.2.50") for line in logged)


def test_the_setting_is_a_whole_number_that_defaults_to_none(tmp_path):
    assert from_environment(str(tmp_path), {})["TRUSTED_PROXY_HOPS"] == 0
    assert from_environment(str(tmp_path), {"TRUSTED_PROXY_HOPS": "2"})["TRUSTED_PROXY_HOPS"] == 2
    for wrong in ("-1", "one"):
        with pytest.raises(ValueError, match="TRUSTED_PROXY_HOPS"):
            from_environment(str(tmp_path), {"TRUSTED_PROXY_HOPS": wrong})
