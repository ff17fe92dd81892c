"""Call-out pages: start one from an event (preview, then confirm), and its live board.

The board page polls ``board.json`` every few seconds; the answer carries the board's
own HTML (the same template the page renders, so there is one way to draw it) and an
ETag, so a poll of an unchanged board is a 304 of no body. Scope as in the API: the
event, teams, units and call-outs the viewer may manage; anything else is a 404.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from volunteer_hub import queries, submissions
from volunteer_hub.callouts import board as boards
from volunteer_hub.callouts import services
from volunteer_hub.callouts.forms import CalloutForm, NoteForm
from volunteer_hub.callouts.models import Callout
from volunteer_hub.callouts.texts import Duty, call
from volunteer_hub.db import utcnow
from volunteer_hub.errors import DomainError, NotFound
from volunteer_hub.extensions import db
from volunteer_hub.people.skills import Skill
from volunteer_hub.teams.models import Team
from volunteer_hub.transactions import on_domain_error
from volunteer_hub.units.models import Unit
from volunteer_hub.web import current_viewer, error_dict, form_errors, found, staff_required

bp = Blueprint("callouts", __name__)

#: how often the board asks for news, in milliseconds (the page says it to its script)
POLL_MS = 3000


# -- starting -------------------------------------------------------------------------


@bp.route("/events/<int:event_id>/callouts", methods=["GET", "POST"])
@staff_required
def start(event_id: int):
    viewer = current_viewer()
    event = found(queries.visible_event, viewer, event_id)
    form = CalloutForm(formdata=None if request.method == "GET" else request.form)
    _offer_choices(form, event)
    if request.method == "GET":
        form.shifts.data = [str(s.id) for s in _open_shifts(event)][:1]
        form.audience.data = [f"team:{event.team_id}"]
        return _start_page(event, form, {})
    if not form.validate_on_submit():
        return _start_page(event, form, form_errors(form), status=400)
    parsed = _parse(form)
    if isinstance(parsed, dict):
        return _start_page(event, form, parsed, status=400)
    fingerprint = _fingerprint(request.form)
    confirmed = request.form.get("action") == "confirm" and form.previewed.data == fingerprint
    on_domain_error(lambda exc: _start_page(event, form, error_dict(exc), status=400))
    if not confirmed:
        preview = services.preview(viewer, parsed)
        form.previewed.data = fingerprint
        changed = request.form.get("action") == "confirm"
        return _start_page(event, form, {}, preview=preview, parsed=parsed, changed=changed)
    again = submissions.repeat_of(viewer.person_id)
    if again is not None:  # a double tap: the call-out went out once, from the first
        return redirect(again)
    callout, started = services.start(viewer, parsed)
    flash(_("召集已发出：第一圈 %(n)d 人", n=started.recipients), "success")
    board = url_for("callouts.board", callout_id=callout.id)
    submissions.led_to(board)
    return redirect(board)


def _open_shifts(event):
    now = utcnow()
    return [s for s in event.shifts if not s.is_cancelled and s.starts_at > now]


def _offer_choices(form: CalloutForm, event) -> None:
    viewer = current_viewer()
    form.shifts.choices = [(str(s.id), s) for s in _open_shifts(event)]
    teams = db.session.scalars(select(Team).where(viewer.team_condition()).order_by(Team.name))
    units = db.session.scalars(select(Unit).where(viewer.unit_condition()).order_by(Unit.path))
    targets = [(f"unit:{u.id}", _("%(unit)s及下级单位的全部服务队", unit=u.name)) for u in units]
    targets += [(f"team:{t.id}", t.name) for t in teams]
    form.audience.choices = targets
    for ring in form.rings:
        ring.target.choices = [("", _("（不设这一圈）")), *targets]
    form.skills.choices = [
        (name, name) for name in db.session.scalars(select(Skill.name).order_by(Skill.name))
    ]


def _parse(form: CalloutForm) -> services.CalloutInput | dict[str, str]:
    """The service's input, or the form errors of what cannot even be asked."""
    errors: dict[str, str] = {}
    first = _ring_input(form.audience.data or [], 0)
    if first is None:
        errors["audience"] = _("请选择服务队，或选一个单位（含下级单位）")
    later = []
    for index, ring in enumerate(form.rings):
        if not ring.target.data:
            continue
        if ring.after_minutes.data is None:
            errors[f"rings-{index}-after_minutes"] = _("请填写这一圈在开始后几分钟发出")
            continue
        later.append(_ring_input([ring.target.data], ring.after_minutes.data))
    if errors or first is None:
        return errors
    return services.CalloutInput(
        shift_ids=[int(s) for s in form.shifts.data or [] if s.isdigit()],
        audience=first,
        skills=list(form.skills.data or []),
        rings=[r for r in later if r is not None],
        message=form.message.data or "",
        urgent=bool(form.urgent.data),
    )


