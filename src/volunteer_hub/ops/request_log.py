"""One log line per request: request id, method, path, status, duration, client address.

The id comes from the ``X-Request-ID`` header when a proxy set a sensible one, or is
made here; it goes back in the response's ``X-Request-ID`` and is in ``g.request_id``
for anything else that logs. Beyond the client's address the line carries nothing
personal: no query string (phone numbers travel there), feed tokens masked
(``/feeds/[token].ics``), and any run of seven or more digits in the path replaced, in
case someone typed a phone number into a URL. The client is the connecting address, or
the one the trusted proxies forwarded (``TRUSTED_PROXY_HOPS``): what the rate limits
count by, so the log shows who ran into them.

A WSGI middleware rather than Flask hooks: it sees every request, including those that
another ``before_request`` ends early and those that fail, and times all of it.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, g, request

from volunteer_hub.ops.log_masks import install_log_filters, mask_secrets

log = logging.getLogger("volunteer_hub.requests")

HEADER = "X-Request-ID"
ENVIRON_KEY = "volunteer_hub.request_id"
#: what a request id from outside may look like (a UUID, a proxy's hex id...)
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")
_DIGITS = re.compile(r"\+?\d{7,}")


def init_app(app: Flask) -> None:
    app.wsgi_app = RequestLog(app.wsgi_app)  # type: ignore[method-assign]
    install_log_filters((app.logger.name,))  # the servers' and Flask's own path logs

    @app.before_request
    def _request_id():
        g.request_id = request.environ.get(ENVIRON_KEY)


def loggable_path(path: str) -> str:
    return _DIGITS.sub("[number]", mask_secrets(path))


class RequestLog:
    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]]):
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        given = environ.get("HTTP_X_REQUEST_ID", "")
        request_id = given if _VALID_ID.fullmatch(given) else uuid.uuid4().hex
        environ[ENVIRON_KEY] = request_id
        started = time.perf_counter()
        status = ["500"]  # if the app raises before answering, the server answers 500

        def start_with_id(code: str, headers: list[tuple[str, str]], exc_info=None):
            status[0] = code.split(" ", 1)[0]
            headers = [(k, v) for k, v in headers if k.lower() != HEADER.lower()]
            headers.append((HEADER, request_id))
            return start_response(code, headers, exc_info)

        try:
            return self.wsgi_app(environ, start_with_id)
        finally:
            log.info(
                "request_id=%s method=%s path=%s status=%s duration_ms=%.1f client=%s",
                request_id,
                environ.get("REQUEST_METHOD", ""),
                loggable_path(environ.get("PATH_INFO", "")),
                status[0],
                (time.perf_counter() - started) * 1000,
                # Behind TRUSTED_PROXY_HOPS proxies ProxyFix has put the real client here.
                environ.get("REMOTE_ADDR") or "-",
            )
