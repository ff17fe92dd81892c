"""The leader's hours pages: attendance on each shift's roster, the team's records to
verify, one record with its trail, and service entered without a shift.

Every action parses a form, calls an hours service, commits and redirects with a message;
bad input comes back on the form, in Chinese, with nothing changed. What the viewer may
not manage is a 404, as everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from volunteer_hub import queries
from volunteer_hub.db import utcnow
from volunteer_hub.errors import DomainError
from volunteer_hub.events.models import Shift
from volunteer_hub.events.services import active_categories
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance as hours_attendance
from volunteer_hub.hours import queries as records_read
from volunteer_hub.hours import records as hours_records
from volunteer_hub.hours import verification
from volunteer_hub.hours.forms import (
    BulkForm,
    MarkForm,
    ReasonForm,
    RecordEditForm,
    ResolveForm,
    UnplannedForm,
    VerifyForm,
    attendance_labels,
    form_keys,
    local_date,
    local_time,
    nearest,
    parse_span_fields,
    reason_of,
    same_minute,
)
from volunteer_hub.hours.models import Attendance, RecordChange, RecordStatus, ServiceRecord
from volunteer_hub.i18n import parse_time
from volunteer_hub.people.models import Person
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import SignupStatus
from volunteer_hub.teams import services as teams
from volunteer_hub.teams.models import Team
from volunteer_hub.web import (
    MAX_ID,
    current_viewer,
    error_dict,
    form_errors,
    format_local,
    found,
    staff_required,
)

bp = Blueprint("hours", __name__)

#: records per page of the team's list
PER_PAGE = 50


# -- attendance on the roster -----------------------------------------------------------


@dataclass
class RosterRow:
    person: Person
    record: ServiceRecord | None
    #: holds a confirmed seat (others are here because they have a record)
    confirmed: bool
    #: the times the row's inputs show: the record's span, else check-in/out or the plan
    shown_start: datetime
    shown_end: datetime


@bp.get("/shifts/<int:shift_id>/attendance")
@staff_required
def attendance(shift_id: int):
    shift = found(queries.visible_shift, current_viewer(), shift_id)
    return _attendance_page(shift, MarkForm(formdata=None), {}, None)


@bp.post("/shifts/<int:shift_id>/attendance")
@staff_required
def mark(shift_id: int):
    viewer = current_viewer()
    shift = found(queries.visible_shift, viewer, shift_id)
    form = MarkForm()
    person_id = _id(form.person_id.data)
    if not form.validate_on_submit() or person_id is None:
        flash(_("提交失败，请重试"), "error")
        return redirect(url_for("hours.attendance", shift_id=shift.id))
    errors: dict[str, str] = {}
    started_at = ended_at = None
    if shift.starts_at > utcnow():
        errors["_"] = _("班次尚未开始，不能登记出勤")
    else:
        record = hours_attendance.records_of_shift(shift.id).get(person_id)
        shown_start, shown_end = shown_span(record, shift)
        started_at = _typed_time(form.start.data, shown_start, "start", errors)
        ended_at = _typed_time(form.end.data, shown_end, "end", errors)
    if not errors:
        try:
            hours_attendance.mark_attendance(
                shift.id,
                person_id,
                form.attendance.data or "",
                viewer=viewer,
                started_at=started_at,
                ended_at=ended_at,
            )
            name = db.session.get(Person, person_id).name
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            errors = form_keys(error_dict(exc))
        else:
            label = attendance_labels().get(form.attendance.data, "")
            flash(_("已登记 %(name)s：%(status)s", name=name, status=label), "success")
            return redirect(
                url_for("hours.attendance", shift_id=shift_id, _anchor=f"person-{person_id}")
            )
    shift = found(queries.visible_shift, viewer, shift_id)
    return _attendance_page(shift, form, errors, person_id, 400)


@bp.post("/shifts/<int:shift_id>/attendance/all")
@staff_required
def mark_all(shift_id: int):
    viewer = current_viewer()
    shift = found(queries.visible_shift, viewer, shift_id)
    back = url_for("hours.attendance", shift_id=shift.id)
    if not BulkForm().validate_on_submit():
        flash(_("提交失败，请重试"), "error")
        return redirect(back)
    try:
        made = hours_attendance.mark_all_attended(shift.id, viewer=viewer)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(back)
    if made:
        flash(_("已按计划为 %(n)d 人登记出勤", n=made), "success")
    else:
        flash(_("名单上的人都已登记，没有改动"), "info")
    return redirect(back)


def shown_span(record: ServiceRecord | None, shift: Shift | None) -> tuple[datetime, datetime]:
    """The times a form shows for a record: its span; for a no-show (whose span is empty)
    or no record yet, the check-in/out times or else the plan."""
    if record is not None and (record.attendance != Attendance.ABSENT or shift is None):
        return record.started_at, record.ended_at
    assert shift is not None
    start = (record.checked_in_at if record else None) or shift.starts_at
    end = (record.checked_out_at if record else None) or shift.ends_at
    return start, end


def on_site(record: ServiceRecord | None) -> bool:
    """Checked in and not out yet (nor closed by the sweep): still on site."""
    return (
        record is not None
        and record.checked_in_at is not None
        and record.checked_out_at is None
        and not record.auto_closed
        and record.attendance != Attendance.ABSENT
    )


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


def _attendance_page(shift: Shift, form: MarkForm, errors, error_person_id, status: int = 200):
    viewer = current_viewer()
    now = utcnow()
    event = shift.event
    confirmed = [
        s for s in signups.roster([shift.id])[shift.id] if s.status == SignupStatus.CONFIRMED
    ]
    records = hours_attendance.records_of_shift(shift.id)
    on_roster = {s.person_id for s in confirmed}
    others = records_read.people_by_id(set(records) - on_roster)
    rows = [
        RosterRow(
            s.person, records.get(s.person_id), True, *shown_span(records.get(s.person_id), shift)
        )
        for s in confirmed
    ] + [
        RosterRow(person, records[person.id], False, *shown_span(records[person.id], shift))
        for person in sorted(others.values(), key=lambda p: (p.name, p.id))
    ]
    if error_person_id not in {row.person.id for row in rows}:
        error_person_id = None  # no row to show the error on: shown above the list
    team = db.session.get(Team, event.team_id)
    summary = {
        "confirmed": len(confirmed),
        "marked": len(records),
        "absent": sum(r.attendance == Attendance.ABSENT for r in records.values()),
        "not_checked_out": sum(r.auto_closed for r in records.values()),
    }
    return (
        render_template(
            "hours/attendance.html",
            shift=shift,
            event=event,
            team=team,
            rows=rows,
            summary=summary,
            now=now,
            started=shift.starts_at <= now,
            ended=shift.ends_at <= now,
            cancelled=shift.is_cancelled or event.is_cancelled,
            form=form,
            errors=errors,
            error_person_id=error_person_id,
            full_phone_ids=viewer.people_with_full_phone(r.person.id for r in rows),
            bulk_form=BulkForm(formdata=None),
            attendance_labels=attendance_labels(),
            status_labels=status_labels(),
            local_time=local_time,
        ),
        status,
    )


# -- the team's records ---------------------------------------------------------------


@bp.get("/teams/<int:team_id>/hours/records")
@staff_required
def records(team_id: int):
    team = found(queries.visible_team, current_viewer(), team_id)
    return _records_page(team, {})


@bp.post("/teams/<int:team_id>/hours/records/verify")
@staff_required
def verify_many(team_id: int):
    viewer = current_viewer()
    team = found(queries.visible_team, viewer, team_id)
    back = url_for("hours.records", team_id=team.id, status=_status_arg())
    form = VerifyForm()
    if not form.validate_on_submit():
        flash(_("提交失败，请重试"), "error")
        return redirect(back)
    ids = [_id(value) for value in form.record_id.data or []]
    if None in ids:
        abort(404)
    if not ids:
        return _records_page(team, {"record_id": _("请先勾选要审核的记录")}, 400)
    if records_read.team_record_ids(team.id, ids) != set(ids):
        abort(404)  # not this team's: as if it did not exist
    try:
        changed = verification.verify(ids, viewer=viewer)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        team = found(queries.visible_team, viewer, team_id)
        return _records_page(team, {"record_id": exc.message}, 400)
    flash(_("已审核通过 %(n)d 条记录", n=changed), "success")
    return redirect(back)


def _records_page(team: Team, errors: dict[str, str], status: int = 200):
    selected = _status_arg()
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() and 0 < int(page) < 10_000 else 1
    rows = records_read.team_records(
        team.id, selected, limit=PER_PAGE + 1, offset=(page - 1) * PER_PAGE
    )
    return (
        render_template(
            "hours/records.html",
            team=team,
            records=rows[:PER_PAGE],
            has_next=len(rows) > PER_PAGE,
            page=page,
            selected=selected,
            counts=records_read.status_counts(team.id),
            corrections=records_read.open_corrections(team.id),
            form=VerifyForm(formdata=None),
            errors=errors,
            attendance_labels=attendance_labels(),
            status_labels=status_labels(),
        ),
        status,
    )


# -- one record -------------------------------------------------------------------------


@bp.get("/hours/records/<int:record_id>")
@staff_required
def record(record_id: int):
    page = found(records_read.record_page, current_viewer(), record_id)
    return _record_page(page)


@bp.post("/hours/records/<int:record_id>/verify")
@staff_required
def verify_one(record_id: int):
    viewer = current_viewer()
    page = found(records_read.record_page, viewer, record_id)
    back = url_for("hours.record", record_id=page.record.id)
    if not BulkForm().validate_on_submit():
        flash(_("提交失败，请重试"), "error")
        return redirect(back)
    try:
        verification.verify([record_id], viewer=viewer)
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(back)
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
        return _record_page(page, {which: form}, {which: form_errors(form)}, 400)
    errors: dict[str, str] = {}
    edits = _edits(page, form, errors)
    if which == "edit" and not errors and not edits:
        errors["_"] = _("没有需要保存的修改")
    if not errors:
        try:
            if which == "edit":
                hours_records.edit_record(record_id, viewer=viewer, reason=reason_of(form), **edits)
            else:
                hours_records.resolve_correction(
                    record_id, viewer=viewer, reason=reason_of(form), **edits
                )
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            errors = form_keys(error_dict(exc))
        else:
            flash(_("记录已修改") if which == "edit" else _("更正申请已处理"), "success")
            return redirect(url_for("hours.record", record_id=record_id))
    page = found(records_read.record_page, viewer, record_id)
    return _record_page(page, {which: form}, {which: errors}, 400)


def _edits(page: records_read.RecordPage, form: RecordEditForm, errors: dict) -> dict[str, Any]:
    """What the form changes, as arguments of records.edit_record: only fields that
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
    shown_start, shown_end = shown_span(record, page.shift)
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
    return _with_reason(
        record_id,
        "reject",
        lambda viewer, reason: verification.reject(record_id, viewer=viewer, reason=reason),
        _("已不予认定"),
        lambda page: url_for("hours.record", record_id=record_id),
    )


