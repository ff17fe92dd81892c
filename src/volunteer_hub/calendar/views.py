"""Feed pages and the feed URL itself (/feeds/<token>.ics)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("calendar", __name__)
