"""Secrets that travel in URL paths, kept out of every log that prints a path.

Two URLs carry a bearer secret in their path: a calendar feed (``/feeds/<token>.ics``,
all its subscriber needs) and the domestic SMS providers' pushes
(``/sms/inbound|status/<provider>/<secret>``, which neither provider signs: whoever
knows the secret can forge replies and delivery reports). The request log masks them
itself (``mask_secrets``); the loggers of the servers and of Flask get a filter
(``install_log_filters``).
"""

from __future__ import annotations

import logging
import re

_SECRET_PATHS = (
    (re.compile(r"/feeds/[^/\s\"?#]+?\.ics"), "/feeds/[token].ics"),
    (re.compile(r"(/sms/(?:inbound|status)/[^/\s\"?#]+/)[^/\s\"?#]+"), r"\1[secret]"),
)
#: loggers that print request paths: werkzeug's dev server, gunicorn's access and error
#: logs, Flask's "Exception on <path>" (the app logger)
MASKED_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error", "volunteer_hub")
_MARKERS = ("/feeds/", "/sms/")


def mask_secrets(text: str) -> str:
    for pattern, mask in _SECRET_PATHS:
        text = pattern.sub(mask, text)
    return text


class SecretPathFilter(logging.Filter):
    """Rewrites a record so no secret of a path survives: in its message and its
    arguments (gunicorn's access log passes a dict of request atoms; werkzeug a tuple)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = _masked(record.msg)
        args = record.args
        if isinstance(args, dict):
            record.args = {k: _masked(v) for k, v in args.items()}
        elif isinstance(args, tuple):
            record.args = tuple(_masked(v) for v in args)
        return True


def _masked(value):
    if isinstance(value, str) and any(marker in value for marker in _MARKERS):
        return mask_secrets(value)
    if isinstance(value, bytes) and any(marker.encode() in value for marker in _MARKERS):
        return mask_secrets(value.decode("latin-1")).encode("latin-1")
    return value


_FILTER = SecretPathFilter()


def install_log_filters(extra: tuple[str, ...] = ()) -> None:
    for name in (*MASKED_LOGGERS, *extra):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
