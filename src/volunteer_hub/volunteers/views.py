"""The volunteer's mobile pages under /me: log in with a texted code, see my shifts,
sign up with one tap, cancel, switch texts off and on."""

from __future__ import annotations

import functools

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user

from volunteer_hub.auth.login_codes import (
    LoginCodeError,
    WrongLoginCode,
    request_code,
    verify_code,
)
from volunteer_hub.auth.rate_limits import code_ip_limit, code_phone_limit, phone_key
from volunteer_hub.auth.views import end_sessions_and_log_out
from volunteer_hub.db import utcnow
from volunteer_hub.errors import NotFound, ValidationFailed
from volunteer_hub.events import share
from volunteer_hub.extensions import db, limiter
from volunteer_hub.hours import personal, records
from volunteer_hub.people.services import display_phone, mask_phone
from volunteer_hub.sms.services import opt_in, opt_out
from volunteer_hub.teams import services as teams
from volunteer_hub.teams.models import Team
from volunteer_hub.transactions import on_domain_error
from volunteer_hub.volunteers import services
from volunteer_hub.volunteers.forms import CodeForm, CorrectionForm, PhoneForm
from volunteer_hub.web import form_errors, log_in

bp = Blueprint("volunteers", __name__, url_prefix="/me")

#: the number a code was asked for, between the two steps of the login
SESSION_PHONE = "me_login_phone"
#: the volunteer page asked for before logging in (a poster's QR code, a shared link)
SESSION_NEXT = "me_next"


