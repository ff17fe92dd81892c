"""The leader's hours pages: attendance on each shift's roster, the team's records to
verify, one record with its trail, and service entered without a shift. The URL rules
and handlers are here; hours/pages.py builds the pages, hours/labels.py their words.

Every action parses a form, calls an hours service and redirects with a message (the
request's end commits: transactions.py); bad input comes back on the form, in Chinese,
with nothing changed. What the viewer may not manage is a 404, as everywhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from volunteer_hub import queries
from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.db import utcnow
from volunteer_hub.errors import DomainError
from volunteer_hub.events.forms import form_of_request
from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance as hours_attendance
from volunteer_hub.hours import pages, verification, walk_ins
from volunteer_hub.hours import queries as records_read
from volunteer_hub.hours import records as hours_records
from volunteer_hub.hours.forms import (
    BulkForm,
    MarkForm,
    ReasonForm,
    RecordEditForm,
    ResolveForm,
    UnplannedForm,
    VerifyForm,
    WalkInForm,
    attendance_labels,
    form_keys,
    local_date,
    local_time,
    nearest,
    parse_span_fields,
    reason_of,
    same_minute,
)
from volunteer_hub.hours.labels import format_hours
from volunteer_hub.hours.models import Attendance
from volunteer_hub.i18n import parse_time
from volunteer_hub.people.models import Person
from volunteer_hub.transactions import on_domain_error
from volunteer_hub.web import MAX_ID, current_viewer, error_dict, form_errors, found, staff_required

bp = Blueprint("hours", __name__)

# -- attendance on the roster -----------------------------------------------------------


@bp.get("/shifts/<int:shift_id>/attendance")
@staff_required
def attendance(shift_id: int):
    shift = found(queries.visible_shift, current_viewer(), shift_id)
    return pages.attendance_page(shift, MarkForm(formdata=None), {}, None)


@bp.post("/shifts/<int:shift_id>/attendance")
@staff_required
def mark(shift_id: int):
    form = MarkForm()
    viewer, shift, person_id = _posted_on_roster(shift_id, form, person=True)
    errors: dict[str, str] = {}
    started_at = ended_at = None
    if shift.starts_at > utcnow():
        errors["_"] = _("班次尚未开始，不能登记出勤")
    else:
        record = hours_attendance.records_of_shift(shift.id).get(person_id)
        shown_start, shown_end = pages.shown_span(record, shift)
        started_at = _typed_time(form.start.data, shown_start, "start", errors)
        ended_at = _typed_time(form.end.data, shown_end, "end", errors)
    if errors:
        return pages.attendance_page(shift, form, errors, person_id, 400)

    def refused(exc: DomainError):
        shift = found(queries.visible_shift, viewer, shift_id)  # fresh after the rollback
        return pages.attendance_page(shift, form, form_keys(error_dict(exc)), person_id, 400)

    on_domain_error(refused)
    hours_attendance.mark_attendance(
        shift.id,
        person_id,
        form.attendance.data or "",
        viewer=viewer,
        started_at=started_at,
        ended_at=ended_at,
    )
    name = db.session.get(Person, person_id).name
    label = attendance_labels().get(form.attendance.data, "")
    flash(_("已登记 %(name)s：%(status)s", name=name, status=label), "success")
    return redirect(url_for("hours.attendance", shift_id=shift_id, _anchor=f"person-{person_id}"))


@bp.post("/shifts/<int:shift_id>/attendance/all")
@staff_required
def mark_all(shift_id: int):
    viewer, shift, _nobody = _posted_on_roster(shift_id, BulkForm())
    back = url_for("hours.attendance", shift_id=shift.id)
    made = hours_attendance.mark_all_attended(shift.id, viewer=viewer)
    if made:
        flash(_("已按计划为 %(n)d 人登记出勤", n=made), "success")
    else:
        flash(_("名单上的人都已登记，没有改动"), "info")
    return redirect(back)


@bp.post("/shifts/<int:shift_id>/walk-ins")
@staff_required
def add_walk_in(shift_id: int):
    """Put someone who came to a running or finished shift on its roster (walk_ins): a
    member chosen from the team, or on an event open to all anyone, by phone."""
    form = WalkInForm()
    by_phone = bool((form.phone.data or "").strip())
    viewer, shift, person_id = _posted_on_roster(shift_id, form, person=not by_phone)
    if by_phone:
        added = walk_ins.add_walk_in_by_phone(
            shift.id, form.phone.data, form.name.data or "", viewer=viewer
        )
    else:
        added = walk_ins.add_walk_in(shift.id, person_id, viewer=viewer)
    person_id = added.signup.person_id
    name = db.session.get(Person, person_id).name
    flash(_("已将 %(name)s 加入名单，请登记出勤", name=name), "success")
    if added.seat_added:
        flash(_("班次已满：为 %(name)s 增加了一个名额", name=name), "info")
    return redirect(url_for("hours.attendance", shift_id=shift.id, _anchor=f"person-{person_id}"))


def _posted_on_roster(
    shift_id: int, form: FlaskForm, *, person: bool = False
) -> tuple[Viewer, Shift, int | None]:
    """The viewer, the shift (the 404 page if it is not theirs) and, with ``person``, the
    member the form names, for a form posted from the shift's roster page. A form that
    does not validate (CSRF) or names nobody is answered back on the roster with a
    message; so is a domain error later, unless the view answers it its own way."""
    viewer = current_viewer()
    shift = found(queries.visible_shift, viewer, shift_id)
    back = url_for("hours.attendance", shift_id=shift.id)
    person_id = _id(form.person_id.data) if person else None
    if not form.validate_on_submit():
        flash(_("提交失败，请重试"), "error")
        abort(redirect(back))
    if person and person_id is None:
        flash(_("请从名单中选择本队队员"), "error")
        abort(redirect(back))
    on_domain_error(back=back)
    return viewer, shift, person_id


def _typed_time(text: str | None, shown: datetime, field: str, errors: dict) -> datetime | None:
    """A time typed on the roster: left as shown, the exact time stored (seconds and all);
    changed, on the day nearest to what was shown; blank, the service's default."""
    text = (text or "").strip()
    if not text:
        return None
    typed = parse_time(text)
    if typed is None:
        errors[field] = _("请填写正确的时间（如 08:30）")
        return None
    if typed.strftime("%H:%M") == local_time(shown):
        return shown
    return nearest(typed, shown)


