"""Sharing an event where teams actually talk, their WeChat group: a notice to paste
(title, time, place, each shift with the text that signs up for it, the sign-up page)
and a poster to post (``events.poster``), whose QR code opens the same page; and what
that page shows the volunteer who opens it (``for_volunteer``).

The words are the viewer's language (Chinese first); the SMS keyword stays 报名 in every
language, as volunteers must text it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import phonenumbers
from flask import current_app, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from volunteer_hub.errors import NotFound
from volunteer_hub.events.models import Event, EventStatus, Shift
from volunteer_hub.extensions import db
from volunteer_hub.people.services import display_phone
from volunteer_hub.signups.models import ACTIVE_STATUSES, Signup
from volunteer_hub.teams.services import membership
from volunteer_hub.web import format_span

#: shifts a notice lists one by one; the rest are counted ("还有 3 个班次")
NOTICE_SHIFTS = 12


@dataclass(frozen=True)
class SharedShift:
    code: str
    title: str
    when: str


@dataclass(frozen=True)
class Shared:
    """What the notice and the poster say of an event (hashable: a poster's cache key)."""

    team: str
    title: str
    when: str
    place: str
    shifts: tuple[SharedShift, ...]
    #: the volunteers' page of the event, absolute (the QR code holds it)
    url: str
    #: the number to text, when there is one number (see ``service_number``)
    number: str | None


def shared(event: Event) -> Shared:
    """The event as it is shared; its team, category and shifts loaded (queries.events)."""
    shifts = sorted((s for s in event.shifts if not s.is_cancelled), key=_shift_order)
    return Shared(
        team=event.team.name,
        title=event.title,
        when=format_span(event.starts_at, event.ends_at),
        place=event.location or _("待定"),
        shifts=tuple(
            SharedShift(s.code, s.title or "", format_span(s.starts_at, s.ends_at)) for s in shifts
        ),
        url=signup_url(event.id),
        number=service_number(),
    )


def notice_text(event: Event) -> str:
    """The notice to paste into a WeChat group, one line per fact."""
    share = shared(event)
    lines = [
        _("【%(team)s】%(title)s", team=share.team, title=share.title),
        _("时间：%(when)s", when=share.when),
        _("地点：%(place)s", place=share.place),
        _("班次（短信报名发送后面的文字）："),
    ]
    for shift in share.shifts[:NOTICE_SHIFTS]:
        label = f"{shift.title} " if shift.title else ""
        lines.append(f"· {label}{shift.when} —— 报名 {shift.code}")
    if len(share.shifts) > NOTICE_SHIFTS:
        lines.append(_("还有 %(n)d 个班次，见报名页面", n=len(share.shifts) - NOTICE_SHIFTS))
    lines.append(how_to_text(share))
    lines.append(_("网上报名：%(url)s", url=share.url))
    return "\n".join(lines)


def how_to_text(share: Shared) -> str:
    """How to sign up by text: the example is the first shift's."""
    example = f"报名 {share.shifts[0].code}" if share.shifts else "报名 1234"
    if share.number:
        return _(
            "用登记的手机发短信“%(example)s”到 %(number)s 即可报名。",
            example=example,
            number=share.number,
        )
    return _("用登记的手机发短信“%(example)s”到本队通知短信的号码即可报名。", example=example)


@dataclass(frozen=True)
class VolunteerShift:
    shift: Shift
    #: the person's place on it: "confirmed", "waitlisted", or None
    signup_status: str | None
    #: whether they may still sign up for it (it has not started, they are not on it)
    open: bool


@dataclass(frozen=True)
class VolunteerEvent:
    """What a volunteer sees of an event they were sent to (a poster, a shared link)."""

    event: Event
    shifts: list[VolunteerShift]
    #: open to everyone, or the person is in the team (signups.check_may_join decides)
    may_join: bool


def for_volunteer(event_id: int, person_id: int, now: datetime) -> VolunteerEvent:
    """The event as the person may sign up for it; NotFound for a draft or no event.
    Three queries: the event with its team and shifts, the person's signups, membership."""
    event = db.session.scalar(
        select(Event)
        .where(Event.id == event_id, Event.status != EventStatus.DRAFT)
        .options(joinedload(Event.team), selectinload(Event.shifts))
    )
    if event is None:
        raise NotFound(_("活动不存在"))
    places = dict(
        db.session.execute(
            select(Signup.shift_id, Signup.status).where(
                Signup.shift_id.in_([s.id for s in event.shifts]),
                Signup.person_id == person_id,
                Signup.status.in_(ACTIVE_STATUSES),
            )
        ).all()
    )
    live = event.status == EventStatus.PUBLISHED
    shifts = [
        VolunteerShift(
            shift=shift,
            signup_status=places.get(shift.id),
            open=live
            and not shift.is_cancelled
            and shift.starts_at > now
            and shift.id not in places,
        )
        for shift in event.shifts
    ]
    may_join = event.open_to_all or membership(event.team_id, person_id) is not None
    return VolunteerEvent(event=event, shifts=shifts, may_join=may_join)


def signup_url(event_id: int) -> str:
    """The volunteers' page of the event as an absolute URL: on PUBLIC_BASE_URL when it
    is set (a poster outlives the request that drew it), else the request's own origin."""
    path = url_for("volunteers.event", event_id=event_id)
    base = current_app.config.get("PUBLIC_BASE_URL")
    if base:
        return base.rstrip("/") + path
    return url_for("volunteers.event", event_id=event_id, _external=True)


def service_number() -> str | None:
    """The number our texts come from, for people to text; None when the sender is a
    messaging service or a domestic provider's channel, which has no one number."""
    number = current_app.config.get("TWILIO_FROM_NUMBER")
    if not number:
        return None
    try:
        return display_phone(number)
    except phonenumbers.NumberParseException:  # a short code: shown as configured
        return number


def _shift_order(shift: Shift) -> tuple[datetime, int]:
    return shift.starts_at, shift.id
