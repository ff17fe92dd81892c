"""Starting, previewing, reading and stopping a call-out (应急召集).

A leader calls out their own teams, a coordinator any teams of their subtree (or the
whole subtree, by unit), for one or more shifts of one published event. Ring 0 is texted
at once; each further ring ``after_minutes`` after the start, by the scheduler tick
(``rings.fire_due_rings``), while seats are free. Who is texted and who is left out is
``audience.audience``; seats are taken by reply through the sign-up core (``answers``).

What the viewer may not see answers NotFound, as everywhere in the API: shifts of another
team's event, teams or units outside their scope, other people's call-outs.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select

from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.callouts import rings
from volunteer_hub.callouts.audience import Ring, audience
from volunteer_hub.callouts.models import (
    OPEN_STATUSES,
    Callout,
    CalloutRecipient,
    CalloutRing,
    CalloutShift,
    CalloutStatus,
)
from volunteer_hub.db import utcnow
from volunteer_hub.errors import Conflict, NotFound, ValidationFailed
from volunteer_hub.events.models import Event, EventStatus, Shift
from volunteer_hub.extensions import db
from volunteer_hub.people.skills import skill_ids
from volunteer_hub.sms.templates import FORBIDDEN_SYMBOLS, MAX_VARIABLE, clean, mask_phone_like
from volunteer_hub.teams.models import Team
from volunteer_hub.units.models import Unit

#: a ring may wait at most this long after the start (a week)
MAX_AFTER_MINUTES = 7 * 24 * 60
MAX_RINGS = 6
#: the caller's words are one variable of the call-out's SMS template: its limit
MESSAGE_LENGTH = MAX_VARIABLE


class CalloutRefused(Conflict, code="callout-refused"):
    """The call-out cannot start or change now: it has ended, its event is not published
    or is cancelled, its shift has started, or no free reply code could be found."""


@dataclass(frozen=True)
class RingInput:
    team_ids: list[int] | None = None
    unit_id: int | None = None
    after_minutes: int = 0


@dataclass(frozen=True)
class CalloutInput:
    shift_ids: list[int]
    audience: RingInput
    skills: list[str] = field(default_factory=list)
    rings: list[RingInput] = field(default_factory=list)
    message: str = ""
    urgent: bool = False


@dataclass
class Preview:
    recipients: int
    left_out: dict[str, int]
    #: people each later ring would add, were it to fire now (the preview only)
    later: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Checked:
    shifts: list[Shift]
    ring0: Ring
    later: list[tuple[RingInput, Ring]]
    skills: list[str]
    message: str


def preview(viewer: Viewer, data: CalloutInput, now: datetime | None = None) -> Preview:
    """How many people ring 0 would text now, and how many are left out by reason.
    Writes nothing."""
    now = now or utcnow()
    checked = _check(viewer, data, now)
    rings_ = [checked.ring0, *(ring for _given, ring in checked.later)]
    seen: set[int] = set()
    found = []
    for ring in rings_:
        people = audience(
            ring,
            checked.shifts,
            skills=checked.skills,
            urgent=data.urgent,
            goes_out=rings.send_after(data.urgent, now) or now,
            exclude_person_id=viewer.person_id,
        )
        found.append((people, len(set(people.person_ids) - seen)))
        seen |= set(people.person_ids)
    first, recipients = found[0]
    return Preview(recipients=recipients, left_out=first.left_out, later=[n for _p, n in found[1:]])


def start(
    viewer: Viewer, data: CalloutInput, now: datetime | None = None
) -> tuple[Callout, Preview]:
    """Write the call-out, its rings, ring 0's recipients and their texts. The caller
    commits; the texts go out after the commit."""
    now = now or utcnow()
    checked = _check(viewer, data, now)
    callout = Callout(
        event_id=checked.shifts[0].event_id,
        created_by_id=viewer.person_id,
        code=_free_code(),
        message=checked.message,
        is_urgent=data.urgent,
        skills=checked.skills,
        status=CalloutStatus.ACTIVE,
        created_at=now,
    )
    db.session.add(callout)
    db.session.flush()
    db.session.add_all(CalloutShift(callout_id=callout.id, shift_id=s.id) for s in checked.shifts)
    first = _ring_row(callout, 0, data.audience, now)
    first.fired_at = now
    db.session.add(first)
    for number, (given, _ring) in enumerate(checked.later, start=1):
        db.session.add(_ring_row(callout, number, given, now))
    db.session.flush()
    found = rings.text_ring(callout, first, now)
    return callout, Preview(recipients=first.texted, left_out=found.left_out)


def stop(viewer: Viewer, callout_id: int, now: datetime | None = None) -> Callout:
    """End the call-out: no more rings, the stand-down goes out (once)."""
    now = now or utcnow()
    callout = visible_callout(viewer, callout_id)
    if callout.status in (CalloutStatus.STARTED, CalloutStatus.STOPPED):
        raise CalloutRefused(_("该召集已结束"))
    rings.end_callout(callout.id, CalloutStatus.STOPPED, now)
    return db.session.get(Callout, callout.id)


def visible_callout(viewer: Viewer, callout_id: int) -> Callout:
    callout = db.session.scalar(
        select(Callout)
        .join(Event, Event.id == Callout.event_id)
        .join(Team, Team.id == Event.team_id)
        .where(Callout.id == callout_id, viewer.team_condition())
    )
    if callout is None:
        raise NotFound(_("召集不存在"))
    return callout


@dataclass(frozen=True)
class Progress:
    seats: int
    filled: int
    #: the last ring fired
    ring: int
    next_ring_at: datetime | None
    recipients: int
    shift_ids: list[int]


def progress(callout: Callout, shifts: list[Shift] | None = None) -> Progress:
    """Seats, seats taken, rings: four small queries (three given the shifts)."""
    shifts = rings.callout_shifts(callout.id) if shifts is None else shifts
    ring = db.session.scalar(
        select(func.max(CalloutRing.number)).where(
            CalloutRing.callout_id == callout.id, CalloutRing.fired_at.is_not(None)
        )
    )
    next_ring_at = None
    if callout.status == CalloutStatus.ACTIVE:
        next_ring_at = db.session.scalar(
            select(func.min(CalloutRing.fires_at)).where(
                CalloutRing.callout_id == callout.id, CalloutRing.fired_at.is_(None)
            )
        )
    recipients = db.session.scalar(
        select(func.count()).where(CalloutRecipient.callout_id == callout.id)
    )
    return Progress(
        seats=sum(s.capacity for s in shifts),
        filled=sum(s.filled for s in shifts),
        ring=ring or 0,
        next_ring_at=next_ring_at,
        recipients=recipients,
        shift_ids=[s.id for s in shifts],
    )


def answers(callout_id: int, *, limit: int, offset: int) -> tuple[int, list[CalloutRecipient]]:
    """Who answered, in the order they answered: (total, one page)."""
    answered = select(CalloutRecipient).where(
        CalloutRecipient.callout_id == callout_id, CalloutRecipient.answer.is_not(None)
    )
    total = db.session.scalar(select(func.count()).select_from(answered.subquery()))
    rows = db.session.scalars(
        answered.order_by(CalloutRecipient.answered_at, CalloutRecipient.id)
        .limit(limit)
        .offset(offset)
    )
    return total, list(rows)


# -- checks ------------------------------------------------------------------------------


def _check(viewer: Viewer, data: CalloutInput, now: datetime) -> Checked:
    shifts = _shifts(viewer, data.shift_ids, now)
    ring0 = _ring(viewer, data.audience, "audience")
    if len(data.rings) > MAX_RINGS:
        raise ValidationFailed({"rings": _("最多 %(n)d 圈", n=MAX_RINGS)})
    later = []
    for index, given in enumerate(data.rings):
        if not 1 <= given.after_minutes <= MAX_AFTER_MINUTES:
            raise ValidationFailed(
                {f"rings.{index}.after_minutes": _("等待时间应为 1 分钟到 7 天")}
            )
        later.append((given, _ring(viewer, given, f"rings.{index}")))
    names = sorted({name.strip() for name in data.skills if name.strip()})
    unknown = set(names) - set(skill_ids(names))
    if unknown:
        raise ValidationFailed(
            {"skills": _("没有这些技能：%(names)s", names="、".join(sorted(unknown)))}
        )
    message = checked_message(data.message)
    return Checked(shifts=shifts, ring0=ring0, later=later, skills=names, message=message)


def checked_message(text: str | None, field_name: str = "message") -> str:
    """The caller's words as the SMS template carries them (one line, no closing 。: the
    template adds it), or ValidationFailed saying which provider rule they break: a
    variable of at most 35 characters, with no phone number, no link and none of the
    symbols providers refuse. Refused rather than silently masked or cut: the caller
    would not know their words went out changed."""
    message = " ".join((text or "").split()).rstrip("。.")
    problem = None
    if len(message) > MESSAGE_LENGTH:
        problem = _(
            "附言最多 %(n)d 个字（短信模板的限制），现在是 %(len)d 个字",
            n=MESSAGE_LENGTH,
            len=len(message),
        )
    elif mask_phone_like(message) != message:
        problem = _("附言里不能有电话号码（短信服务商不允许），请写在活动说明里")
    elif clean(message) != message:
        problem = _("附言里不能有网址（短信服务商不允许）")
    elif symbols := sorted({ch for ch in message if ch in FORBIDDEN_SYMBOLS + "【】"}):
        problem = _("附言里不能有这些符号：%(symbols)s", symbols=" ".join(symbols))
    if problem:
        raise ValidationFailed({field_name: problem})
    return message


def _shifts(viewer: Viewer, shift_ids: list[int], now: datetime) -> list[Shift]:
    if not shift_ids:
        raise ValidationFailed({"shift_ids": _("请选择班次")})
    rows = db.session.execute(
        select(Shift, Event)
        .join(Event, Event.id == Shift.event_id)
        .join(Team, Team.id == Event.team_id)
        .where(Shift.id.in_(shift_ids), viewer.team_condition())
        .order_by(Shift.starts_at, Shift.id)
    ).all()
    if len(rows) != len(set(shift_ids)):
        raise NotFound(_("班次不存在"), field="shift_ids")
    events = {event.id: event for _shift, event in rows}
    if len(events) != 1:
        raise ValidationFailed({"shift_ids": _("召集的班次须属于同一个活动")})
    event = next(iter(events.values()))
    if event.status != EventStatus.PUBLISHED or any(s.is_cancelled for s, _e in rows):
        raise CalloutRefused(_("活动未发布或已取消，不能召集"))
    if rows[0][0].starts_at <= now:
        raise CalloutRefused(_("班次已经开始，不能再召集"))
    return [shift for shift, _event in rows]


def _ring(viewer: Viewer, given: RingInput, where: str) -> Ring:
    """The audience, checked against what the viewer may call out."""
    if (given.team_ids is None) == (given.unit_id is None):
        raise ValidationFailed({where: _("请指定服务队（team_ids）或单位（unit_id），二者选一")})
    if given.unit_id is not None:
        unit = db.session.scalar(
            select(Unit).where(Unit.id == given.unit_id, viewer.unit_condition())
        )
        if unit is None:
            raise NotFound(_("单位不存在"), field=f"{where}.unit_id")
        return Ring(unit_path=unit.path)
    team_ids = sorted(set(given.team_ids))
    if not team_ids:
        raise ValidationFailed({f"{where}.team_ids": _("请选择服务队")})
    visible = db.session.scalar(
        select(func.count()).where(Team.id.in_(team_ids), viewer.team_condition())
    )
    if visible != len(team_ids):
        raise NotFound(_("服务队不存在"), field=f"{where}.team_ids")
    return Ring(team_ids=tuple(team_ids))


def _ring_row(callout: Callout, number: int, given: RingInput, now: datetime) -> CalloutRing:
    return CalloutRing(
        callout_id=callout.id,
        number=number,
        team_ids=sorted(set(given.team_ids)) if given.team_ids is not None else None,
        unit_id=given.unit_id,
        after_minutes=given.after_minutes,
        fires_at=now + timedelta(minutes=given.after_minutes),
        texted=0,
    )


def _free_code() -> str:
    """Four digits (five once those run short) that no open call-out and no current shift
    uses, so "报名 CODE" is never ambiguous for a given person."""
    for digits in (4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6):
        code = str(secrets.randbelow(9 * 10 ** (digits - 1)) + 10 ** (digits - 1))
        in_use = db.session.scalar(
            select(Callout.id).where(Callout.code == code, Callout.status.in_(OPEN_STATUSES))
        ) or db.session.scalar(
            select(Shift.id).where(Shift.code == code, Shift.code_is_current.is_(True)).limit(1)
        )
        if in_use is None:
            return code
    raise CalloutRefused(_("暂时无法生成召集编号，请稍后再试"))