# -- the team's records ---------------------------------------------------------------


@bp.get("/teams/<int:team_id>/hours/records")
@staff_required
def records(team_id: int):
    team = found(queries.visible_team, current_viewer(), team_id)
    return pages.records_page(team, {})


@bp.post("/teams/<int:team_id>/hours/records/verify")
@staff_required
def verify_many(team_id: int):
    viewer = current_viewer()
    team = found(queries.visible_team, viewer, team_id)
    back = url_for("hours.records", team_id=team.id, status=pages.status_arg())
    form = VerifyForm()
    if not form.validate_on_submit():
        flash(_("提交失败，请重试"), "error")
        return redirect(back)
    chosen = form.page_record_id.data if request.form.get("verify_all") else form.record_id.data
    ids = [_id(value) for value in chosen or []]
    if None in ids:
        abort(404)
    if not ids:
        return pages.records_page(team, {"record_id": _("请先勾选要审核的记录")}, 400)
    if records_read.team_record_ids(team.id, ids) != set(ids):
        abort(404)  # not this team's: as if it did not exist

    def refused(exc: DomainError):
        team = found(queries.visible_team, viewer, team_id)  # fresh after the rollback
        return pages.records_page(team, {"record_id": exc.message}, 400)

    on_domain_error(refused)
    changed = verification.verify(ids, viewer=viewer)
    flash(_("已审核通过 %(n)d 条记录", n=changed), "success")
    return redirect(back)


# -- one record -------------------------------------------------------------------------


@bp.get("/hours/records/<int:record_id>")
@staff_required
def record(record_id: int):
    page = found(records_read.record_page, current_viewer(), record_id)
    return pages.record_page(page)


@bp.post("/hours/records/<int:record_id>/verify")
@staff_required
def verify_one(record_id: int):
    viewer = current_viewer()
    page = found(records_read.record_page, viewer, record_id)
    back = url_for("hours.record", record_id=page.record.id)
    if not BulkForm().validate_on_submit():
        flash(_("提交失败，请重试"), "error")
        return redirect(back)
    on_domain_error(back=back)
    verification.verify([record_id], viewer=viewer)
    flash(_("已审核通过"), "success")
    return redirect(back)


@bp.post("/hours/records/<int:record_id>/edit")
@staff_required
def edit(record_id: int):
    return _edit(record_id, RecordEditForm, "edit")


@bp.post("/hours/records/<int:record_id>/resolve")
@staff_required
def resolve(record_id: int):
    return _edit(record_id, ResolveForm, "resolve")


def _edit(record_id: int, form_class, which: str):
    """Edit a record, or resolve its correction request with the edits it called for."""
    viewer = current_viewer()
    page = found(records_read.record_page, viewer, record_id)
    form = form_class()
    if not form.validate_on_submit():
        return pages.record_page(page, {which: form}, {which: form_errors(form)}, 400)
    errors: dict[str, str] = {}
    edits = _edits(page, form, errors)
    if which == "edit" and not errors and not edits:
        errors["_"] = _("没有需要保存的修改")
    if errors:
        return pages.record_page(page, {which: form}, {which: errors}, 400)
    on_domain_error(_refused_on_record(viewer, record_id, which, form))
    if which == "edit":
        hours_records.edit_record(record_id, viewer=viewer, reason=reason_of(form), **edits)
    else:
        hours_records.resolve_correction(record_id, viewer=viewer, reason=reason_of(form), **edits)
    flash(_("记录已修改") if which == "edit" else _("更正申请已处理"), "success")
    return redirect(url_for("hours.record", record_id=record_id))


