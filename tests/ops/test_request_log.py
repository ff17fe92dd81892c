"""One log line per request, with its id, and nothing personal in it."""

from __future__ import annotations

import logging
import re

import pytest

from tests.conftest import login

LINE = re.compile(
    r"request_id=(?P<id>\S+) method=(?P<method>\S+) path=(?P<path>\S+) "
    r"status=(?P<status>\d{3}) duration_ms=(?P<ms>\d+\.\d) client=(?P<client>\S+)$"
)


@pytest.fixture
def request_lines(caplog):
    caplog.set_level(logging.INFO, logger="volunteer_hub.requests")

    def lines() -> list[re.Match]:
        records = [r for r in caplog.records if r.name == "volunteer_hub.requests"]
        matches = [LINE.match(r.getMessage()) for r in records]
        assert all(matches), [r.getMessage() for r in records]
        return matches

    return lines


def test_one_line_per_request_with_the_id_sent_back(client, request_lines):
    response = client.get("/healthz")

    [line] = request_lines()
    assert (line["method"], line["path"], line["status"]) == ("GET", "/healthz", "200")
    assert float(line["ms"]) >= 0
    assert response.headers["X-Request-ID"] == line["id"]
    assert re.fullmatch(r"[0-9a-f]{32}", line["id"])


def test_a_proxys_request_id_is_kept_and_a_strange_one_replaced(client, request_lines):
    kept = client.get("/healthz", headers={"X-Request-ID": "edge-7f3a9c21-0001"})
    replaced = client.get("/healthz", headers={"X-Request-ID": "a b\u4e2d<script>"})

    first, second = request_lines()
    assert kept.headers["X-Request-ID"] == first["id"] == "edge-7f3a9c21-0001"
    assert replaced.headers["X-Request-ID"] == second["id"] != "a b\u4e2d<script>"
    assert replaced.headers.getlist("X-Request-ID") == [second["id"]]


def test_no_tokens_phone_numbers_or_names_in_the_line(client, make, request_lines, caplog):
    person = make.admin(name="张建国")
    login(client, person)
    client.get("/feeds/s3cr3t-t0ken-value.ics?lang=en")
    client.get(f"/dev/sms?phone={person.phone}")
    client.get("/13800138000")

    logged = "\n".join(line.string for line in request_lines())
    assert "/feeds/[token].ics" in logged
    assert "path=/[number]" in logged
    assert "s3cr3t" not in logged
    assert person.phone.removeprefix("+86") not in logged
    assert "13800138000" not in logged
    assert "张建国" not in logged
    assert "POST" in logged  # the login, its form not logged


def test_the_sms_push_secret_is_not_logged_anywhere(app, client, request_lines, caplog):
    """The domestic providers' push URLs carry the only check of a push in their path."""
    app.config["SMS_INBOUND_SECRET"] = "pushSecretAbcDEF123xyz"
    caplog.set_level(logging.INFO)
    client.post("/sms/inbound/aliyun/pushSecretAbcDEF123xyz", json=[])
    client.post("/sms/status/tencent/wrongGuessSecret999", json=[])
    logging.getLogger("gunicorn.access").info('"POST %s HTTP/1.1" 200', "/sms/status/aliyun/abc")

    [pushed, guessed] = request_lines()
    assert pushed["path"] == "/sms/inbound/aliyun/[secret]"
    assert guessed["path"] == "/sms/status/tencent/[secret]"
    everything = "\n".join(record.getMessage() for record in caplog.records)
    assert "pushSecret" not in everything and "wrongGuess" not in everything
    assert '"POST /sms/status/aliyun/[secret] HTTP/1.1" 200' in everything


def test_requests_ended_early_and_api_errors_are_logged_too(client, request_lines):
    client.get("/teams/99999999999")  # refused before any view runs
    client.get("/api/v1/events")  # no token

    statuses = [(line["path"], line["status"]) for line in request_lines()]
    assert statuses == [("/teams/[number]", "404"), ("/api/v1/events", "401")]
