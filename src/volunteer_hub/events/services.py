"""Events and their shifts: create, edit, cancel. Seats are handled in signups.services."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from volunteer_hub.callouts.models import OPEN_STATUSES as OPEN_CALLOUT_STATUSES
from volunteer_hub.callouts.models import Callout
from volunteer_hub.db import utcnow
from volunteer_hub.domain_events import EventChanged, publish
from volunteer_hub.errors import Conflict, DomainError, NotFound, ValidationFailed
from volunteer_hub.events.models import Category, Event, EventStatus, Shift
from volunteer_hub.extensions import db
from volunteer_hub.i18n import from_local, to_local
from volunteer_hub.teams.models import Team
from volunteer_hub.teams.services import ensure_open

MAX_SHIFTS = 100
MAX_CAPACITY = 10_000
#: a code stays taken this long after its shift ended, so late texts still find it
CODE_HOLD_AFTER_END = timedelta(days=7)
#: a weekly repeating event has this many weeks at least and at most (汛期 is ~4 months)
MIN_REPEAT_WEEKS = 2
MAX_REPEAT_WEEKS = 52


@dataclass
class ShiftInput:
    starts_at: datetime
    ends_at: datetime
    capacity: int
    title: str = ""
    #: set when editing an existing shift; None for a new one
    id: int | None = None


@dataclass
class EventInput:
    title: str
    category_id: int | None
    starts_at: datetime | None = None  # derived from the shifts when omitted
    ends_at: datetime | None = None
    location: str = ""
    description: str = ""
    status: str = EventStatus.PUBLISHED
    #: 公开招募: anyone may sign up (flood duty); otherwise only the team's members.
    #: None: members only for a new event, unchanged by an update
    open_to_all: bool | None = None


@dataclass
class RepeatInput:
    """How a weekly repeating event ends: after ``weeks`` weeks, or on the last week
    whose day is on or before ``until`` (a local date). Exactly one of the two."""

    weeks: int | None = None
    until: date | None = None


class EventCancelled(Conflict, code="event-cancelled"):
    """A cancelled event is kept for the record; it cannot change any more."""


def find_category(name_or_id: str | int | None) -> Category | None:
    """An active category by id or by its exact name."""
    if name_or_id is None or name_or_id == "":
        return None
    if isinstance(name_or_id, int) or str(name_or_id).isdigit():
        category = db.session.get(Category, int(name_or_id))
    else:
        category = db.session.scalar(select(Category).where(Category.name == str(name_or_id)))
    return category if category is not None and category.is_active else None


def active_categories() -> list[Category]:
    """Categories a new event may use, in their group and display order; one query."""
    return list(
        db.session.scalars(
            select(Category)
            .where(Category.is_active.is_(True))
            .order_by(Category.group, Category.sort_order, Category.id)
        )
    )


def validate(data: EventInput, shifts: list[ShiftInput]) -> None:
    """Every field error at once, so a form can show them all."""
    errors: dict[str, str] = {}
    if not (data.title or "").strip():
        errors["title"] = _("请填写活动名称")
    elif len(data.title.strip()) > 200:
        errors["title"] = _("活动名称不能超过 200 个字")
    if data.category_id is None or find_category(data.category_id) is None:
        errors["category"] = _("请选择有效的服务类别")
    if data.status not in (EventStatus.DRAFT, EventStatus.PUBLISHED):
        errors["status"] = _("活动状态不正确")
    if len(data.location or "") > 300:
        errors["location"] = _("地点不能超过 300 个字")
    if data.starts_at and data.ends_at and data.ends_at <= data.starts_at:
        errors["ends_at"] = _("结束时间必须晚于开始时间")
    if not shifts:
        errors["shifts"] = _("至少需要一个班次")
    if len(shifts) > MAX_SHIFTS:
        errors["shifts"] = _("班次不能超过 %(n)d 个", n=MAX_SHIFTS)
    for index, shift in enumerate(shifts):
        prefix = f"shifts.{index}"
        if shift.ends_at <= shift.starts_at:
            errors[f"{prefix}.ends_at"] = _(
                "第 %(n)d 个班次：结束时间必须晚于开始时间", n=index + 1
            )
        if shift.capacity is None or shift.capacity < 1:
            errors[f"{prefix}.capacity"] = _("第 %(n)d 个班次：人数至少为 1", n=index + 1)
        elif shift.capacity > MAX_CAPACITY:
            errors[f"{prefix}.capacity"] = _("第 %(n)d 个班次：人数过多", n=index + 1)
        if len(shift.title or "") > 100:
            errors[f"{prefix}.title"] = _("第 %(n)d 个班次：名称过长", n=index + 1)
    if errors:
        raise ValidationFailed(errors)


def create_event(
    team_id: int, data: EventInput, shifts: list[ShiftInput], created_by_id: int | None
) -> Event:
    team = db.session.get(Team, team_id)
    if team is None:
        raise NotFound(_("服务队不存在"), field="team_id")
    ensure_open(team)
    validate(data, shifts)
    return _create(team, data, shifts, created_by_id)


def create_repeating_event(
    team_id: int,
    data: EventInput,
    template: ShiftInput,
    repeat: RepeatInput,
    created_by_id: int | None,
) -> Event:
    """A weekly repeating event (汛期每周巡堤): ``template`` is the first week's shift,
    repeated at the same local time every week, ``repeat.weeks`` times or until
    ``repeat.until``. Each week is a shift of its own (own code, seats, signups) that
    remembers the start the rule gave it (``series_starts_at``); the event keeps the
    rule (``FREQ=WEEKLY;COUNT=n`` or ``FREQ=WEEKLY;UNTIL=<last start in UTC>``), which
    feeds publish as one RRULE series.

    Afterwards, through :func:`update_event`: leaving a week out cancels that shift
    (feeds: EXDATE); changing one week's time moves that week only (RECURRENCE-ID);
    changing every remaining week by the same amount moves the whole series; a shift
    that is not one of the weeks cannot be added.
    """
    team = db.session.get(Team, team_id)
    if team is None:
        raise NotFound(_("服务队不存在"), field="team_id")
    ensure_open(team)
    errors: dict[str, str] = {}
    try:
        validate(data, [template])
    except ValidationFailed as exc:
        errors.update(exc.errors)
    starts: list[datetime] = []
    try:
        starts = weekly_starts(template.starts_at, repeat)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed(errors)
    length = template.ends_at - template.starts_at
    shifts = [
        ShiftInput(
            starts_at=start,
            ends_at=start + length,
            capacity=template.capacity,
            title=template.title,
        )
        for start in starts
    ]
    if repeat.weeks is not None:
        rule = f"FREQ=WEEKLY;COUNT={len(starts)}"
    else:
        rule = f"FREQ=WEEKLY;UNTIL={starts[-1].astimezone(UTC):%Y%m%dT%H%M%SZ}"
    return _create(team, data, shifts, created_by_id, rule=rule)


def weekly_starts(first: datetime, repeat: RepeatInput) -> list[datetime]:
    """The starts of a weekly series beginning at ``first``: the same local wall-clock
    time each week (UTC, aware). ValidationFailed (keys ``repeat.weeks``,
    ``repeat.until``, ``repeat``) when the series is not 2 to 52 weeks long."""
    bounds = {"min": MIN_REPEAT_WEEKS, "max": MAX_REPEAT_WEEKS}
    if (repeat.weeks is None) == (repeat.until is None):
        raise ValidationFailed({"repeat": _("每周重复：请填写重复的周数或截止日期（二选一）")})
    local = to_local(first).replace(tzinfo=None)
    if repeat.weeks is not None:
        if not MIN_REPEAT_WEEKS <= repeat.weeks <= MAX_REPEAT_WEEKS:
            raise ValidationFailed(
                {"repeat.weeks": _("每周重复的周数应为 %(min)d 到 %(max)d", **bounds)}
            )
        count = repeat.weeks
    else:
        days = (repeat.until - local.date()).days
        count = days // 7 + 1 if days >= 0 else 0
        if not MIN_REPEAT_WEEKS <= count <= MAX_REPEAT_WEEKS:
            raise ValidationFailed(
                {"repeat.until": _("重复截止日期应使活动重复 %(min)d 到 %(max)d 周", **bounds)}
            )
    return [from_local(local + timedelta(weeks=n)).astimezone(UTC) for n in range(count)]


def _create(
    team: Team,
    data: EventInput,
    shifts: list[ShiftInput],
    created_by_id: int | None,
    rule: str | None = None,
) -> Event:
    starts_at, ends_at = _span(data, shifts)
    event = Event(
        team_id=team.id,
        category_id=find_category(data.category_id).id,
        title=data.title.strip(),
        description=(data.description or "").strip(),
        location=(data.location or "").strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        status=EventStatus(data.status),
        revision=0,
        created_by_id=created_by_id,
        recurrence_rule=rule,
        open_to_all=bool(data.open_to_all),
    )
    db.session.add(event)
    db.session.flush()
    for shift_input in shifts:
        _add_shift(event, shift_input, series_start=shift_input.starts_at if rule else None)
    publish(EventChanged(event.id))
    return event


def update_event(event_id: int, data: EventInput, shifts: list[ShiftInput]) -> Event:
    """Replace the event's fields and its list of shifts.

    Shifts with an ``id`` are edited, new ones added, and missing ones removed, or
    cancelled if people are signed up to them (their history is kept).
    """
    from volunteer_hub.signups import services as signups

    event = _load_for_change(event_id)
    validate(data, shifts)
    existing = {shift.id: shift for shift in event.shifts}
    for shift_input in shifts:
        if shift_input.id is not None and shift_input.id not in existing:
            raise ValidationFailed({"shifts": _("班次不属于该活动")})

    conflicts: dict[str, str] = {}
    for index, shift_input in enumerate(shifts):
        shift = existing.get(shift_input.id) if shift_input.id is not None else None
        if shift is None:
            continue
        if shift.is_cancelled:
            conflicts[f"shifts.{index}"] = _("已取消的班次不能修改")
        elif shift_input.capacity < shift.filled:
            conflicts[f"shifts.{index}.capacity"] = _(
                "班次“%(title)s”已有 %(n)d 人确认，人数不能少于 %(n)d",
                title=shift.title or shift.code,
                n=shift.filled,
            )
    if conflicts:
        raise ValidationFailed(conflicts)

    if event.recurrence_rule:
        _check_series_edit(event, shifts, existing)

    kept_ids = {s.id for s in shifts if s.id is not None}
    for shift in list(existing.values()):
        if shift.id not in kept_ids and not shift.is_cancelled:
            signups.cancel_shift(shift.id)

    moved_shift_ids = []
    for shift_input in shifts:
        if shift_input.id is None:
            _add_shift(event, shift_input)
            continue
        shift = existing[shift_input.id]
        grew = shift_input.capacity > shift.capacity
        title = (shift_input.title or "").strip()
        moved = (shift.starts_at, shift.ends_at) != (shift_input.starts_at, shift_input.ends_at)
        if moved:
            moved_shift_ids.append(shift.id)
        if moved or title != shift.title:
            shift.touch_shown()
        shift.title = title
        shift.starts_at = shift_input.starts_at
        shift.ends_at = shift_input.ends_at
        shift.capacity = shift_input.capacity
        if grew:
            db.session.flush()
            signups.promote_waitlist(shift.id)

    new_location = (data.location or "").strip()
    location_changed = new_location != event.location
    old_category_id = event.category_id
    shown_before = _shown_of(event)
    event.title = data.title.strip()
    event.category_id = find_category(data.category_id).id
    event.description = (data.description or "").strip()
    event.location = new_location
    event.status = EventStatus(data.status)
    if data.open_to_all is not None:
        event.open_to_all = data.open_to_all
    event.starts_at, event.ends_at = _span(data, shifts)
    event.revision += 1
    if _shown_of(event) != shown_before:
        _touch_shifts(event)
    db.session.flush()
    left = old_category_id if event.category_id != old_category_id else None
    publish(EventChanged(event.id, tuple(moved_shift_ids), location_changed, left))
    return event


def cancel_event(event_id: int, reason: str = "") -> Event:
    """Cancel the event, all its shifts and signups; kept for the record (and for feeds)."""
    from volunteer_hub.signups import services as signups

    event = _load_for_change(event_id)
    for shift in event.shifts:
        if not shift.is_cancelled:
            signups.cancel_shift(shift.id, event_cancelled=True, reason=reason.strip())
    event.status = EventStatus.CANCELLED
    event.cancelled_at = utcnow()
    if reason:
        event.description = (event.description + "\n\n" + _("取消原因：") + reason.strip()).strip()
    event.revision += 1
    _touch_shifts(event)
    db.session.flush()
    publish(EventChanged(event.id))
    return event


def release_stale_codes(now: datetime | None = None) -> int:
    """Free the codes of shifts long over or cancelled, so short codes stay available."""
    now = now or utcnow()
    result = db.session.execute(
        update(Shift)
        .where(
            Shift.code_is_current.is_(True),
            (Shift.ends_at < now - CODE_HOLD_AFTER_END) | Shift.is_cancelled.is_(True),
        )
        .values(code_is_current=False)
    )
    return result.rowcount


def _check_series_edit(event: Event, shifts: list[ShiftInput], existing: dict[int, Shift]) -> None:
    """The rules of editing a weekly repeating event, checked before anything changes.

    Its shifts are the weeks of the rule: a week left out is skipped (cancelled), a week
    given another time is moved, and no shift outside the rule can be added (feeds could
    not show it: a series is one RRULE). When every remaining week moves by the same
    amount the series itself moves: ``series_starts_at`` and an UNTIL follow, so the
    weeks stay on the rule instead of each becoming a moved week.
    """
    if any(s.id is None for s in shifts):
        raise ValidationFailed(
            {"shifts": _("每周重复的活动不能添加单独的班次；请修改某一周的时间，或另建活动")}
        )
    kept = [(existing[s.id], s) for s in shifts]
    moves = {(s.starts_at - shift.starts_at, s.ends_at - shift.ends_at) for shift, s in kept}
    if len(kept) < 2 or len(moves) != 1:
        return
    ((delta, end_delta),) = moves
    if not delta or delta != end_delta:
        return
    for shift in existing.values():
        if shift.series_starts_at is not None:
            shift.series_starts_at = shift.series_starts_at + delta
    event.recurrence_rule = _shift_until(event.recurrence_rule, delta)


def _shift_until(rule: str, delta: timedelta) -> str:
    parts = []
    for part in rule.split(";"):
        name, _sep, value = part.partition("=")
        if name.upper() == "UNTIL" and value.endswith("Z") and "T" in value:
            until = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC) + delta
            part = f"{name}={until:%Y%m%dT%H%M%SZ}"
        parts.append(part)
    return ";".join(parts)


def _load_for_change(event_id: int) -> Event:
    event = db.session.scalar(
        select(Event)
        .where(Event.id == event_id)
        .options(selectinload(Event.shifts))
        .execution_options(populate_existing=True)
    )
    if event is None:
        raise NotFound(_("活动不存在"))
    if event.status == EventStatus.CANCELLED:
        raise EventCancelled(_("活动已取消，不能再修改"))
    return event


def _span(data: EventInput, shifts: list[ShiftInput]) -> tuple[datetime, datetime]:
    starts = [s.starts_at for s in shifts]
    ends = [s.ends_at for s in shifts]
    return min(starts + ([data.starts_at] if data.starts_at else [])), max(
        ends + ([data.ends_at] if data.ends_at else [])
    )


def _shown_of(event: Event) -> tuple:
    """What a volunteer's calendar entry for a shift shows of its event."""
    return (event.title, event.description, event.location, event.category_id, event.status)


