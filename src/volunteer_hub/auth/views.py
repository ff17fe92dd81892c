from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from volunteer_hub.auth.forms import LoginForm
from volunteer_hub.auth.services import authenticate
from volunteer_hub.extensions import db, limiter
from volunteer_hub.web import current_viewer

bp = Blueprint("auth", __name__)


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    viewer = current_viewer()
    if viewer is not None and viewer.is_staff and request.method == "GET":
        return redirect(url_for("index"))
    form = LoginForm()
    if form.validate_on_submit():
        person = authenticate(form.phone.data, form.password.data)
        if person is not None:
            db.session.commit()
            login_user(person, remember=form.remember.data)
            return redirect(_safe_next(request.args.get("next")) or url_for("index"))
        db.session.rollback()
        flash(_("手机号码或密码不正确"), "error")
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
def logout():
    volunteer = current_user.is_authenticated and current_user.login_scope == "volunteer"
    logout_user()
    flash(_("您已退出登录"), "info")
    return redirect(url_for("volunteers.login" if volunteer else "auth.login"))


def _safe_next(target: str | None) -> str | None:
    """Only same-site paths; never an absolute URL someone slipped into ?next=."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
