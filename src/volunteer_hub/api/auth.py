"""Bearer-token authentication for the API: ``Authorization: Bearer <token>``."""

from __future__ import annotations

import functools

from flask import Blueprint, abort, current_app, g, request
from flask_babel import gettext as _

from volunteer_hub.api.problems import problem, title_for
from volunteer_hub.api.schemas import MAX_ID
from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.auth.services import token_and_viewer, token_touch_due, touch_token
from volunteer_hub.extensions import db, limiter


def current_viewer() -> Viewer:
    """The viewer behind this request's token; set for every non-public API request."""
    viewer = g.get("api_viewer")
    if viewer is None:  # a public view asking for a viewer is a programming error
        raise RuntimeError("no API viewer for this request")
    return viewer


def register(bp: Blueprint) -> None:
    bp.before_request(_authenticate)
    # No API route declares a rate limit (and the app has no default one), yet
    # Flask-Limiter would resolve the limits of every API request to find none: a filter
    # ends its check at once. Login and login-code limits elsewhere are untouched.
    limiter.request_filter(functools.partial(_is_request_of, bp.name))


def _is_request_of(blueprint: str) -> bool:
    return request.blueprint == blueprint


def _authenticate():
    # g lives as long as the app context, which a caller may share across requests.
    g.api_viewer = None
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "api_public", False):
        return None
    scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return _unauthorized(_("请在 Authorization 头中提供 Bearer 令牌。"), error=None)
    found = token_and_viewer(token)
    if found is None:
        return _unauthorized(_("API 令牌无效或已撤销。"), error="invalid_token")
    token_row, g.api_viewer = found
    if token_touch_due(token_row) and touch_token(token):
        # Its own commit, before the view: a GET writes nothing else (transactions.py).
        db.session.commit()
    # Ids beyond the column range cannot exist; refuse them before they reach SQL.
    if any(isinstance(v, int) and v > MAX_ID for v in (request.view_args or {}).values()):
        abort(404)
    return None


def _unauthorized(detail: str, error: str | None):
    response = problem(401, title_for(401), detail, code="unauthorized")
    challenge = 'Bearer realm="volunteer_hub"'
    if error:
        challenge += f', error="{error}"'
    response.headers["WWW-Authenticate"] = challenge
    return response
