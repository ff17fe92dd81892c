"""Log in with phone and password, change the password, log out here or everywhere; a
forgotten password reset by a texted code; the first login of an account whose password
someone else set, which must choose its own before any other page."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_login.config import COOKIE_NAME

from volunteer_hub.auth.forms import (
    ChangePasswordForm,
    ChoosePasswordForm,
    LoginForm,
    ResetPasswordForm,
)
from volunteer_hub.auth.password_resets import (
    ResetCodeExpired,
    request_reset,
    reset_password,
)
from volunteer_hub.auth.rate_limits import code_ip_limit, code_phone_limit, phone_key
from volunteer_hub.auth.services import (
    MIN_PASSWORD_LENGTH,
    authenticate,
    change_password,
    choose_own_password,
    end_all_sessions,
)
from volunteer_hub.extensions import limiter
from volunteer_hub.people.services import mask_phone
from volunteer_hub.transactions import on_domain_error
from volunteer_hub.volunteers.forms import PhoneForm
from volunteer_hub.web import current_viewer, error_dict, form_errors

bp = Blueprint("auth", __name__)

#: the number a reset code was asked for, between the two steps of the reset
SESSION_RESET_PHONE = "password_reset_phone"
#: what an account that must choose its password may still open
_BEFORE_OWN_PASSWORD = frozenset(
    {"auth.choose_password", "auth.logout", "auth.end_sessions", "static", "favicon"}
)


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
            login_user(person, remember=form.remember.data)
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
@limiter.limit(_login_limit, methods=["POST"])
def account():
    if current_user.login_scope == "volunteer":
        # Logged in by texted code: no password to change; /me has 退出所有设备.
        return redirect(url_for("volunteers.home"))
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return _account_page(form, form_errors(form) if request.method == "POST" else {})
    remembered = current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME) in request.cookies
    on_domain_error(lambda exc: _account_page(form, error_dict(exc)))
    change_password(current_user, form.current_password.data, form.new_password.data)
    # Every other session is over; this one carries on under the new version.
    login_user(current_user._get_current_object(), remember=remembered)
    flash(_("密码已修改，其他设备上的登录已全部退出。"), "success")
    return redirect(url_for("auth.account"))


def _account_page(form: ChangePasswordForm, errors: dict[str, str]):
    return _password_page("account/index.html", form, errors)


def _password_page(template: str, form, errors: dict[str, str], **context):
    """A page with a new-password field (its hint names the minimum); 400 with errors."""
    body = render_template(
        template, form=form, errors=errors, min_length=MIN_PASSWORD_LENGTH, **context
    )
    return body, 400 if errors else 200


@bp.before_app_request
def _own_password_first():
    """An account whose password someone else set opens no page but the one that sets
    its own (and logging out). The API is not concerned: it takes tokens, not sessions,
    and such an account has none (auth.staff revokes them, mint_token refuses)."""
    if request.blueprint == "api" or request.endpoint in _BEFORE_OWN_PASSWORD:
        return None
    # web._fresh_identity runs after this hook: who asks comes from this request alone.
    g.pop("_login_user", None)
    if not current_user.is_authenticated or current_user.login_scope == "volunteer":
        return None
    if current_user.must_set_password:
        return redirect(url_for("auth.choose_password"))
    return None


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@limiter.limit(_login_limit, methods=["POST"])
def choose_password():
    """设置密码: the first login with a temporary password."""
    if current_user.login_scope == "volunteer" or not current_user.must_set_password:
        return redirect(url_for("index"))
    form = ChoosePasswordForm()
    if not form.validate_on_submit():
        errors = form_errors(form) if request.method == "POST" else {}
        return _password_page("account/choose_password.html", form, errors)
    remembered = current_app.config.get("REMEMBER_COOKIE_NAME", COOKIE_NAME) in request.cookies
    on_domain_error(
        lambda exc: _password_page("account/choose_password.html", form, error_dict(exc))
    )
    choose_own_password(current_user, form.new_password.data)
    login_user(current_user._get_current_object(), remember=remembered)
    flash(_("密码已设置，以后请用新密码登录。"), "success")
    return redirect(url_for("index"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(code_phone_limit, key_func=phone_key, methods=["POST"])
@limiter.limit(code_ip_limit, methods=["POST"])
def forgot_password():
    """忘记密码: the phone of the account; a code goes there if it is a staff account's."""
    form = PhoneForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("auth/forgot.html", form=form, errors=form_errors(form)), status
    on_domain_error(
        lambda exc: (
            render_template("auth/forgot.html", form=form, errors={"phone": exc.message}),
            400,
        )
    )
    session[SESSION_RESET_PHONE] = request_reset(form.phone.data)
    return redirect(url_for("auth.reset_password_page"))


@bp.route("/password/reset", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def reset_password_page():
    """The texted code and the new password; then every session ends, and the person
    logs in with the new password."""
    phone = session.get(SESSION_RESET_PHONE)
    if not phone:
        return redirect(url_for("auth.forgot_password"))
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        errors = form_errors(form) if request.method == "POST" else {}
        return _reset_page(phone, form, errors)
    on_domain_error(
        lambda exc: _reset_page(
            phone,
            form,
            error_dict(exc),
            expired=isinstance(exc, ResetCodeExpired),
        )
    )
    reset_password(phone, form.code.data, form.new_password.data)
    session.pop(SESSION_RESET_PHONE, None)
    logout_user()
    flash(_("密码已重设，所有设备上的登录都已退出。请用新密码登录。"), "success")
    return redirect(url_for("auth.login"))


def _reset_page(phone: str, form: ResetPasswordForm, errors: dict[str, str], expired=False):
    return _password_page(
        "auth/reset.html", form, errors, masked_phone=mask_phone(phone), expired=expired
    )


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
