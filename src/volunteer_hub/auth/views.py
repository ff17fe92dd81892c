"""Log in with phone and password, change the password, log out here or everywhere.

A forgotten password and the first login with someone else's password are
password_views.py's."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user
from flask_login.config import COOKIE_NAME

from volunteer_hub.auth.forms import ChangePasswordForm, LoginForm
from volunteer_hub.auth.rate_limits import login_limit
from volunteer_hub.auth.services import (
    MIN_PASSWORD_LENGTH,
    authenticate,
    change_password,
    end_all_sessions,
)
from volunteer_hub.extensions import limiter
from volunteer_hub.transactions import on_domain_error
from volunteer_hub.web import current_viewer, error_dict, form_errors, log_in

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"])
def login():
    viewer = current_viewer()
    if viewer is not None and viewer.is_staff and request.method == "GET":
        return redirect(url_for("index"))
    form = LoginForm()
    if form.validate_on_submit():
        person = authenticate(form.phone.data, form.password.data)
        if person is not None:
            log_in(person, remember=bool(form.remember.data))
            return redirect(_safe_next(request.args.get("next")) or url_for("index"))
        # Shown on the page, with the way in for volunteers, who have no password.
        return render_template("auth/login.html", form=form, failed=True)
    return render_template("auth/login.html", form=form, failed=False)


@bp.post("/logout")
def logout():
    volunteer = current_user.is_authenticated and current_user.login_scope == "volunteer"
    end_sessions_and_log_out()
    flash(_("您已退出登录"), "info")
    return redirect(url_for("volunteers.login" if volunteer else "auth.login"))


def end_sessions_and_log_out() -> None:
    """Log out here and everywhere else: a copy of this session's cookies (or of one
    from another device) must not outlive the logout."""
    if current_user.is_authenticated:
        end_all_sessions(current_user)
    logout_user()


@bp.route("/account", methods=["GET", "POST"])
@login_required
@limiter.limit(login_limit, methods=["POST"])
def account():
    if current_user.login_scope == "volunteer":
        # Logged in by texted code: no password to change; /me has 退出所有设备.
        return redirect(url_for("volunteers.home"))
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return _account_page(form, form_errors(form) if request.method == "POST" else {})
    on_domain_error(lambda exc: _account_page(form, error_dict(exc)))
    change_password(current_user, form.current_password.data, form.new_password.data)
    log_in_again()
    flash(_("密码已修改，其他设备上的登录已全部退出。"), "success")
    return redirect(url_for("auth.account"))


def log_in_again() -> None:
    """After a password change has ended every session of the person: this one carries
    on under the new session version, remembered on this device if it was."""
    remembered = current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME) in request.cookies
    log_in(current_user._get_current_object(), remember=remembered)


def password_page(template: str, form, errors: dict[str, str], **context):
    """A page with a new-password field (its hint names the minimum); 400 with errors."""
    body = render_template(
        template, form=form, errors=errors, min_length=MIN_PASSWORD_LENGTH, **context
    )
    return body, 400 if errors else 200


def _account_page(form: ChangePasswordForm, errors: dict[str, str]):
    return password_page("account/index.html", form, errors)


@bp.post("/account/sessions/end")
@login_required
def end_sessions():
    """退出所有设备: for a lost phone or a shared computer."""
    volunteer = current_user.login_scope == "volunteer"
    end_sessions_and_log_out()
    flash(_("已在所有设备上退出登录。"), "info")
    return redirect(url_for("volunteers.login" if volunteer else "auth.login"))


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths; never an absolute URL someone slipped into ?next=."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