@bp.post("/hours/records/<int:record_id>/delete")
@staff_required
def delete(record_id: int):
    return _with_reason(
        record_id,
        "delete",
        lambda viewer, reason: hours_records.delete_record(record_id, viewer=viewer, reason=reason),
        _("记录已删除"),
        lambda page: url_for("hours.records", team_id=page.team.id),
    )


def _with_reason(record_id: int, action: str, act, done: str, back):
    """A record action that needs only a reason (reject, delete): run it, or show the
    record page again with the form's errors and nothing changed."""
    viewer = current_viewer()
    page = found(records_read.record_page, viewer, record_id)
    target = back(page)
    form = ReasonForm()
    errors = form_errors(form) if not form.validate_on_submit() else {}
    if not errors:
        try:
            act(viewer, reason_of(form))
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            errors = form_keys(error_dict(exc))
        else:
            flash(done, "success")
            return redirect(target)
    page = found(records_read.record_page, viewer, record_id)
    return _record_page(page, {action: form}, {action: errors}, 400)


def _record_page(
    page: records_read.RecordPage,
    forms: dict[str, Any] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    status: int = 200,
):
    forms = dict(forms or {})
    record = page.record
    shown_start, shown_end = shown_span(record, page.shift)
    data = {
        "attendance": record.attendance,
        "date": local_date(shown_start),
        "start": local_time(shown_start),
        "end": local_time(shown_end),
        "content": record.content,
        "over_shift_length": record.over_shift_length,
    }
    forms.setdefault("edit", RecordEditForm(formdata=None, data=data))
    forms.setdefault("resolve", ResolveForm(formdata=None, data=data))
    forms.setdefault("reject", ReasonForm(formdata=None))
    forms.setdefault("delete", ReasonForm(formdata=None))
    return (
        render_template(
            "hours/record.html",
            page=page,
            record=record,
            forms=forms,
            errors=errors or {},
            verify_form=BulkForm(formdata=None),
            trail=[
                (change, name, describe(change)) for change, name in records_read.trail(record.id)
            ],
            on_site=on_site(record),
            attendance_labels=attendance_labels(),
            status_labels=status_labels(),
            action_labels=action_labels(),
            channel_labels=channel_labels(),
        ),
        status,
    )


