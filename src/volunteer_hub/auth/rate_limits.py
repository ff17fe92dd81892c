"""Rate limits of the login pages. Those that text a code to a phone (a volunteer's
login code, a staff password reset) are limited per number, so that no one has a phone
texted over and over, and per client address, so that no one walks through numbers;
trying a password or a code, by ``LOGIN_RATE_LIMIT``."""

from __future__ import annotations

from flask import current_app, request

from volunteer_hub.people.services import InvalidPhone, normalize_phone


def phone_key() -> str:
    """Rate-limit key of a code request: the number in E.164, so "138 0013 8000" and
    "+8613800138000" share one budget."""
    raw = (request.form.get("phone") or "").strip()
    try:
        return "phone:" + normalize_phone(raw)
    except InvalidPhone:
        return "phone-invalid:" + raw[:40]


def code_phone_limit() -> str:
    return current_app.config["LOGIN_CODE_RATE_LIMIT"]


def code_ip_limit() -> str:
    return current_app.config["LOGIN_CODE_IP_RATE_LIMIT"]


def login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]
