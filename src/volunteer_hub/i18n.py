"""Locale and time-zone selection: Chinese first, English on request."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context, has_request_context, request

from volunteer_hub.config import DEFAULT_TIMEZONE

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
    """The display zone, TIMEZONE; outside an app (a text rendered by hand), its default."""
    return ZoneInfo(current_app.config["TIMEZONE"] if has_app_context() else DEFAULT_TIMEZONE)


def to_local(value: datetime) -> datetime:
    return value.astimezone(local_zone())


def as_shown(value: datetime) -> datetime:
    """An aware time in the display zone; a naive one is taken as already there."""
    return to_local(value) if value.tzinfo is not None else value


def from_local(value: datetime) -> datetime:
    """A wall-clock time typed in a form (naive) as an aware datetime in the display zone."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=local_zone())
    return value


# Dates and times as people type them in forms (2026-12-01, 2026年12月1日, 8:00, 8：00).


def parse_date(text: str | None) -> date | None:
    text = (text or "").strip()
    match = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?", text)
    if not match:
        return None
    try:
        return date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def parse_time(text: str | None) -> time | None:
    text = (text or "").strip().replace("：", ":")
    match = re.fullmatch(r"(\d{1,2}):(\d{2})(?::\d{2})?", text)
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)