# -- service not planned as a shift ---------------------------------------------------


@bp.route("/teams/<int:team_id>/hours/records/new", methods=["GET", "POST"])
@staff_required
def new_unplanned(team_id: int):
    viewer = current_viewer()
    team = found(queries.visible_team, viewer, team_id)
    if request.method != "POST":
        today = local_date(utcnow())
        form = UnplannedForm(formdata=None, data={"date": today})
        return _unplanned_page(team, form, {})
    form = UnplannedForm()
    if not form.validate_on_submit():
        return _unplanned_page(team, form, form_errors(form), 400)
    errors: dict[str, str] = {}
    person_id = _id(form.person_id.data)
    if person_id is None:
        errors["person_id"] = _("请选择队员")
    category_id = _id(form.category.data)
    span = parse_span_fields(form, errors)
    if not errors and span is not None:
        try:
            record = hours_records.add_unplanned(
                team.id,
                person_id,
                viewer=viewer,
                category_id=category_id,
                content=form.content.data or "",
                started_at=span[0],
                ended_at=span[1],
                verified=bool(form.verified.data),
            )
            name, hours = db.session.get(Person, person_id).name, record.hours
            db.session.commit()
        except DomainError as exc:
            db.session.rollback()
            errors = form_keys(error_dict(exc))
        else:
            flash(
                _(
                    "已登记 %(name)s 的计划外服务 %(hours)s 小时",
                    name=name,
                    hours=format_hours(hours),
                ),
                "success",
            )
            return redirect(url_for("hours.records", team_id=team_id))
    team = found(queries.visible_team, viewer, team_id)
    return _unplanned_page(team, form, errors, 400)