def _ring_input(targets: list[str], after_minutes: int) -> services.RingInput | None:
    """ "team:5" ticks → those teams; one "unit:3" → that unit; a unit with anything else,
    or nothing: None."""
    kinds = [t.partition(":") for t in targets]
    if any(not ident.isdigit() for _kind, _sep, ident in kinds):
        return None
    units = [int(ident) for kind, _sep, ident in kinds if kind == "unit"]
    team_ids = [int(ident) for kind, _sep, ident in kinds if kind == "team"]
    if units and (len(units) > 1 or team_ids):
        return None
    if units:
        return services.RingInput(unit_id=units[0], after_minutes=after_minutes)
    if not team_ids:
        return None
    return services.RingInput(team_ids=team_ids, after_minutes=after_minutes)


def _fingerprint(posted) -> str:
    """What the caller chose, whatever the order of the fields."""
    kept = sorted(
        (key, value)
        for key, values in posted.lists()
        for value in values
        if key not in ("csrf_token", "previewed", "action", submissions.FIELD)
    )
    return hashlib.sha256(repr(kept).encode()).hexdigest()[:32]


def _start_page(event, form, errors, *, status=200, preview=None, parsed=None, changed=False):
    text = None
    if preview is not None and parsed is not None:
        chosen = [s for s in event.shifts if s.id in set(parsed.shift_ids)]
        chosen.sort(key=lambda s: (s.starts_at, s.id))
        # The code is drawn at the start; the preview shows where it goes.
        duty = Duty.of(event, chosen[0], chosen[-1])
        text = call(
            duty,
            message=services.checked_message(parsed.message),
            code="编号",  # SMS text is Chinese whatever the page language
            urgent=parsed.urgent,
        ).text
    earlier = db.session.scalars(
        select(Callout).where(Callout.event_id == event.id).order_by(Callout.created_at.desc())
    ).all()
    return (
        render_template(
            "callouts/start.html",
            event=event,
            form=form,
            errors=errors,
            preview=preview,
            sms_text=text,
            changed=changed,
            earlier=earlier,
            reasons=REASON_LABELS,
            status_labels=STATUS_LABELS,
            message_length=services.MESSAGE_LENGTH,
        ),
        status,
    )


REASON_LABELS = {
    "opted_out": _l("已退订短信"),
    "no_skill": _l("不具备所需技能"),
    "busy": _l("已在时间重叠的班次上"),
    "resting": _l("上一班结束不久，需要休息"),
    "capped": _l("今天已收到规定条数的通知"),
}
STATUS_LABELS = {
    "active": _l("进行中"),
    "full": _l("已满员"),
    "started": _l("已开始"),
    "stopped": _l("已停止"),
}


# -- the board ------------------------------------------------------------------------


def _board_of(callout_id: int) -> boards.Board:
    viewer = current_viewer()
    return boards.board(found(services.visible_callout, viewer, callout_id), viewer)


@bp.get("/callouts/<int:callout_id>")
@staff_required
def board(callout_id: int):
    shown = _board_of(callout_id)
    return render_template(
        "callouts/board.html",
        board=shown,
        note_form=NoteForm(formdata=None),
        poll_ms=POLL_MS,
        status_labels=STATUS_LABELS,
    )


@bp.get("/callouts/<int:callout_id>/board.json")
@staff_required
def board_json(callout_id: int):
    shown = _board_of(callout_id)
    version = shown.version()
    if request.if_none_match.contains_weak(version):  # weak comparison, as for every ETag
        response = jsonify()
        response.status_code = 304
        response.set_etag(version)
        return response
    response = jsonify(
        version=version,
        status=shown.callout.status,
        seats=shown.progress.seats,
        filled=shown.progress.filled,
        html=render_template("callouts/_board.html", board=shown, status_labels=STATUS_LABELS),
    )
    response.set_etag(version)
    response.headers["Cache-Control"] = "no-cache"
    return response


def _back(callout_id: int) -> str:
    return url_for("callouts.board", callout_id=callout_id)


@bp.post("/callouts/<int:callout_id>/stop")
@staff_required
def stop(callout_id: int):
    on_domain_error(back=_back(callout_id), unless=NotFound)
    services.stop(current_viewer(), callout_id)
    flash(_("召集已停止，已向已报名和候补的队员发出结束短信"), "success")
    return redirect(_back(callout_id))


@bp.post("/callouts/<int:callout_id>/next-ring")
@staff_required
def next_ring(callout_id: int):
    on_domain_error(back=_back(callout_id), unless=NotFound)
    ring = boards.fire_next_ring(current_viewer(), callout_id)
    flash(_("第 %(n)d 圈已发出：%(count)d 人", n=ring.number + 1, count=ring.texted), "success")
    return redirect(_back(callout_id))


@bp.post("/callouts/<int:callout_id>/note")
@staff_required
def note(callout_id: int):
    form = NoteForm()
    if not form.validate_on_submit():
        flash(_("提交失败，请重试"), "error")
        return redirect(_back(callout_id))

    def refused(exc: DomainError):
        flash(next(iter(error_dict(exc).values())), "error")
        return redirect(_back(callout_id) + "#note")

    on_domain_error(refused, unless=NotFound)
    sent = boards.text_seated(current_viewer(), callout_id, form.message.data or "")
    flash(_("已发给 %(n)d 位已留位的队员", n=sent), "success")
    return redirect(_back(callout_id))
