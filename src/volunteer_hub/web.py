"""Cross-cutting web concerns: the viewer, error pages, security headers, template helpers.

How a request's transaction ends (commit, rollback) is transactions.py's job.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import urlencode, urlsplit

from flask import (
    Flask,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user
from flask_wtf.csrf import CSRFError

from volunteer_hub import submissions, transactions
from volunteer_hub.auth.permissions import Viewer, viewer_for
from volunteer_hub.db import utcnow
from volunteer_hub.errors import DomainError, NotFound, ValidationFailed
from volunteer_hub.extensions import limiter, login_manager
from volunteer_hub.i18n import LOCALE_COOKIE, SUPPORTED_LOCALES, to_local
from volunteer_hub.people.services import display_phone, mask_phone
from volunteer_hub.units.models import Unit

T = TypeVar("T")

WEEKDAYS_ZH = "一二三四五六日"
#: the largest id an INTEGER column holds
MAX_ID = 2**31 - 1

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "style-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


def current_viewer() -> Viewer | None:
    if "viewer" not in g:
        g.viewer = viewer_for(current_user) if current_user.is_authenticated else None
    return g.viewer


def staff_required(view):
    """Logged in and staff (admin, coordinator or leader); volunteers get 404 here."""

    @functools.wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        viewer = current_viewer()
        if viewer is None or not viewer.is_staff:
            abort(404)
        return view(*args, **kwargs)

    return wrapper


def found(lookup: Callable[..., T], *args) -> T:
    """Run a ``queries.visible_*`` lookup; what the viewer may not see is a plain 404."""
    try:
        return lookup(*args)
    except NotFound:
        abort(404)


def error_dict(exc: DomainError) -> dict[str, str]:
    """A domain error as form errors: per field when the service named one, else under ``_``."""
    if isinstance(exc, ValidationFailed):
        return dict(exc.errors)
    return {exc.field or "_": exc.message}


def form_errors(form) -> dict[str, str]:
    """WTForms errors in the same shape: first message per field."""
    return {name: messages[0] for name, messages in form.errors.items() if messages}


def lang_url(lang: str) -> str:
    """This page again in another language (the choice is then kept in a cookie)."""
    args = [(key, value) for key, value in request.args.items(multi=True) if key != "lang"]
    args.append(("lang", lang))
    return f"{request.path}?{urlencode(args)}"


def format_local(value: datetime | None, fmt: str = "full") -> str:
    """Times as people here read them, in the display zone: 11月23日 周一 09:00, with the
    year in front when it is not this year's (2025年11月23日 周日 09:00): a shift typed
    with last year's date must not pass for this year's. The one date filter of pages."""
    if value is None:
        return ""
    local = to_local(value)
    other_year = local.year != to_local(utcnow()).year
    if str(get_locale()) == "en":
        full = "%a %d %b %Y %H:%M" if other_year else "%a %d %b %H:%M"
        formats = {"full": full, "date": "%Y-%m-%d", "time": "%H:%M"}
        return local.strftime(formats.get(fmt, fmt))
    if fmt == "time":
        return local.strftime("%H:%M")
    if fmt == "date":
        return f"{local.year}年{local.month}月{local.day}日"
    year = f"{local.year}年" if other_year else ""
    return f"{year}{local.month}月{local.day}日 周{WEEKDAYS_ZH[local.weekday()]} {local:%H:%M}"


def format_span(start: datetime, end: datetime) -> str:
    local_start, local_end = to_local(start), to_local(end)
    if local_start.date() == local_end.date():
        return f"{format_local(start)}–{local_end:%H:%M}"
    return f"{format_local(start)} – {format_local(end)}"


def indented(units: Sequence[Unit]) -> list[tuple[Unit, str]]:
    """Units in path order, each with its name indented by its depth below the topmost
    one listed: a <select> shows the tree (an <option> holds text only, so no-break
    spaces, which browsers keep)."""
    levels = [unit.path.strip("/").count("/") for unit in units]
    top = min(levels, default=0)
    return [
        (unit, "\u00a0" * 3 * (level - top) + unit.name)
        for unit, level in zip(units, levels, strict=True)
    ]


class CookieSessions(SecureCookieSessionInterface):
    """The signed-cookie session of the pages, and none for the API and the SMS
    providers' webhooks: a bearer token or a signature says who calls there, never a
    cookie, so a cookie sent along is not even read, and no request of theirs pays for
    opening and saving one (every sign-up by API or text would)."""

    #: path prefixes of requests that never have a session (``api`` and ``sms`` blueprints)
    WITHOUT_SESSION = ("/api/", "/sms/")

    def open_session(self, app: Flask, request):
        if request.path.startswith(self.WITHOUT_SESSION):
            # Empty, and writing to it raises: a bug, since nothing there has a session.
            return self.make_null_session(app)
        return super().open_session(app, request)


def init_app(app: Flask) -> None:
    app.session_interface = CookieSessions()
    # Flask-Login's default prompt is English; ours is translated at request time.
    login_manager.login_message = _l("请先登录")
    login_manager.login_message_category = "info"
    login_manager.localize_callback = str
    app.after_request(_security_headers)
    _template_helpers(app)
    _error_pages(app)
    app.add_url_rule("/", "index", _index)
    # Browsers ask every site for it at the root, whatever the page says.
    app.add_url_rule("/favicon.ico", "favicon", lambda: app.send_static_file("favicon.ico"))


def init_identity(app) -> None:
    """Forget the last request's user first: before any blueprint's hook asks who it is
    (the first-login password check does, on every page)."""
    app.before_request(_fresh_identity)


def _fresh_identity():
    # g lives as long as the app context, which a caller (tests, a CLI command) may share
    # across requests: who is asking must come from this request's own cookies.
    g.pop("_login_user", None)
    g.pop("viewer", None)
    g.pop("_flask_babel", None)  # the locale too: this request's ?lang= or cookie
    # Ids beyond the column range cannot exist; PostgreSQL would refuse them with a 500.
    if any(isinstance(v, int) and v > MAX_ID for v in (request.view_args or {}).values()):
        abort(404)


def _security_headers(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    chosen = request.args.get("lang")
    if chosen in SUPPORTED_LOCALES:
        response.set_cookie(
            LOCALE_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Lax", httponly=True
        )
    return response


def _template_helpers(app: Flask) -> None:
    @app.context_processor
    def template_helpers():
        return {
            "viewer": current_viewer(),
            "current_locale": str(get_locale()),
            "phone_for": phone_for,
            "lang_url": lang_url,
        }

    app.jinja_env.filters["localtime"] = format_local
    app.jinja_env.filters["first_errors"] = form_errors
    # Data that has an English name in the catalog (category names); others pass unchanged.
    app.jinja_env.filters["tr"] = lambda text: _(text) if text else text
    app.jinja_env.globals["format_span"] = format_span
    app.jinja_env.globals["submission_token"] = submissions.token


def _error_pages(app: Flask) -> None:
    @app.errorhandler(404)
    def not_found(error):
        if request.path.startswith("/api/"):
            from volunteer_hub.api.problems import problem

            return problem(404, _("未找到"), _("没有这个资源，或您无权查看。"))
        return render_template("errors/404.html"), 404

    @app.errorhandler(429)
    def too_many(error):
        if request.path.startswith("/api/"):
            from volunteer_hub.api.problems import problem

            return problem(429, _("请求过于频繁"), _("请稍后再试。"))
        return _too_many_page(), 429

    @app.errorhandler(CSRFError)
    def csrf_failed(error):
        # Mostly a page kept open from an earlier session (a phone's browser or WeChat
        # restarted, a tab restored): back to that page, fresh, to tap again.
        page = _own_page_sent_from()
        if page is not None:
            flash(_("页面已过期，已为您重新打开，请再点一次。"), "error")
            return redirect(page, 303)
        return render_template(
            "errors/400.html", message=_("页面已过期，请返回上一页刷新后再试。")
        ), 400

    @app.errorhandler(DomainError)
    def domain_error(error: DomainError):
        # Rolled back first; then the answer the view declared, or the generic error page.
        return transactions.answer_domain_error(error, _domain_error_page)


def _own_page_sent_from() -> str | None:
    """The path of the page of ours a form was posted from (its Referer), if it was."""
    referrer = urlsplit(request.referrer or "")
    if referrer.netloc != request.host or not referrer.path.startswith("/"):
        return None
    if referrer.path.startswith("//") or request.path.startswith("/api/"):
        return None
    return referrer.path + (f"?{referrer.query}" if referrer.query else "")


def log_in(person, *, remember: bool) -> None:
    """Log the person in. A remembered login keeps its session cookie across browser
    restarts too (PERMANENT_SESSION_LIFETIME, as long as the remember-me cookie): the
    session holds the forms' CSRF token, and a page a phone restores after WeChat or its
    browser restarted must still be sendable."""
    login_user(person, remember=remember)
    session.permanent = remember


def _too_many_page() -> str:
    """When the limit that was hit lets the next try through, and a way back to the form
    (a limited request is a form's POST: its own URL shows the form again)."""
    limit = limiter.current_limit
    retry_at = datetime.fromtimestamp(limit.reset_at, UTC) if limit else None
    minutes = max(1, math.ceil((limit.reset_at - time.time()) / 60)) if limit else None
    back = request.path if request.method == "POST" else url_for("index")
    return render_template(
        "errors/429.html",
        retry_at=format_local(retry_at, "time") if retry_at else None,
        minutes=minutes,
        back=back,
        code_request=request.endpoint == "volunteers.login",
    )


def _domain_error_page(error: DomainError):
    if request.path.startswith("/api/"):
        from volunteer_hub.api.problems import from_domain_error

        return from_domain_error(error)
    if isinstance(error, NotFound):
        return render_template("errors/404.html"), 404
    return render_template("errors/400.html", message=error.message), 400


def _index():
    viewer = current_viewer()
    if viewer is None:
        # Volunteers and staff log in differently: ask which one first.
        return render_template("auth/choose.html")
    if viewer.is_coordinator or viewer.is_admin:
        return redirect(url_for("units.overview"))
    if viewer.is_staff:
        return redirect(url_for("teams.my_teams"))
    return redirect(url_for("volunteers.home"))


def phone_for(person, full_phone_ids: set[int]) -> str:
    """A phone number in full for those allowed to read it, masked (138****8000) otherwise."""
    if person.id in full_phone_ids:
        return display_phone(person.phone)
    return mask_phone(person.phone)
