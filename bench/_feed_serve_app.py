"""The WSGI app bench/feed_serve.py runs under gunicorn: the real app (``create_app()``,
as ``wsgi.py`` makes it) plus two static copies of a file, so the same gunicorn worker
serves the feed and its reference in the same run. Not meant to be used by hand.

- ``/_bench/static.ics``: the file through Flask, as its static route serves files
  (``send_file`` with ``conditional=True``: ETag from mtime and size, 304 on a match,
  the body by ``wsgi.file_wrapper``, i.e. ``sendfile`` in gunicorn).
- ``/_bench/raw.ics``: the file through a bare WSGI callable in front of Flask (open,
  ``wsgi.file_wrapper``; 304 when If-None-Match is its ETag): gunicorn's own floor.
- ``/_bench/feed-noping/<token>.ics``: a what-if, not the app: the real feed view
  without the ``pool_pre_ping`` round trip when the request checks out its connection.

Turning the pool's pre-ping off for the call is safe
here: a sync worker handles one request at a time.

BENCH_STATIC_FILE names the file.
"""

from __future__ import annotations

import hashlib
import os

from flask import send_file

from volunteer_hub import create_app
from volunteer_hub.calendar import views
from volunteer_hub.extensions import db

STATIC_FILE = os.environ["BENCH_STATIC_FILE"]
CALENDAR_TYPE = "text/calendar; charset=utf-8"

app = create_app()


@app.get("/_bench/static.ics")
def bench_static():
    return send_file(STATIC_FILE, mimetype=CALENDAR_TYPE, conditional=True, max_age=300)


@app.get("/_bench/feed-noping/<token>.ics")
def bench_feed_noping(token: str):
    pool = db.engine.pool
    pre_ping, pool._pre_ping = pool._pre_ping, False
    try:
        return views.feed(token)
    finally:
        pool._pre_ping = pre_ping


with open(STATIC_FILE, "rb") as _f:
    _RAW_ETAG = '"' + hashlib.sha256(_f.read()).hexdigest() + '"'
_RAW_SIZE = str(os.path.getsize(STATIC_FILE))
_flask_wsgi = app.wsgi_app


def _raw_or_flask(environ, start_response):
    if environ.get("PATH_INFO") != "/_bench/raw.ics":
        return _flask_wsgi(environ, start_response)
    if environ.get("HTTP_IF_NONE_MATCH") == _RAW_ETAG:
        start_response("304 Not Modified", [("ETag", _RAW_ETAG)])
        return []
    handle = open(STATIC_FILE, "rb")  # noqa: SIM115 - closed by the server via the wrapper
    start_response(
        "200 OK",
        [("Content-Type", CALENDAR_TYPE), ("Content-Length", _RAW_SIZE), ("ETag", _RAW_ETAG)],
    )
    return environ["wsgi.file_wrapper"](handle, 64 * 1024)


app.wsgi_app = _raw_or_flask
