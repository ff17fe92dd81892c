"""The hours pages as the handlers in hours/views.py show them: a shift's roster with
its attendance, the team's records, one record with its forms and trail, the form for
service not planned as a shift."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import render_template, request
from flask_babel import gettext as _

from volunteer_hub.db import utcnow
from volunteer_hub.events.models import EventStatus, Shift
from volunteer_hub.events.services import active_categories
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance as hours_attendance
from volunteer_hub.hours import forms
from volunteer_hub.hours import queries as records_read
from volunteer_hub.hours.labels import action_labels, channel_labels, describe, status_labels
from volunteer_hub.hours.models import Attendance, RecordStatus, ServiceRecord
from volunteer_hub.people.models import Person
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import SignupStatus
from volunteer_hub.teams import services as teams
from volunteer_hub.teams.models import Team
from volunteer_hub.web import current_viewer

#: records per page of the team's list
PER_PAGE = 50


@dataclass
class RosterRow:
    person: Person
    record: ServiceRecord | None
    #: holds a confirmed seat (others are here because they have a record)
    confirmed: bool
    #: the times the row's inputs show: the record's span, else check-in/out or the plan
    shown_start: datetime
    shown_end: datetime


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
    return record is not None and never_checked_out(record) and not record.auto_closed


def never_checked_out(record: ServiceRecord) -> bool:
    """Checked in and not out: on site now, or closed at the shift's end by the sweep."""
    return (
        record.checked_in_at is not None
        and record.checked_out_at is None
        and record.attendance != Attendance.ABSENT
    )


def attendance_page(shift: Shift, form: forms.MarkForm, errors, error_person_id, status: int = 200):
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
        # Checked in, never out: those still on site and those the sweep closed alike.
        "not_checked_out": sum(never_checked_out(r) for r in records.values()),
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
            bulk_form=forms.BulkForm(formdata=None),
            attendance_labels=forms.attendance_labels(),
            status_labels=status_labels(),
            local_time=forms.local_time,
            walk_in_candidates=[m for m in teams.members(team.id) if m.person_id not in on_roster],
            walk_ins_open=event.status == EventStatus.PUBLISHED,
        ),
        status,
    )


def records_page(team: Team, errors: dict[str, str], status: int = 200):
    selected = status_arg()
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
            form=forms.VerifyForm(formdata=None),
            errors=errors,
            attendance_labels=forms.attendance_labels(),
            status_labels=status_labels(),
        ),
        status,
    )


def record_page(
    page: records_read.RecordPage,
    shown: dict[str, Any] | None = None,
    errors: dict[str, dict[str, str]] | None = None,
    status: int = 200,
):
    shown = dict(shown or {})  # the forms, by action; those not given start empty
    record = page.record
    shown_start, shown_end = shown_span(record, page.shift)
    data = {
        "attendance": record.attendance,
        "date": forms.local_date(shown_start),
        "start": forms.local_time(shown_start),
        "end": forms.local_time(shown_end),
        "content": record.content,
        "over_shift_length": record.over_shift_length,
    }
    shown.setdefault("edit", forms.RecordEditForm(formdata=None, data=data))
    shown.setdefault("resolve", forms.ResolveForm(formdata=None, data=data))
    shown.setdefault("reject", forms.ReasonForm(formdata=None))
    shown.setdefault("delete", forms.ReasonForm(formdata=None))
    return (
        render_template(
            "hours/record.html",
            page=page,
            record=record,
            forms=shown,
            errors=errors or {},
            verify_form=forms.BulkForm(formdata=None),
            trail=[
                (change, name, describe(change)) for change, name in records_read.trail(record.id)
            ],
            on_site=on_site(record),
            attendance_labels=forms.attendance_labels(),
            status_labels=status_labels(),
            action_labels=action_labels(),
            channel_labels=channel_labels(),
        ),
        status,
    )


def unplanned_page(team: Team, form: forms.UnplannedForm, errors, status: int = 200):
    members = teams.members(team.id)
    form.person_ids.choices = [(str(m.person_id), m.person.name) for m in members]
    form.category.choices = [("", _("请选择"))] + [
        (str(c.id), _(c.name)) for c in active_categories()
    ]
    return (
        render_template("hours/unplanned.html", team=team, form=form, errors=errors),
        status,
    )


def status_arg() -> str | None:
    """The records list's status filter (?status=), if it is one."""
    value = request.args.get("status")
    return value if value in {status.value for status in RecordStatus} else None
