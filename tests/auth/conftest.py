"""Helpers of the account tests: the codes and temporary passwords people read.

The staff-account tests use the feed tests' small world (tests/calendar/feeds_support.py):
鄂州市 › 鄂城区 › 凤凰街道 (team A, 鄂城区's coordinator above it), 华容区 (team B)."""

from __future__ import annotations

import re

from tests.calendar.feeds_support import World, world  # noqa: F401
from tests.volunteers.conftest import login_texts
from volunteer_hub.extensions import db


def reset_code_sent_to(person_id: int) -> str:
    """The code as the person reads it, from the last code text to them."""
    db.session.expire_all()
    *_earlier, last = login_texts(person_id)
    return re.search(r"验证码 (\d{6})，", last.body).group(1)


def temporary_password_in(html: str) -> str:
    match = re.search(r'id="temporary-password">([a-z0-9]+)<', html)
    assert match, html[:2000]
    return match.group(1)
