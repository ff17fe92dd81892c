"""The feed URL: tokens, stored bytes, validators, 304, HEAD, revocation, logs."""

# ruff: noqa: F811  (pytest fixtures imported from feeds_support are parameters here)

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest
from sqlalchemy import event, select
from werkzeug.serving import make_server

from tests.calendar.feeds_support import World, feed_url, fetch, issue, uids, world  # noqa: F401
from tests.conftest import login
from volunteer_hub import PROJECT_ROOT
from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.calendar import services
from volunteer_hub.calendar.body_cache import EXTENSION_KEY as FEED_BODIES
from volunteer_hub.calendar.body_cache import FeedBodyCache
from volunteer_hub.calendar.models import Feed
from volunteer_hub.config import from_environment
from volunteer_hub.extensions import db


@pytest.fixture
def team_feed(world: World, make):
    make.event(world.team_a, shifts=2, title="护苗护学")
    return issue(world.leader_a, "team", world.team_a.id)


def test_token_has_at_least_128_bits_and_only_its_hash_is_stored(world: World):
    issued = services.create_feed("team", world.team_a.id, (), viewer_for(world.leader_a))
    db.session.commit()
    token = issued.token
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert len(raw) * 8 >= 128
    row = db.session.execute(select(Feed.__table__)).mappings().one()
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert not any(token in str(value) for value in row.values())
    other = services.create_feed("team", world.team_a.id, (), viewer_for(world.leader_a))
    assert other.token != token


def test_serves_the_stored_bytes_with_validators(client, team_feed):
    feed_id, token = team_feed
    first = fetch(client, token)
    assert first.status_code == 200
    assert first.headers["Content-Type"] == "text/calendar; charset=utf-8"
    etag = first.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert etag.strip('"') == hashlib.sha256(first.data).hexdigest()
    assert first.headers["Last-Modified"]
    cache = first.headers["Cache-Control"]
    assert "private" in cache and "max-age=" in cache
    assert first.data.startswith(b"BEGIN:VCALENDAR\r\n")
    db.session.rollback()
    assert db.session.scalar(select(Feed.body).where(Feed.id == feed_id)) == first.data

    again = fetch(client, token)
    assert again.data == first.data
    assert again.headers["ETag"] == etag
    assert again.headers["Last-Modified"] == first.headers["Last-Modified"]