def _unplanned_page(team: Team, form: UnplannedForm, errors, status: int = 200):
    members = teams.members(team.id)
    form.person_id.choices = [("", _("请选择"))] + [
        (str(m.person_id), m.person.name) for m in members
    ]
    form.category.choices = [("", _("请选择"))] + [
        (str(c.id), _(c.name)) for c in active_categories()
    ]
    return (
        render_template("hours/unplanned.html", team=team, form=form, errors=errors),
        status,
    )


# -- words and numbers -----------------------------------------------------------------


def status_labels() -> dict[str, str]:
    return {
        RecordStatus.PENDING.value: _("待审核"),
        RecordStatus.VERIFIED.value: _("已认定"),
        RecordStatus.REJECTED.value: _("不予认定"),
    }


def action_labels() -> dict[str, str]:
    return {
        "created": _("登记"),
        "checked_in": _("签到"),
        "checked_out": _("签退"),
        "auto_closed": _("未签退，自动结束"),
        "marked": _("登记出勤"),
        "edited": _("修改"),
        "verified": _("审核通过"),
        "rejected": _("不予认定"),
        "correction_requested": _("申请更正"),
        "correction_resolved": _("更正已处理"),
        "deleted": _("删除"),
    }


def channel_labels() -> dict[str, str]:
    return {"web": _("网页"), "sms": _("短信"), "api": _("接口"), "system": _("系统")}


def field_labels() -> dict[str, str]:
    return {
        "attendance": _("出勤"),
        "started_at": _("开始时间"),
        "ended_at": _("结束时间"),
        "checked_in_at": _("签到时间"),
        "checked_out_at": _("签退时间"),
        "minutes": _("计入时长"),
        "content": _("服务内容"),
        "over_shift_length": _("超出班次时长也计入"),
        "auto_closed": _("未签退"),
        "status": _("状态"),
        "category_id": _("服务类别"),
        "correction_note": _("更正申请"),
    }


def describe(change: RecordChange) -> list[tuple[str, str, str]]:
    """A change's fields as (what, before, after) in words; a snapshot (a new or deleted
    record) is not a list of changes and says nothing here."""
    labels = field_labels()
    out = []
    for name, values in (change.changes or {}).items():
        if name not in labels or not isinstance(values, list) or len(values) != 2:
            continue
        if name in ("month", "decided_by_id", "decided_at", "correction_requested_at"):
            continue
        out.append((labels[name], _value(name, values[0]), _value(name, values[1])))
    return out


def _value(name: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if name.endswith("_at"):
        try:
            return format_local(datetime.fromisoformat(value))
        except (TypeError, ValueError):
            return str(value)
    if name == "minutes":
        return _("%(hours)s 小时", hours=format_hours(int(value) / 60))
    if name == "attendance":
        return attendance_labels().get(value, str(value))
    if name == "status":
        return status_labels().get(value, str(value))
    if isinstance(value, bool):
        return _("是") if value else _("否")
    return str(value)


def format_hours(hours: float) -> str:
    """2 → "2", 1.5 → "1.5"."""
    return f"{hours:.2f}".rstrip("0").rstrip(".")


@bp.app_template_filter("service_hours")
def service_hours(minutes: int) -> str:
    return _("%(hours)s 小时", hours=format_hours(minutes / 60))


def _id(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isdigit() and 0 < int(value) <= MAX_ID else None


def _status_arg() -> str | None:
    value = request.args.get("status")
    return value if value in {status.value for status in RecordStatus} else None
