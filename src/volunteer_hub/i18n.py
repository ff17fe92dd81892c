"""Locale and time-zone selection: Chinese first, English on request."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_request_context, request

SUPPORTED_LOCALES = ("zh", "en")
LOCALE_COOKIE = "lang"


def select_locale() -> str:
    if not has_request_context():
        return "zh"  # SMS replies, CLI output, workers: Chinese
    chosen = request.args.get("lang") or request.cookies.get(LOCALE_COOKIE)
    if chosen in SUPPORTED_LOCALES:
        return chosen
    # Chinese unless the browser prefers English over any Chinese.
    return request.accept_languages.best_match(SUPPORTED_LOCALES, default="zh") or "zh"


def select_timezone() -> str:
    return current_app.config["TIMEZONE"]


def local_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def to_local(value: datetime) -> datetime:
    return value.astimezone(local_zone())


def from_local(value: datetime) -> datetime:
    """A wall-clock time typed in a form (naive) as an aware datetime in the display zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=local_zone())
    return value