def test_if_none_match_gives_304_and_head_no_body(client, team_feed):
    _feed_id, token = team_feed
    first = fetch(client, token)
    etag = first.headers["ETag"]

    not_modified = fetch(client, token, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.data == b""
    assert not_modified.headers["ETag"] == etag

    since = fetch(client, token, headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304

    changed = fetch(client, token, headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200
    assert changed.data == first.data

    # A proxy that compresses the feed passes our tag on as weak; it still matches.
    weak = fetch(client, token, headers={"If-None-Match": f"W/{etag}"})
    assert weak.status_code == 304
    listed = fetch(client, token, headers={"If-None-Match": f'"other", W/{etag}'})
    assert listed.status_code == 304

    head = client.head(feed_url(token))
    assert head.status_code == 200
    assert head.data == b""
    assert int(head.headers["Content-Length"]) == len(first.data)
    assert head.headers["ETag"] == etag


def _feed_reads(requests) -> list[tuple[str, int | None]]:
    """The statements on the feed table while the requests run, each with the format its
    body column came back in on PostgreSQL (0 text, 1 binary; None on SQLite)."""
    seen: list[tuple[str, int | None]] = []

    def record(_conn, cursor, statement, _parameters, _context, _executemany):
        result = getattr(cursor, "pgresult", None)  # psycopg's; SQLite has none
        if "FROM feed" in statement:
            seen.append((statement, result.fformat(2) if result is not None else None))

    event.listen(db.engine, "after_cursor_execute", record)
    try:
        for request in requests:
            response = request()
            assert response.status_code in (200, 304)
    finally:
        event.remove(db.engine, "after_cursor_execute", record)
    return seen


def test_the_body_is_read_once_in_binary_format_then_kept_by_its_etag(app, client, team_feed):
    """The lookup reads the row without the body; the body is read (on PostgreSQL in
    binary format, not hex-encoded text twice its size) only when a GET needs it and this
    process does not hold it yet. A 304 and a HEAD never read it."""
    feed_id, token = team_feed
    services.rebuild_feed(feed_id)  # as a worker would have
    db.session.commit()
    full = lambda: fetch(client, token)  # noqa: E731
    reads = _feed_reads([full, full, full])
    etag = fetch(client, token).headers["ETag"]
    reads += _feed_reads(
        [
            lambda: fetch(client, token, headers={"If-None-Match": etag}),
            lambda: client.head(feed_url(token)),
        ],
    )

    lookups = [(sql, fmt) for sql, fmt in reads if "length(feed.body)" in sql]
    body_reads = [
        (sql, fmt)
        for sql, fmt in reads
        if "length(" not in sql and re.search(r"\bfeed\.body\b", sql)
    ]
    assert len(lookups) == 5 and len(body_reads) == 1  # the first GET only
    if db.engine.dialect.name == "postgresql":
        assert body_reads[0][1] == 1  # binary
    assert app.extensions[FEED_BODIES].size == len(fetch(client, token).data)


def test_without_a_body_cache_every_full_get_reads_the_body(app, client, team_feed):
    feed_id, token = team_feed
    services.rebuild_feed(feed_id)
    db.session.commit()
    app.extensions[FEED_BODIES] = FeedBodyCache(0)
    full = lambda: fetch(client, token)  # noqa: E731
    reads = _feed_reads([full, full])
    assert sum("length(" not in sql for sql, _fmt in reads) == 2
    assert app.extensions[FEED_BODIES].size == 0


def test_the_body_cache_size_comes_from_the_environment(tmp_path):
    assert from_environment(str(tmp_path), {})["FEED_BODY_CACHE_BYTES"] == 64 * 2**20
    assert (
        from_environment(str(tmp_path), {"FEED_BODY_CACHE_MB": "0"})["FEED_BODY_CACHE_BYTES"] == 0
    )
    assert (
        from_environment(str(tmp_path), {"FEED_BODY_CACHE_MB": "0.5"})["FEED_BODY_CACHE_BYTES"]
        == 2**19
    )


def test_the_body_cache_keeps_the_most_recent_bodies_within_its_bytes():
    cache = FeedBodyCache(10)
    cache.put("a", b"aaaa")
    cache.put("b", b"bbbb")
    assert cache.get("a") == b"aaaa"  # now b is the least recently used
    cache.put("c", b"cccc")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (b"aaaa", None, b"cccc")
    assert cache.size == 8
    cache.put("huge", b"x" * 11)
    assert cache.get("huge") is None and cache.size == 8


def test_a_rebuild_without_change_keeps_bytes_etag_and_last_modified(client, team_feed):
    feed_id, token = team_feed
    first = fetch(client, token)
    db.session.rollback()
    changed_at = db.session.get(Feed, feed_id).body_changed_at
    for _ in range(2):
        result = services.rebuild_feed(feed_id)
        db.session.commit()
        assert result.changed is False
    again = fetch(client, token)
    assert again.data == first.data
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Last-Modified"] == first.headers["Last-Modified"]
    db.session.rollback()
    assert db.session.get(Feed, feed_id).body_changed_at == changed_at


def test_a_feed_never_built_is_built_on_the_request_and_stored(client, team_feed):
    feed_id, token = team_feed
    db.session.rollback()
    assert db.session.get(Feed, feed_id).etag is None  # no worker ran
    response = fetch(client, token)
    assert response.status_code == 200
    assert any(uid.startswith("event-") for uid in uids(response.data))
    db.session.rollback()
    stored = db.session.get(Feed, feed_id)
    assert stored.body == response.data
    assert stored.etag == response.headers["ETag"].strip('"')


def test_wrong_and_revoked_tokens_are_404_with_the_same_work(
    client, world, team_feed, count_queries
):
    feed_id, token = team_feed
    assert fetch(client, token).status_code == 200
    login(client, world.leader_a)
    assert client.post(f"/calendar/{feed_id}/revoke").status_code == 302
    client.post("/logout")

    with count_queries() as revoked:
        assert fetch(client, token).status_code == 404
    with count_queries() as unknown:
        assert fetch(client, "x" * len(token)).status_code == 404
    assert revoked.count == unknown.count == 1
    assert revoked.statements == unknown.statements
    # HEAD and a conditional GET look the row up without its body: the same for both too.
    for method, headers in (("HEAD", {}), ("GET", {"If-None-Match": '"a-stale-etag"'})):
        with count_queries() as revoked:
            assert client.open(feed_url(token), method=method, headers=headers).status_code == 404
        with count_queries() as unknown:
            response = client.open(feed_url("y" * len(token)), method=method, headers=headers)
            assert response.status_code == 404
        assert revoked.count == unknown.count == 1, method
        assert revoked.statements == unknown.statements, method


def test_reissue_old_url_404_new_url_200(client, world, team_feed):
    feed_id, token = team_feed
    body = fetch(client, token).data
    login(client, world.leader_a)
    page = client.post(f"/calendar/{feed_id}/reissue")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    new_token = html.split("/feeds/", 1)[1].split(".ics", 1)[0]
    assert new_token != token
    assert fetch(client, token).status_code == 404
    renewed = fetch(client, new_token)
    assert renewed.status_code == 200
    assert renewed.data == body


def test_tokens_never_reach_the_request_log(app, world, team_feed, caplog):
    """A real werkzeug server, as `flask run` serves; its access log must not show it."""
    _feed_id, token = team_feed
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        base_url = f"http://127.0.0.1:{server.server_port}"
        with caplog.at_level(logging.INFO), httpx.Client(base_url=base_url) as http:
            assert http.get(feed_url(token)).status_code == 200
            assert http.get(feed_url("no-such-token")).status_code == 404
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
    # httpx, the client here, logs its own URLs: only the server's records count
    lines = [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")]
    access = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    access = [line for line in access if "/feeds/" in line]
    assert len(access) == 2, lines
    assert all("/feeds/[token].ics" in line for line in access)
    assert not any(token in line or "no-such-token" in line for line in lines)


def test_tokens_never_reach_gunicorns_access_log(tmp_path, database_url, redis_url, team_feed):
    """gunicorn as production runs it, with its default access log format."""
    _feed_id, token = team_feed
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    access_log = tmp_path / "access.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "INSTANCE_PATH": str(tmp_path),
        "EMBEDDED_WORKER": "0",
        "PUBLIC_BASE_URL": "http://localhost",
    }
    if redis_url:
        env["REDIS_URL"] = redis_url
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--access-logfile",
            str(access_log),
            "wsgi:app",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        # A generous read timeout: a request that timed out and was sent again would be
        # logged twice (the first worker boot is slow on a loaded machine).
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            deadline = time.monotonic() + 30
            while True:  # until gunicorn accepts connections
                try:
                    response = http.get(feed_url(token))
                    break
                except httpx.ConnectError:
                    assert server.poll() is None, server.stderr.read().decode()
                    assert time.monotonic() < deadline, "gunicorn did not start"
                    time.sleep(0.1)
            assert response.status_code == 200
            assert http.get(feed_url("no-such-token")).status_code == 404
    finally:
        server.terminate()
        _out, errors = server.communicate(timeout=30)
    logged = access_log.read_text() + errors.decode()
    assert access_log.read_text().count("/feeds/[token].ics") == 2, logged
    assert token not in logged and "no-such-token" not in logged


def test_tokens_never_reach_the_apps_own_logs(client, world: World, make, caplog):
    """Every step of a feed's life, with every logger at DEBUG: created on the page and
    by the API, built on the first request, served (200, 304, HEAD), reissued, revoked,
    then asked for again. No record carries a token, whole or in its message."""
    make.event(world.team_a, shifts=1, title="护苗护学")
    tokens = []
    with caplog.at_level(logging.DEBUG):
        login(client, world.leader_a)
        page = client.post("/calendar", data={"target": f"team:{world.team_a.id}"})
        assert page.status_code == 200
        tokens.append(page.get_data(as_text=True).split("/feeds/", 1)[1].split(".ics", 1)[0])
        bearer = make.api_token(world.coordinator_a)
        created = client.post(
            "/api/v1/feeds",
            json={"scope": "unit", "id": world.district_a.id},
            headers={"Authorization": f"Bearer {bearer}"},
        )
        assert created.status_code == 201
        tokens.append(created.get_json()["url"].rsplit("/", 1)[1].removesuffix(".ics"))
        for token in tokens:
            first = fetch(client, token)
            assert first.status_code == 200
            assert (
                fetch(client, token, headers={"If-None-Match": first.headers["ETag"]}).status_code
                == 304
            )
            assert client.head(feed_url(token)).status_code == 200
        db.session.rollback()
        feed_id = db.session.scalar(
            select(Feed.id).where(Feed.token_hash == services.hash_token(tokens[0]))
        )
        page = client.post(f"/calendar/{feed_id}/reissue")
        tokens.append(page.get_data(as_text=True).split("/feeds/", 1)[1].split(".ics", 1)[0])
        new_id = db.session.scalar(
            select(Feed.id).where(Feed.token_hash == services.hash_token(tokens[-1]))
        )
        assert client.post(f"/calendar/{new_id}/revoke").status_code == 302
        for token in tokens:
            assert fetch(client, token).status_code in (200, 404)
        assert fetch(client, tokens[0]).status_code == 404
    assert len(set(tokens)) == 3
    assert caplog.records  # something was logged: the check below looked at it
    for record in caplog.records:
        text = record.getMessage() + (record.exc_text or "")
        assert not any(token in text for token in tokens), (record.name, text)
