"""Development pages, registered only in debug mode: /dev/sms."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("dev", __name__, url_prefix="/dev")