def _touch_shifts(event: Event) -> None:
    """``Shift.touch_shown`` for every shift of the event, in one UPDATE (the shifts in
    the session are kept in step: cancel_shift has just expired some of them)."""
    db.session.execute(
        update(Shift)
        .where(Shift.event_id == event.id)
        .values(revision=Shift.revision + 1, changed_at=utcnow())
        .execution_options(synchronize_session="evaluate")
    )


def _add_shift(
    event: Event, shift_input: ShiftInput, series_start: datetime | None = None
) -> Shift:
    for _attempt in range(20):
        code = _free_code()
        try:
            with db.session.begin_nested():
                shift = Shift(
                    event_id=event.id,
                    title=(shift_input.title or "").strip(),
                    starts_at=shift_input.starts_at,
                    ends_at=shift_input.ends_at,
                    capacity=shift_input.capacity,
                    filled=0,
                    code=code,
                    series_starts_at=series_start,
                )
                db.session.add(shift)
                db.session.flush()
            return shift
        except IntegrityError:
            continue  # another request took the same code a moment ago
    raise DomainError(_("暂时无法分配班次编号，请重试"))


def _free_code() -> str:
    """A short numeric code no current shift and no open call-out uses ("报名 CODE"
    answers a call-out with that code first): 4 digits while they last, then 5, 6."""
    for digits in (4, 5, 6):
        low, high = 10 ** (digits - 1), 10**digits
        candidates = {str(low + secrets.randbelow(high - low)) for _ in range(24)}
        taken = set(
            db.session.scalars(
                select(Shift.code)
                .where(Shift.code.in_(candidates), Shift.code_is_current.is_(True))
                .union(
                    select(Callout.code).where(
                        Callout.code.in_(candidates), Callout.status.in_(OPEN_CALLOUT_STATUSES)
                    )
                )
            )
        )
        free = sorted(candidates - taken)
        if free:
            return secrets.choice(free)
    raise DomainError(_("暂时无法分配班次编号，请重试"))


def count_current_codes() -> int:
    return db.session.scalar(select(func.count()).where(Shift.code_is_current.is_(True)))
