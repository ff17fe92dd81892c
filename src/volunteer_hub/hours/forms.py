"""Forms of the leader's hours pages, and how typed dates and times become instants.

Times are typed as wall-clock times in the display zone (Asia/Shanghai). The rules
(a reason is required, the end after the start, at most 36 hours, a team member) are
left to hours.records and hours.attendance, so that the web and the API give the same
answers; here only what cannot be parsed is refused.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Length

from volunteer_hub.hours.models import Attendance
from volunteer_hub.i18n import from_local, parse_date, parse_time, to_local

REASON_MAX = 500
DATE_INPUT = {"type": "date"}
TIME_INPUT = {"type": "time"}


def attendance_labels() -> dict[str, str]:
    return {
        Attendance.PRESENT.value: _("到岗"),
        Attendance.LATE.value: _("迟到"),
        Attendance.ABSENT.value: _("缺勤"),
    }


def attendance_choices():
    return [
        (Attendance.PRESENT.value, _l("到岗")),
        (Attendance.LATE.value, _l("迟到")),
        (Attendance.ABSENT.value, _l("缺勤")),
    ]


def _reason_length():
    return Length(max=REASON_MAX, message=_l("原因不能超过 500 字"))


class MarkForm(FlaskForm):
    """One row of the attendance page: who, which button, and the times on site."""

    person_id = StringField()
    # The button pressed: present, late or absent; the service names a wrong one.
    attendance = StringField()
    start = StringField(_l("到达时间"), render_kw=TIME_INPUT)
    end = StringField(_l("离开时间"), render_kw=TIME_INPUT)


class BulkForm(FlaskForm):
    """ "全部按计划出勤": nothing to fill in but the CSRF token."""


class VerifyForm(FlaskForm):
    record_id = SelectMultipleField(validate_choice=False)
    #: every record of the page that could be ticked, for 全部认定 (``verify_all``)
    page_record_id = SelectMultipleField(validate_choice=False)


class ReasonForm(FlaskForm):
    """Reject or delete: the reason goes into the record's trail."""

    reason = TextAreaField(_l("原因"), validators=[_reason_length()])


class RecordEditForm(FlaskForm):
    attendance = SelectField(_l("出勤"), choices=attendance_choices, validate_choice=False)
    date = StringField(_l("日期"), render_kw=DATE_INPUT)
    start = StringField(_l("开始时间"), render_kw=TIME_INPUT)
    end = StringField(_l("结束时间"), render_kw=TIME_INPUT)
    content = StringField(_l("服务内容"))
    over_shift_length = BooleanField(_l("超出班次时长也计入"))
    reason = TextAreaField(_l("修改原因"), validators=[_reason_length()])


class ResolveForm(RecordEditForm):
    """The volunteer's correction request: the changes it calls for, and the answer."""

    reason = TextAreaField(_l("处理结果"), validators=[_reason_length()])


class WalkInForm(FlaskForm):
    # Membership, the phone and the name are the service's to check (hours.walk_ins).
    person_id = StringField()
    #: on an event open to all: whoever came, by phone (and name, if new)
    phone = StringField(_l("手机号"))
    name = StringField(_l("姓名"))


class UnplannedForm(FlaskForm):
    # Members and categories are checked by the service, with the other errors.
    #: everyone who served together: one record each, the same span and content
    person_ids = SelectMultipleField(_l("队员"), validate_choice=False)
    category = SelectField(_l("服务类别"), validate_choice=False)
    content = StringField(_l("服务内容"))
    date = StringField(_l("日期"), render_kw=DATE_INPUT)
    start = StringField(_l("开始时间"), render_kw=TIME_INPUT)
    end = StringField(_l("结束时间"), render_kw=TIME_INPUT)
    verified = BooleanField(_l("立即认定（审核通过）"))


# -- dates and times as typed ------------------------------------------------------------


def local_date(value: datetime) -> str:
    return to_local(value).date().isoformat()


def local_time(value: datetime) -> str:
    return to_local(value).strftime("%H:%M")


def same_minute(typed: datetime, stored: datetime) -> bool:
    """Whether a time typed to the minute is the stored one as shown (seconds dropped)."""
    return typed == to_local(stored).replace(second=0, microsecond=0)


def nearest(typed: time, reference: datetime) -> datetime:
    """The wall-clock time ``typed`` on the day that puts it nearest to ``reference``: a
    check-in at 00:30 on a 22:00 night shift is the next day's."""
    day = to_local(reference).date()
    candidates = [
        from_local(datetime.combine(day + timedelta(days=offset), typed)) for offset in (-1, 0, 1)
    ]
    return min(candidates, key=lambda at: (abs(at - reference), at))


def span_on(day: date, start: time, end: time) -> tuple[datetime, datetime]:
    """A span typed as a date and two times; an end earlier than the start is the next day
    (as on the event form)."""
    started = from_local(datetime.combine(day, start))
    end_day = day + timedelta(days=1) if end < start else day
    return started, from_local(datetime.combine(end_day, end))


def parse_span_fields(form, errors: dict[str, str]) -> tuple[datetime, datetime] | None:
    """The ``date``, ``start`` and ``end`` fields of ``form`` as a span; errors by field."""
    day = parse_date(form.date.data)
    start = parse_time(form.start.data)
    end = parse_time(form.end.data)
    if day is None:
        errors["date"] = _("请填写日期（如 2026-07-01）")
    if start is None:
        errors["start"] = _("请填写开始时间（如 08:00）")
    if end is None:
        errors["end"] = _("请填写结束时间（如 12:00）")
    if day is None or start is None or end is None:
        return None
    return span_on(day, start, end)


def reason_of(form) -> str:
    return (form.reason.data or "").strip()


#: service error keys → the form's field names
SERVICE_FIELDS = {
    "started_at": "start",
    "ended_at": "end",
    "note": "reason",
    "person_id": "person_ids",
}


def form_keys(errors: dict[str, str]) -> dict[str, str]:
    return {SERVICE_FIELDS.get(key, key): message for key, message in errors.items()}
