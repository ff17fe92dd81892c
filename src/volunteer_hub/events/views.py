"""Event pages: create, edit, cancel an event with its shifts; the roster of each shift."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from sqlalchemy import select

from volunteer_hub import queries, submissions
from volunteer_hub.db import utcnow
from volunteer_hub.errors import DomainError, NotFound, ValidationFailed
from volunteer_hub.events import services, share
from volunteer_hub.events.forms import (
    EMPTY_ROWS_EDIT,
    MAX_ROWS,
    BroadcastForm,
    CancelEventForm,
    EventForm,
    SignupForm,
    form_of_request,
    parse_event_form,
    past_dates_warning,
    row_keys,
    shift_row_data,
)
from volunteer_hub.events.models import CategoryGroup, Event, EventStatus, Shift
from volunteer_hub.events.services import MAX_SHIFTS
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import ACTIVE_STATUSES, Signup, SignupSource, SignupStatus
from volunteer_hub.sms import broadcast as broadcasts
from volunteer_hub.teams import services as teams
from volunteer_hub.teams.models import Membership, Team
from volunteer_hub.transactions import on_domain_error
from volunteer_hub.web import current_viewer, form_errors, format_local, found, staff_required

bp = Blueprint("events", __name__)

GROUP_LABELS = {
    CategoryGroup.EZHOU_FIELD: _l("鄂州九大领域"),
    CategoryGroup.BAGEYI: _l("武汉“八个一”"),
    CategoryGroup.OTHER: _l("其他"),
}

#: category names are data; listed here so the catalog carries their English names
CATEGORY_NAMES = (
    _l("基层治理"),
    _l("护苗护学"),
    _l("红色宣讲"),
    _l("长江大保护"),
    _l("防汛抗旱"),
    _l("抢险救灾"),
    _l("文明创建"),
    _l("乡村振兴"),
    _l("扶弱助困"),
    _l("走访慰问"),
    _l("三送"),
    _l("双拥灯光秀"),
    _l("医疗巡诊"),
    _l("功臣疗养"),
    _l("进军营"),
    _l("解决急事难事"),
    _l("军地联谊"),
    _l("应急救援"),
    _l("英烈讲解"),
)


@bp.route("/teams/<int:team_id>/events/new", methods=["GET", "POST"])
@staff_required
def new_event(team_id: int):
    viewer = current_viewer()
    team = found(queries.visible_team, viewer, team_id)
    form, shown = form_of_request(EventForm, status=EventStatus.PUBLISHED.value)
    if shown is not None:
        return _form_page(team, None, form, *shown)
    parsed = parse_event_form(form)
    errors = parsed.errors or past_dates_warning(form, parsed, utcnow(), {})
    if errors:
        return _form_page(team, None, form, errors, 400)
    on_domain_error(lambda exc: _form_page(team, None, form, _event_errors(exc, parsed), 400))
    again = submissions.repeat_of(viewer.person_id)
    if again is not None:  # a double tap: the event was made once, by the first
        return redirect(again)
    if parsed.repeat is not None:
        event = services.create_repeating_event(
            team.id, parsed.data, parsed.shifts[0], parsed.repeat, created_by_id=viewer.person_id
        )
    else:
        event = services.create_event(
            team.id, parsed.data, parsed.shifts, created_by_id=viewer.person_id
        )
    flash(_("活动已创建"), "success")
    page = url_for("events.event", event_id=event.id)
    submissions.led_to(page)
    return redirect(page)


@bp.route("/events/<int:event_id>/edit", methods=["GET", "POST"])
@staff_required
def edit_event(event_id: int):
    viewer = current_viewer()
    event = _live_event(event_id, _("活动已取消，不能再修改"), "error")
    current = [s for s in event.shifts if not s.is_cancelled]
    if len(current) > MAX_SHIFTS:
        # Only possible for data written around the service; the form cannot carry it.
        flash(_("该活动的班次超过 %(n)d 个，无法在网页上修改", n=MAX_SHIFTS), "error")
        return redirect(url_for("events.event", event_id=event.id))
    if request.method != "POST":
        rows = [shift_row_data(s) for s in current]
        # A repeating event's weeks are all there is: no empty rows to add a shift.
        empty = 0 if event.recurrence_rule else min(EMPTY_ROWS_EDIT, MAX_ROWS - len(rows))
        form = EventForm(
            formdata=None,
            data={
                "title": event.title,
                "category": str(event.category_id),
                "location": event.location,
                "description": event.description,
                "status": event.status,
                "open_to_all": event.open_to_all,
                "shifts": rows + [{}] * empty,
            },
        )
        return _form_page(event.team, event, form, {})
    form = EventForm()
    if not form.validate_on_submit():
        return _form_page(event.team, event, form, form_errors(form), 400)
    parsed = parse_event_form(form)
    stored = {} if event.status != EventStatus.PUBLISHED else {s.id: s.starts_at for s in current}
    errors = parsed.errors or past_dates_warning(form, parsed, utcnow(), stored)
    if errors:
        return _form_page(event.team, event, form, errors, 400)

    def refused(exc: DomainError):
        # The rollback expired what was loaded; show the page from fresh rows.
        event = found(queries.visible_event, viewer, event_id)
        return _form_page(event.team, event, form, _event_errors(exc, parsed), 400)

    on_domain_error(refused)
    services.update_event(event.id, parsed.data, parsed.shifts)
    flash(_("活动已保存"), "success")
    return redirect(url_for("events.event", event_id=event_id))


@bp.route("/events/<int:event_id>/cancel", methods=["GET", "POST"])
@staff_required
def cancel_event(event_id: int):
    event = _live_event(event_id, _("该活动已经取消"), "info")
    form = CancelEventForm()
    errors: dict[str, str] = {}
    if request.method == "POST":
        if form.validate_on_submit():
            back = url_for("events.event", event_id=event_id)
            on_domain_error(back=back)
            services.cancel_event(event.id, form.reason.data)
            flash(_("活动已取消"), "success")
            return redirect(back)
        errors = form_errors(form)
    rosters = signups.roster([s.id for s in event.shifts])
    return (
        render_template(
            "events/cancel.html",
            event=event,
            form=form,
            errors=errors,
            signup_count=sum(len(r) for r in rosters.values()),
        ),
        400 if errors else 200,
    )


@dataclass
class ShiftRoster:
    shift: Shift
    confirmed: list[Signup] = field(default_factory=list)
    #: in order: the first one gets the next free seat
    waitlist: list[Signup] = field(default_factory=list)
    #: team members not yet on this shift, for the sign-up select
    candidates: list[Membership] = field(default_factory=list)
    #: whether a leader can still sign people up
    open: bool = False
    #: the shift has started: a leader puts who came on the roster (hours.walk_ins)
    walk_in: bool = False


@bp.get("/events/<int:event_id>")
@staff_required
def event(event_id: int):
    viewer = current_viewer()
    event = found(queries.visible_event, viewer, event_id)
    now = utcnow()
    rosters = signups.roster([s.id for s in event.shifts])
    members = teams.members(event.team_id)
    shifts = []
    for shift in event.shifts:
        active = rosters[shift.id]
        confirmed = [s for s in active if s.status == SignupStatus.CONFIRMED]
        live = event.status == EventStatus.PUBLISHED and not shift.is_cancelled
        started = shift.starts_at <= now
        # Before the start anyone on the shift is left out; after it, someone waitlisted
        # who came anyway may be seated as a walk-in.
        seated = {s.person_id for s in (confirmed if started else active)}
        shifts.append(
            ShiftRoster(
                shift=shift,
                confirmed=confirmed,
                waitlist=[s for s in active if s.status == SignupStatus.WAITLISTED],
                candidates=[m for m in members if m.person_id not in seated],
                open=live and not started,
                walk_in=live and started,
            )
        )
    person_ids = {s.person_id for r in rosters.values() for s in r}
    return render_template(
        "events/event.html",
        event=event,
        team=event.team,
        # Only they may name a phone from outside the team (signups.check_may_join).
        sign_up_by_phone=signups.oversees(viewer, event.team),
        shifts=shifts,
        full_phone_ids=viewer.people_with_full_phone(person_ids),
        now=now,
        form=SignupForm(formdata=None),
        broadcast_form=BroadcastForm(formdata=None),
        broadcasts=broadcasts.recent_broadcasts(event.id),
        wechat_notice=share.notice_text(event) if event.status != EventStatus.DRAFT else None,
    )


@bp.get("/events/<int:event_id>/poster.png")
@staff_required
def poster(event_id: int):
    """The event's poster to save and post in a WeChat group (events.poster). Its ETag is
    what it says, so a browser that has it gets a 304 and nothing is drawn."""
    from volunteer_hub.events.poster import poster_png

    event = found(queries.visible_event, current_viewer(), event_id)
    shared = share.shared(event)
    tag = hashlib.sha256(repr((shared, str(get_locale()))).encode()).hexdigest()[:32]
    if request.if_none_match.contains_weak(tag):  # weak comparison, as for every ETag
        return current_app.response_class(status=304, headers={"ETag": f'"{tag}"'})
    response = current_app.response_class(poster_png(shared), mimetype="image/png")
    response.set_etag(tag)
    response.headers["Content-Disposition"] = f'inline; filename="event-{event.id}-poster.png"'
    response.cache_control.private = True
    response.cache_control.no_cache = True  # ask each time: an edit changes the poster
    return response


@bp.get("/events/<int:event_id>.ics")
@login_required
def event_ics(event_id: int):
    """The event as a one-event .ics, for whoever may see it: staff over its team, and
    people signed up to one of its shifts."""
    from volunteer_hub.calendar.content import single_event_ics
    from volunteer_hub.calendar.views import ics_download

    viewer = current_viewer()
    try:
        queries.visible_event(viewer, event_id)
    except NotFound:
        on_event = db.session.scalar(
            select(Signup.id)
            .join(Shift, Shift.id == Signup.shift_id)
            .where(
                Shift.event_id == event_id,
                Signup.person_id == viewer.person_id,
                Signup.status.in_(ACTIVE_STATUSES),
            )
            .limit(1)
        )
        if on_event is None:
            abort(404)
    return ics_download(single_event_ics(event_id), f"event-{event_id}.ics")


@bp.post("/events/<int:event_id>/broadcast")
@staff_required
def broadcast(event_id: int):
    """Text the event to every member of its team (who may edit it may announce it)."""
    viewer = current_viewer()
    event = found(queries.visible_event, viewer, event_id)
    back = url_for("events.event", event_id=event.id, _anchor="broadcast")
    form = BroadcastForm()
    if not form.validate_on_submit():
        flash(_("提交失败，请重试"), "error")
        return redirect(back)
    on_domain_error(back=back)
    sent = broadcasts.broadcast_event(event.id, viewer.person_id, urgent=form.urgent.data)
    counts = (sent.queued_count, sent.held_count, sent.skipped_count)
    held_until = broadcasts.send_time(sent) if sent.held_count else None
    flash(_broadcast_summary(*counts, held_until), "success")
    return redirect(back)


def _broadcast_summary(queued: int, held: int, skipped: int, held_until) -> str:
    parts = []
    if queued or not (held or skipped):
        parts.append(_("已通知 %(n)d 人", n=queued))
    if held:
        parts.append(_("%(n)d 人将于 %(time)s 收到", n=held, time=format_local(held_until, "time")))
    if skipped:
        parts.append(_("%(n)d 人因已退订或超出每日上限未发送", n=skipped))
    return _("，").join(parts)


@bp.post("/shifts/<int:shift_id>/signups")
@staff_required
def sign_up(shift_id: int):
    viewer = current_viewer()
    shift = found(queries.visible_shift, viewer, shift_id)
    back = url_for("events.event", event_id=shift.event_id, _anchor=f"shift-{shift.id}")
    form = SignupForm()
    if not form.validate_on_submit():
        flash(_("提交失败，请重试"), "error")
        return redirect(back)
    overseer = signups.oversees(viewer, db.session.get(Team, shift.event.team_id))

    def refused(exc: DomainError):
        if isinstance(exc, signups.AlreadySignedUp):
            flash(_("%(name)s 已在该班次的名单中", name=name), "error")
        else:
            flash(exc.message, "error")
        return redirect(back)

    on_domain_error(refused)
    person = _person_to_sign_up(shift.id, shift.event.team_id, form, overseer=overseer)
    name = person.name
    result = signups.sign_up(
        shift.id,
        person.id,
        source=SignupSource.LEADER,
        acted_by_id=viewer.person_id,
        overseer=overseer,
    )
    if result.waitlist_position is None:
        flash(_("已为 %(name)s 报名，已确认", name=name), "success")
    else:
        flash(
            _(
                "已为 %(name)s 报名：名额已满，候补第 %(n)d 位",
                name=name,
                n=result.waitlist_position,
            ),
            "success",
        )
    return redirect(back)


@bp.post("/signups/<int:signup_id>/cancel")
@staff_required
def cancel_signup(signup_id: int):
    viewer = current_viewer()
    signup = db.session.get(Signup, signup_id)
    if signup is None:
        abort(404)
    shift = found(queries.visible_shift, viewer, signup.shift_id)
    back = url_for("events.event", event_id=shift.event_id, _anchor=f"shift-{shift.id}")
    name = db.session.get(Person, signup.person_id).name
    on_domain_error(back=back)
    result = signups.cancel(signup.id, acted_by_id=viewer.person_id)
    # A cancellation frees one seat, so at most one person moves up.
    promoted = [db.session.get(Person, s.person_id).name for s in result.promoted]
    flash(_("已取消 %(name)s 的报名", name=name), "success")
    for promoted_name in promoted:
        flash(_("候补的 %(name)s 已递补为正式名额", name=promoted_name), "success")
    return redirect(back)


def _person_to_sign_up(shift_id: int, team_id: int, form: SignupForm, *, overseer: bool) -> Person:
    chosen = (form.person_id.data or "").strip()
    if chosen:
        member = teams.membership(team_id, int(chosen)) if chosen.isdigit() else None
        if member is None:
            raise DomainError(_("请从名单中选择本队队员"), field="person_id")
        return member.person
    if (form.phone.data or "").strip():
        person, _created = signups.person_to_sign_up(
            shift_id, form.phone.data, form.name.data, overseer=overseer
        )
        return person
    raise DomainError(_("请选择队员，或填写手机号码"), field="person_id")


def _live_event(event_id: int, if_cancelled: str, category: str) -> Event:
    """The event the viewer may manage; a cancelled one sends them back to its page with
    the message ``if_cancelled``."""
    event = found(queries.visible_event, current_viewer(), event_id)
    if event.is_cancelled:
        flash(if_cancelled, category)
        abort(redirect(url_for("events.event", event_id=event.id)))
    return event


def _event_errors(exc: DomainError, parsed) -> dict[str, str]:
    """A refused event as form errors: by shift row where the service named rows."""
    if isinstance(exc, ValidationFailed):
        return row_keys(exc.errors, parsed.rows)
    return {"_": exc.message}


def _form_page(team: Team, event: Event | None, form: EventForm, errors, status: int = 200):
    categories = services.active_categories()
    groups = [
        (label, [c for c in categories if c.group == group])
        for group, label in GROUP_LABELS.items()
    ]
    shifts_by_id = {str(s.id): s for s in event.shifts} if event is not None else {}
    return (
        render_template(
            "events/form.html",
            team=team,
            event=event,
            form=form,
            errors=errors,
            category_groups=[(label, items) for label, items in groups if items],
            shifts_by_id=shifts_by_id,
        ),
        status,
    )