def _refused_on_record(viewer, record_id: int, which: str, form):
    """The answer to a refused record action: the record page again, from fresh rows
    (the rollback expired what was loaded), with the service's errors on its form."""

    def refused(exc: DomainError):
        page = found(records_read.record_page, viewer, record_id)
        return pages.record_page(page, {which: form}, {which: form_keys(error_dict(exc))}, 400)

    return refused


def _edits(page: records_read.RecordPage, form: RecordEditForm, errors: dict) -> dict[str, Any]:
    """What the form changes, as arguments of hours_records.edit_record: only fields that
    differ from the record as shown."""
    record = page.record
    edits: dict[str, Any] = {}
    attendance = form.attendance.data or ""
    if attendance != record.attendance:
        edits["attendance"] = attendance
    content = (form.content.data or "").strip()
    if content != record.content:
        edits["content"] = content
    if record.shift_id is not None and bool(form.over_shift_length.data) != bool(
        record.over_shift_length
    ):
        edits["over_shift_length"] = bool(form.over_shift_length.data)
    if attendance == Attendance.ABSENT:
        return edits  # a no-show counts nothing: its times are left alone
    shown_start, shown_end = pages.shown_span(record, page.shift)
    typed = [(form.date.data or "").strip(), form.start.data, form.end.data]
    if typed == [local_date(shown_start), local_time(shown_start), local_time(shown_end)]:
        if (shown_start, shown_end) == (record.started_at, record.ended_at):
            return edits
        started_at, ended_at = shown_start, shown_end
    else:
        span = parse_span_fields(form, errors)
        if span is None:
            return edits
        started_at, ended_at = span
        started_at = shown_start if same_minute(started_at, shown_start) else started_at
        ended_at = shown_end if same_minute(ended_at, shown_end) else ended_at
    if started_at != record.started_at:
        edits["started_at"] = started_at
    if ended_at != record.ended_at:
        edits["ended_at"] = ended_at
    return edits


@bp.post("/hours/records/<int:record_id>/reject")
@staff_required
def reject(record_id: int):
    return _with_reason(record_id, "reject", verification.reject, _("已不予认定"))


@bp.post("/hours/records/<int:record_id>/delete")
@staff_required
def delete(record_id: int):
    return _with_reason(record_id, "delete", hours_records.delete_record, _("记录已删除"))


def _with_reason(record_id: int, action: str, act, done: str):
    """A record action that needs only a reason (reject, delete): ``act(record_id,
    viewer=, reason=)``, or the record page again with the form's errors, nothing changed.
    Then back to the record, or for a deleted one to its team's records."""
    viewer = current_viewer()
    page = found(records_read.record_page, viewer, record_id)
    if action == "delete":
        target = url_for("hours.records", team_id=page.team.id)
    else:
        target = url_for("hours.record", record_id=record_id)
    form = ReasonForm()
    if not form.validate_on_submit():
        return pages.record_page(page, {action: form}, {action: form_errors(form)}, 400)
    on_domain_error(_refused_on_record(viewer, record_id, action, form))
    act(record_id, viewer=viewer, reason=reason_of(form))
    flash(done, "success")
    return redirect(target)


# -- service not planned as a shift ---------------------------------------------------


@bp.route("/teams/<int:team_id>/hours/records/new", methods=["GET", "POST"])
@staff_required
def new_unplanned(team_id: int):
    viewer = current_viewer()
    team = found(queries.visible_team, viewer, team_id)
    form, shown = form_of_request(UnplannedForm, date=local_date(utcnow()))
    if shown is not None:
        return pages.unplanned_page(team, form, *shown)
    errors: dict[str, str] = {}
    person_ids = [_id(value) for value in form.person_ids.data or []]
    if not person_ids or None in person_ids:
        errors["person_ids"] = _("请选择队员")
    category_id = _id(form.category.data)
    span = parse_span_fields(form, errors)
    if errors or span is None:
        return pages.unplanned_page(team, form, errors, 400)

    def refused(exc: DomainError):
        team = found(queries.visible_team, viewer, team_id)  # fresh after the rollback
        return pages.unplanned_page(team, form, form_keys(error_dict(exc)), 400)

    on_domain_error(refused)
    made = hours_records.add_unplanned_service(
        team.id,
        person_ids,
        viewer=viewer,
        category_id=category_id,
        content=form.content.data or "",
        started_at=span[0],
        ended_at=span[1],
        verified=bool(form.verified.data),
    )
    names = _("、").join(db.session.get(Person, record.person_id).name for record in made)
    hours = format_hours(made[0].hours)
    flash(_("已登记 %(name)s 的计划外服务 %(hours)s 小时", name=names, hours=hours), "success")
    return redirect(url_for("hours.records", team_id=team_id))


@bp.app_template_filter("service_hours")
def service_hours(minutes: int) -> str:
    return _("%(hours)s 小时", hours=format_hours(minutes / 60))


def _id(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and 0 < int(value) <= MAX_ID else None