def _verify_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def volunteer_required(view):
    """Logged in (by code or by password); otherwise to the volunteer login, not staff's."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            flash(_("请先登录"), "info")
            if request.method == "GET":
                session[SESSION_NEXT] = request.path  # back here once logged in
            return redirect(url_for("volunteers.login"))
        return view(*args, **kwargs)

    return wrapper


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(code_phone_limit, key_func=phone_key, methods=["POST"])
@limiter.limit(code_ip_limit, methods=["POST"])
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("volunteers.home"))
    form = PhoneForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("volunteers/login.html", form=form, errors=form_errors(form)), status
    on_domain_error(
        lambda exc: (
            render_template("volunteers/login.html", form=form, errors={"phone": exc.message}),
            400,
        )
    )
    outcome = request_code(form.phone.data)
    if outcome.opted_out:
        return render_template(
            "volunteers/login.html",
            form=form,
            errors={},
            opted_out=True,
            service_number=share.service_number(),
        )
    session[SESSION_PHONE] = outcome.phone
    return redirect(url_for("volunteers.code"))


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(_verify_limit, methods=["POST"])
def code():
    phone = session.get(SESSION_PHONE)
    if not phone:
        return redirect(url_for("volunteers.login"))
    form = CodeForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return _code_page(phone, form, form_errors(form), status)
    on_domain_error(
        lambda exc: _code_page(
            phone, form, {"code": exc.message}, 400, expired=not isinstance(exc, WrongLoginCode)
        ),
        only=LoginCodeError,
    )
    person = verify_code(phone, form.code.data)
    session.pop(SESSION_PHONE, None)
    # Kept on the phone: these pages are opened from a text days later, by people for
    # whom logging in again is the hard part.
    person.login_scope = "volunteer"  # a texted code opens the volunteer pages only
    log_in(person, remember=True)
    wanted = session.pop(SESSION_NEXT, None) or ""
    # Only a page of ours: the path was stored by volunteer_required, never typed.
    return redirect(wanted if wanted.startswith("/me/") else url_for("volunteers.home"))


def _code_page(phone: str, form: CodeForm, errors: dict, status: int = 200, expired=False):
    body = render_template(
        "volunteers/code.html",
        form=form,
        errors=errors,
        masked_phone=mask_phone(phone),
        expired=expired,
    )
    return body, status


@bp.get("")
@volunteer_required
def home():
    person = current_user
    my_shifts = services.my_shifts(person.id)
    # Right after a sign-up: that shift on top, with its one-tap calendar file. Looked
    # up among the person's own shifts, so another id shows nothing.
    signed_up = request.args.get("signed_up", type=int)
    just_signed_up = next((s for s in my_shifts if s.signup_id == signed_up), None)
    return render_template(
        "volunteers/home.html",
        person=person,
        own_phone=display_phone(person.phone),
        my_shifts=my_shifts,
        just_signed_up=just_signed_up,
        open_shifts=services.open_shifts(person.id),
        open_limit=services.OPEN_SHIFT_LIMIT,
        hours=personal.summary(person.id, utcnow()),
        format_hours=personal.format_hours,
    )


@bp.get("/events/<int:event_id>")
@volunteer_required
def event(event_id: int):
    """An event with its shifts to sign up for: where a poster's QR code and a shared
    link lead."""
    return render_template(
        "volunteers/event.html", page=share.for_volunteer(event_id, current_user.id, utcnow())
    )


@bp.get("/hours")
@volunteer_required
def my_hours():
    return _hours_page()


def _hours_page(form: CorrectionForm | None = None, record_id: int | None = None, errors=None):
    """我的服务时长: totals, then the records, latest first, a page at a time; a record
    whose correction form failed is shown open with its errors."""
    page = request.args.get("page", 1, type=int) or 1
    page = min(max(page, 1), 10_000)
    items = personal.history(current_user.id, page=page)
    shown = {
        "hours": personal.summary(current_user.id, utcnow()),
        "items": items[: personal.HISTORY_PAGE],
        "page": page,
        "more": len(items) > personal.HISTORY_PAGE,
        "format_hours": personal.format_hours,
    }
    form = form or CorrectionForm(formdata=None)
    failed = {"form": form, "failed_record_id": record_id, "errors": errors or {}}
    return render_template("volunteers/hours.html", **shown, **failed), 400 if errors else 200


@bp.post("/hours/<int:record_id>/correction")
@volunteer_required
def request_correction(record_id: int):
    form = CorrectionForm()
    if not form.validate_on_submit():
        return _hours_page(form, record_id, form_errors(form))
    on_domain_error(lambda exc: _hours_page(form, record_id, exc.errors), only=ValidationFailed)
    records.request_correction(record_id, current_user.id, form.note.data, channel="web")
    flash(_("已提交更正申请，队长核实后会更新这条记录。"), "success")
    return redirect(url_for("volunteers.my_hours", _anchor=f"record-{record_id}"))


@bp.post("/shifts/<int:shift_id>/signup")
@volunteer_required
def sign_up(shift_id: int):
    _back_home_on_error()
    result = services.sign_up(current_user.id, shift_id)
    if result.waitlist_position is None:
        flash(_("报名成功，请按时参加。"), "success")
        return redirect(
            url_for("volunteers.home", signed_up=result.placed.id, _anchor="just-signed-up")
        )
    flash(
        _(
            "名额已满，您已排入候补第 %(n)d 位，有空位会短信通知您。",
            n=result.waitlist_position,
        ),
        "info",
    )
    return redirect(url_for("volunteers.home", _anchor="my-shifts"))


@bp.post("/signups/<int:signup_id>/cancel")
@volunteer_required
def cancel(signup_id: int):
    _back_home_on_error()
    services.cancel(current_user.id, signup_id)
    flash(_("已取消报名。"), "success")
    return redirect(url_for("volunteers.home"))


@bp.post("/sms/off")
@volunteer_required
def sms_off():
    return _sms_switched(
        opt_out, _("已关闭短信通知。以后需要时可在这里重新打开，或发送短信「订阅」。")
    )


@bp.post("/sms/on")
@volunteer_required
def sms_on():
    return _sms_switched(opt_in, _("已打开短信通知。"))


def _sms_switched(switch, done: str):
    switch(current_user.id, channel="web")
    flash(done, "success")
    return redirect(url_for("volunteers.home", _anchor="sms"))


# -- team invitations: the person decides whether to join (teams.services.add_member) --


@bp.context_processor
def _invitations():
    """The team invitations waiting for the logged-in person, for the /me page's block.
    A callable, so pages that do not show it run no query."""

    def pending_invitations():
        if not current_user.is_authenticated:
            return []
        return teams.invitations_for(current_user.id)

    return {"pending_invitations": pending_invitations}


@bp.post("/invitations/<int:invitation_id>/accept")
@volunteer_required
def accept_invitation(invitation_id: int):
    return _answer_invitation(invitation_id, accept=True)


@bp.post("/invitations/<int:invitation_id>/decline")
@volunteer_required
def decline_invitation(invitation_id: int):
    return _answer_invitation(invitation_id, accept=False)


def _answer_invitation(invitation_id: int, accept: bool):
    decide = teams.accept_invitation if accept else teams.decline_invitation
    _back_home_on_error("invitations")
    invitation = decide(invitation_id, current_user.id, via="web")
    team_name = db.session.get(Team, invitation.team_id).name
    if accept:
        flash(_("您已加入 %(team)s。", team=team_name), "success")
    else:
        flash(_("已谢绝 %(team)s 的入队邀请。", team=team_name), "info")
    return redirect(url_for("volunteers.home", _anchor="invitations"))


def _back_home_on_error(anchor: str | None = None) -> None:
    """A refused action: its message on /me; what does not exist (or is not theirs): 404."""
    on_domain_error(back=url_for("volunteers.home", _anchor=anchor), unless=NotFound)


@bp.post("/logout")
def logout():
    end_sessions_and_log_out()
    flash(_("您已退出登录"), "info")
    return redirect(url_for("volunteers.login"))


@bp.post("/sessions/end")
@volunteer_required
def end_sessions():
    """退出所有设备, for a phone that was lost or lent."""
    end_sessions_and_log_out()
    flash(_("已在所有设备上退出登录。"), "info")
    return redirect(url_for("volunteers.login"))
