"""Passwords without the current one: a forgotten password, reset by a code texted to
the account's phone (rules in password_resets.py), and the first login of an account
whose password someone else set, which must choose its own before any other page."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, logout_user

from volunteer_hub.auth.forms import ChoosePasswordForm, ResetPasswordForm
from volunteer_hub.auth.password_resets import CODES, request_reset, reset_password
from volunteer_hub.auth.rate_limits import code_ip_limit, code_phone_limit, login_limit, phone_key
from volunteer_hub.auth.services import choose_own_password
from volunteer_hub.auth.views import log_in_again, password_page
from volunteer_hub.extensions import limiter
from volunteer_hub.people.services import mask_phone
from volunteer_hub.transactions import on_domain_error
from volunteer_hub.volunteers.forms import PhoneForm
from volunteer_hub.web import error_dict, form_errors

bp = Blueprint("passwords", __name__)

#: the number a reset code was asked for, between the two steps of the reset
SESSION_RESET_PHONE = "password_reset_phone"
#: what an account that must choose its password may still open
_BEFORE_OWN_PASSWORD = frozenset(
    {"passwords.choose", "auth.logout", "auth.end_sessions", "static", "favicon"}
)


@bp.before_app_request
def _own_password_first():
    """An account whose password someone else set opens no page but the one that sets
    its own (and logging out). The API is not concerned: it takes tokens, not sessions,
    and such an account has none (auth.staff revokes them, mint_token refuses)."""
    if request.blueprint == "api" or request.endpoint in _BEFORE_OWN_PASSWORD:
        return None
    if not current_user.is_authenticated or current_user.login_scope == "volunteer":
        return None
    if current_user.must_set_password:
        return redirect(url_for("passwords.choose"))
    return None


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@limiter.limit(login_limit, methods=["POST"])
def choose():
    """设置密码: the first login with a temporary password."""
    if current_user.login_scope == "volunteer" or not current_user.must_set_password:
        return redirect(url_for("index"))
    form = ChoosePasswordForm()
    if not form.validate_on_submit():
        errors = form_errors(form) if request.method == "POST" else {}
        return password_page("account/choose_password.html", form, errors)
    on_domain_error(
        lambda exc: password_page("account/choose_password.html", form, error_dict(exc))
    )
    choose_own_password(current_user, form.new_password.data)
    log_in_again()
    flash(_("密码已设置，以后请用新密码登录。"), "success")
    return redirect(url_for("index"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(code_phone_limit, key_func=phone_key, methods=["POST"])
@limiter.limit(code_ip_limit, methods=["POST"])
def forgot():
    """忘记密码: the phone of the account; a code goes there if it is a staff account's."""
    form = PhoneForm()
    if not form.validate_on_submit():
        return _forgot_page(form, form_errors(form) if request.method == "POST" else {})
    on_domain_error(lambda exc: _forgot_page(form, error_dict(exc)))
    session[SESSION_RESET_PHONE] = request_reset(form.phone.data)
    return redirect(url_for("passwords.reset"))


def _forgot_page(form: PhoneForm, errors: dict[str, str]):
    return render_template("auth/forgot.html", form=form, errors=errors), 400 if errors else 200


@bp.route("/password/reset", methods=["GET", "POST"])
@limiter.limit(login_limit, methods=["POST"])
def reset():
    """The texted code and the new password; then every session ends, and the person
    logs in with the new password."""
    phone = session.get(SESSION_RESET_PHONE)
    if not phone:
        return redirect(url_for("passwords.forgot"))
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        errors = form_errors(form) if request.method == "POST" else {}
        return _reset_page(phone, form, errors)
    on_domain_error(
        lambda exc: _reset_page(
            phone,
            form,
            error_dict(exc),
            expired=isinstance(exc, CODES.expired),
        )
    )
    reset_password(phone, form.code.data, form.new_password.data)
    session.pop(SESSION_RESET_PHONE, None)
    logout_user()
    flash(_("密码已重设，所有设备上的登录都已退出。请用新密码登录。"), "success")
    return redirect(url_for("auth.login"))


def _reset_page(phone: str, form: ResetPasswordForm, errors: dict[str, str], expired=False):
    return password_page(
        "auth/reset.html", form, errors, masked_phone=mask_phone(phone), expired=expired
    )
