"""The volunteer's mobile pages under /me."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("volunteers", __name__, url_prefix="/me")
