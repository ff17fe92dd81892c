"""The event form: event fields plus any number of shift rows.

Rows are parsed here (dates and wall-clock times as typed in Asia/Shanghai); the
rules (title, category, capacity, end after start) are left to events.services.validate
so that the web, the API and the SMS side give the same answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length

from volunteer_hub.errors import ValidationFailed
from volunteer_hub.events.models import EventStatus
from volunteer_hub.events.services import (
    MAX_SHIFTS,
    EventInput,
    RepeatInput,
    ShiftInput,
    validate,
)
from volunteer_hub.i18n import from_local, parse_date, parse_time, to_local
from volunteer_hub.web import form_errors

EMPTY_ROWS_NEW = 3
EMPTY_ROWS_EDIT = 2
#: rows the form reads at most; more than MAX_SHIFTS is still refused by the service,
#: this only bounds the work a forged post can cause
MAX_ROWS = MAX_SHIFTS + 20


class ShiftRowForm(Form):
    id = HiddenField()
    title = StringField(_l("班次/岗位"))
    date = StringField(_l("日期"))
    start = StringField(_l("开始时间"))
    end = StringField(_l("结束时间"))
    capacity = StringField(_l("人数"))
    remove = BooleanField(_l("删除此班次"))


def status_choices():
    return [(EventStatus.PUBLISHED.value, _l("发布")), (EventStatus.DRAFT.value, _l("草稿"))]


class EventForm(FlaskForm):
    title = StringField(_l("活动名称"))
    # Unknown ids are reported by the service ("请选择有效的服务类别"), not by WTForms.
    category = SelectField(_l("服务类别"), validate_choice=False)
    location = StringField(_l("地点"))
    description = TextAreaField(_l("活动说明"))
    status = SelectField(_l("状态"), choices=status_choices, validate_choice=False)
    open_to_all = BooleanField(_l("公开招募：非本队人员也可报名"))
    shifts = FieldList(FormField(ShiftRowForm), min_entries=EMPTY_ROWS_NEW, max_entries=MAX_ROWS)
    #: a new event only: repeat the one shift weekly, this many weeks or until a date
    repeat_weeks = StringField(
        _l("每周重复"),
        render_kw={"type": "number", "min": "2", "max": "52", "inputmode": "numeric"},
    )
    repeat_until = StringField(_l("或重复到"), render_kw={"type": "date"})
    #: ticked after the warning that a shift to be published lies in the past
    confirm_past = BooleanField(_l("这些日期确实已经过去，仍要发布（例如补录已开展的活动）"))


@dataclass
class ParsedEvent:
    data: EventInput
    shifts: list[ShiftInput]
    #: position in ``shifts`` → index of the form row it came from
    rows: list[int]
    #: field errors keyed like the service's: ``title``, ``shifts.<row>.capacity`` …
    errors: dict[str, str]
    #: set when the form asks for a weekly repeating event (its one shift is week 1)
    repeat: RepeatInput | None = None


def parse_event_form(form: EventForm) -> ParsedEvent:
    """Turn the typed form into service inputs, collecting every error at once."""
    category = (form.category.data or "").strip()
    data = EventInput(
        title=form.title.data or "",
        category_id=int(category) if category.isdigit() else None,
        location=form.location.data or "",
        description=form.description.data or "",
        status=form.status.data or "",
        open_to_all=bool(form.open_to_all.data),
    )
    errors: dict[str, str] = {}
    shifts: list[ShiftInput] = []
    rows: list[int] = []
    for row_index, entry in enumerate(form.shifts.entries):
        row = entry.form
        if row.remove.data or _blank(row):
            continue
        # Numbered like the service numbers them: among the rows that are kept.
        number = len(rows) + 1
        rows.append(row_index)
        row_errors: dict[str, str] = {}
        day = parse_date(row.date.data)
        if day is None:
            row_errors["date"] = (
                _("第 %(n)d 个班次：请填写日期", n=number)
                if not (row.date.data or "").strip()
                else _("第 %(n)d 个班次：日期格式不正确", n=number)
            )
        start = parse_time(row.start.data)
        if start is None:
            row_errors["start"] = _("第 %(n)d 个班次：请填写开始时间（如 08:00）", n=number)
        end = parse_time(row.end.data)
        if end is None:
            row_errors["end"] = _("第 %(n)d 个班次：请填写结束时间（如 12:00）", n=number)
        capacity_text = (row.capacity.data or "").strip()
        capacity = int(capacity_text) if re.fullmatch(r"-?\d{1,7}", capacity_text) else None
        if capacity is None:
            row_errors["capacity"] = _("第 %(n)d 个班次：人数请填写数字", n=number)
        for field, message in row_errors.items():
            errors[f"shifts.{row_index}.{field}"] = message
        if row_errors:
            # Holds the row's place so the service's numbering of the others stays right.
            shifts.append(_PLACEHOLDER_SHIFT)
            continue
        starts_at = from_local(datetime.combine(day, start))
        # An end earlier than the start is the next morning: night shifts of a rota.
        end_day = day + timedelta(days=1) if end < start else day
        ends_at = from_local(datetime.combine(end_day, end))
        shift_id = (row.id.data or "").strip()
        shifts.append(
            ShiftInput(
                starts_at=starts_at,
                ends_at=ends_at,
                capacity=capacity,
                title=row.title.data or "",
                id=int(shift_id) if shift_id.isdigit() else None,
            )
        )
    repeat = _parse_repeat(form, errors)
    if repeat is not None and len(shifts) != 1:
        errors["shifts"] = _("每周重复的活动请只填写一个班次（第一周的），其余各周自动生成")
    if errors:
        # Report the other rules too, so every error shows at once.
        try:
            validate(data, shifts)
        except ValidationFailed as exc:
            for key, message in row_keys(exc.errors, rows).items():
                errors.setdefault(key, message)
    return ParsedEvent(data=data, shifts=shifts, rows=rows, errors=errors, repeat=repeat)


def past_dates_warning(
    form: EventForm, parsed: ParsedEvent, now: datetime, stored: dict[int, datetime]
) -> dict[str, str]:
    """A form error asking to confirm, when an event is to be published with a shift that
    starts before ``now`` and was not already there at that time (``stored``: the event's
    shift starts by id) — a mistyped date, most often; none once ``confirm_past`` is
    ticked, nor for a draft."""
    if form.confirm_past.data or parsed.data.status != EventStatus.PUBLISHED:
        return {}
    past = [
        number
        for number, shift in enumerate(parsed.shifts, start=1)
        if shift is not _PLACEHOLDER_SHIFT
        and shift.starts_at < now
        and stored.get(shift.id or 0) != shift.starts_at
    ]
    if not past:
        return {}
    numbers = "、".join(str(n) for n in past)
    return {
        "confirm_past": _(
            "第 %(numbers)s 个班次的时间已经过去，发布后没人能报名。请检查日期；"
            "确实要发布，请勾选下面的确认框后再保存。",
            numbers=numbers,
        )
    }


def _parse_repeat(form: EventForm, errors: dict[str, str]) -> RepeatInput | None:
    """The repeat fields, None when both are empty (a one-off event)."""
    weeks_text = (form.repeat_weeks.data or "").strip()
    until_text = (form.repeat_until.data or "").strip()
    if not weeks_text and not until_text:
        return None
    weeks = int(weeks_text) if re.fullmatch(r"\d{1,3}", weeks_text) else None
    if weeks_text and weeks is None:
        errors["repeat_weeks"] = _("每周重复的周数请填写数字")
    until = parse_date(until_text) if until_text else None
    if until_text and until is None:
        errors["repeat_until"] = _("重复截止日期格式不正确")
    if weeks_text and until_text:
        errors.setdefault("repeat_weeks", _("每周重复：请填写重复的周数或截止日期（二选一）"))
    return RepeatInput(weeks=weeks, until=until)


def row_keys(service_errors: dict[str, str], rows: list[int]) -> dict[str, str]:
    """``shifts.<position>.<field>`` from the service → ``shifts.<row>.<field>`` of the form."""
    mapped: dict[str, str] = {}
    for key, message in service_errors.items():
        parts = key.split(".")
        if len(parts) == 3 and parts[0] == "shifts" and parts[1].isdigit():
            position = int(parts[1])
            row = rows[position] if position < len(rows) else position
            field = {"ends_at": "end", "starts_at": "start"}.get(parts[2], parts[2])
            mapped[f"shifts.{row}.{field}"] = message
        elif key.startswith("repeat"):
            mapped[_REPEAT_KEYS.get(key, "repeat_weeks")] = message
        else:
            mapped[key] = message
    return mapped


_REPEAT_KEYS = {"repeat.weeks": "repeat_weeks", "repeat.until": "repeat_until"}


def shift_row_data(shift) -> dict:
    """A stored shift as the form shows it, in local wall-clock time."""
    start, end = to_local(shift.starts_at), to_local(shift.ends_at)
    return {
        "id": str(shift.id),
        "title": shift.title,
        "date": start.date().isoformat(),
        "start": start.strftime("%H:%M"),
        "end": end.strftime("%H:%M"),
        "capacity": str(shift.capacity),
    }


class CancelEventForm(FlaskForm):
    reason = TextAreaField(
        _l("取消原因"),
        validators=[
            DataRequired(_l("请填写取消原因，队员会收到这条说明")),
            Length(max=500, message=_l("取消原因不能超过 500 个字")),
        ],
    )


class SignupForm(FlaskForm):
    person_id = SelectField(_l("选择队员"), validate_choice=False)
    phone = StringField(
        _l("或填写手机号码"), render_kw={"type": "tel", "inputmode": "tel", "autocomplete": "off"}
    )
    name = StringField(_l("姓名（新志愿者需填写）"))


#: stands in for a row that did not parse (only ever passed to ``validate``)
_PLACEHOLDER_SHIFT = ShiftInput(
    starts_at=datetime(2000, 1, 1, 8, tzinfo=UTC),
    ends_at=datetime(2000, 1, 1, 9, tzinfo=UTC),
    capacity=1,
)


def _blank(row: ShiftRowForm) -> bool:
    return not any(
        (getattr(row, name).data or "").strip()
        for name in ("id", "title", "date", "start", "end", "capacity")
    )


class BroadcastForm(FlaskForm):
    """A leader's call-out of the event to the team by SMS."""

    urgent = BooleanField(_l("紧急（防汛等，夜间也发送）"))


F = TypeVar("F", bound=FlaskForm)


def form_of_request(
    form_class: type[F], **blank: Any
) -> tuple[F, tuple[dict[str, str], int] | None]:
    """The form of a page that shows it (GET) and takes it (POST), and what to show
    again, if anything: (errors, status). On GET the form is blank (``blank`` as its
    data) with no errors, 200; on POST as posted, with what did not parse, 400; None
    when the posted form parsed, for the view to go on."""
    if request.method != "POST":
        return form_class(formdata=None, data=blank), ({}, 200)
    form = form_class()
    return form, None if form.validate_on_submit() else (form_errors(form), 400)
