"""A leader's call-out: one text announcing an event to every member of its team.

Volunteers are older people reached by SMS, so a call-out respects the night: outside
urgent duty (flood, rescue) a text written during the quiet hours (``SMS_QUIET_HOURS``,
local time, may span midnight) waits in the outbox with ``send_after`` set to their end,
and the minute sweep (``sms.services.requeue_stuck``) sends it then. Nobody gets more
than ``BROADCAST_DAILY_CAP`` non-urgent call-outs on one local day, counted by the day
the text goes out. Urgent call-outs skip both; opted-out people get nothing, ever.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import Row, func, select
from sqlalchemy.orm import selectinload

from volunteer_hub.db import utcnow
from volunteer_hub.errors import DomainError, NotFound
from volunteer_hub.events.models import Event, EventStatus, Shift
from volunteer_hub.extensions import db
from volunteer_hub.i18n import local_zone
from volunteer_hub.people.models import Person
from volunteer_hub.sms import replies
from volunteer_hub.sms.fanout import Text, queue_many
from volunteer_hub.sms.limits import local_day
from volunteer_hub.sms.models import Broadcast, OutgoingSms, SmsKind, SmsStatus
from volunteer_hub.teams.models import Membership

log = logging.getLogger(__name__)

#: texts that never reached the person do not count towards the daily cap
_NOT_RECEIVED = (SmsStatus.CANCELLED, SmsStatus.FAILED)


class BroadcastRefused(DomainError, code="broadcast-refused"):
    """The event cannot be announced: a draft, cancelled, no shift still open when the text
    would go out, or nobody else in the team to tell."""

    status = 409


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time

    @classmethod
    def parse(cls, spec: str) -> QuietHours | None:
        """ "21:00-08:00" → QuietHours; "" or "off" → None (no quiet hours)."""
        spec = (spec or "").strip()
        if spec.lower() in ("", "off", "none"):
            return None
        match = re.fullmatch(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})", spec)
        if not match:
            raise ValueError(f"SMS_QUIET_HOURS must look like 21:00-08:00, not {spec!r}")
        h1, m1, h2, m2 = (int(part) for part in match.groups())
        return cls(time(h1, m1), time(h2, m2))

    def end_after(self, now: datetime, zone) -> datetime | None:
        """When the quiet hours around ``now`` end (UTC), or None if ``now`` is not in them."""
        local = now.astimezone(zone)
        wall = local.time().replace(tzinfo=None)
        if self.start <= self.end:
            quiet = self.start <= wall < self.end
        else:  # spans midnight: 21:00-08:00
            quiet = wall >= self.start or wall < self.end
        if not quiet:
            return None
        day = local.date() if wall < self.end else local.date() + timedelta(days=1)
        return datetime.combine(day, self.end, tzinfo=zone).astimezone(UTC)


def broadcast_event(
    event_id: int, sent_by_id: int | None, *, urgent: bool = False, now: datetime | None = None
) -> Broadcast:
    """Text every active member of the event's team about it. The caller commits.

    Raises BroadcastRefused (draft, cancelled, nothing left to sign up for, nobody to
    tell) before anything is written.
    """
    now = now or utcnow()
    event = db.session.scalar(
        select(Event).where(Event.id == event_id).options(selectinload(Event.shifts))
    )
    if event is None:
        raise NotFound(_("活动不存在"))
    if event.status == EventStatus.DRAFT:
        raise BroadcastRefused(_("草稿活动不能通知队员，请先发布活动"))
    if event.status == EventStatus.CANCELLED:
        raise BroadcastRefused(_("活动已取消，不能再通知队员"))

    zone = local_zone()
    send_after = None
    if not urgent:
        quiet = QuietHours.parse(current_app.config["SMS_QUIET_HOURS"])
        send_after = quiet.end_after(now, zone) if quiet else None
    goes_out = send_after or now
    open_shifts = _open_shifts(event, now, goes_out, held=send_after is not None)
    recipients = _recipients(event.team_id, sent_by_id)
    capped = set() if urgent else _at_daily_cap(event.team_id, goes_out, zone)

    text = replies.broadcast_call(
        title=event.title,
        location=event.location,
        shifts=[(s.code, s.starts_at, s.title) for s in open_shifts],
    )
    broadcast = Broadcast(
        event_id=event.id, sent_by_id=sent_by_id, is_urgent=urgent, body=text.text, created_at=now
    )
    db.session.add(broadcast)
    db.session.flush()
    queued = queue_many(
        (
            Text(
                person_id=person_id,
                rendered=text,
                dedupe_key=f"broadcast:{broadcast.id}:{person_id}",
            )
            for person_id, opted_out in recipients
            if not opted_out and person_id not in capped
        ),
        kind=SmsKind.BROADCAST,
        is_urgent=urgent,
        send_after=send_after,
        # an invitation is pointless once the last shift it lists has begun
        expires_at=max(s.starts_at for s in open_shifts),
        broadcast_id=broadcast.id,
        now=now,
    )
    broadcast.held_count = sum(1 for row in queued if row.held)
    broadcast.queued_count = len(queued) - broadcast.held_count
    broadcast.skipped_count = len(recipients) - len(queued)
    db.session.flush()
    log.info(
        "broadcast %s of event %s: %d queued, %d held, %d skipped",
        broadcast.id,
        event.id,
        broadcast.queued_count,
        broadcast.held_count,
        broadcast.skipped_count,
    )
    return broadcast


def send_time(broadcast: Broadcast) -> datetime | None:
    """When the held texts of a call-out go out (None if none were held); one query."""
    return db.session.scalar(
        select(func.min(OutgoingSms.send_after)).where(OutgoingSms.broadcast_id == broadcast.id)
    )


def recent_broadcasts(event_id: int, limit: int = 10) -> list[tuple[Broadcast, str | None]]:
    """The event's latest call-outs with the sender's name, newest first; one query."""
    return [
        (broadcast, name)
        for broadcast, name in db.session.execute(
            select(Broadcast, Person.name)
            .outerjoin(Person, Person.id == Broadcast.sent_by_id)
            .where(Broadcast.event_id == event_id)
            .order_by(Broadcast.created_at.desc(), Broadcast.id.desc())
            .limit(limit)
        )
    ]


def _open_shifts(event: Event, now: datetime, goes_out: datetime, *, held: bool) -> list[Shift]:
    """The event's shifts still open to sign up for when the text ``goes_out``; refused
    when there are none, saying so differently when the quiet hours (``held``) are why."""
    open_shifts = [s for s in event.shifts if not s.is_cancelled and s.starts_at > goes_out]
    if not open_shifts:
        if held and any(not s.is_cancelled and s.starts_at > now for s in event.shifts):
            raise BroadcastRefused(_("活动在夜间免打扰时段结束前就开始了，如确需通知请勾选“紧急”"))
        raise BroadcastRefused(_("活动的班次都已开始，不能再通知队员报名"))
    return open_shifts


def _recipients(team_id: int, sent_by_id: int | None) -> Sequence[Row[tuple[int, bool]]]:
    """(person id, opted out) of every active member but the sender; refused if none."""
    members = (
        select(Person.id, Person.sms_opted_out_at.is_not(None))
        .join(Membership, Membership.person_id == Person.id)
        .where(Membership.team_id == team_id, Person.is_active.is_(True))
        .order_by(Person.id)
    )
    if sent_by_id is not None:
        members = members.where(Person.id != sent_by_id)  # the sender knows already
    recipients = db.session.execute(members).all()
    if not recipients:
        raise BroadcastRefused(_("本队还没有其他队员可以通知"))
    return recipients


def _at_daily_cap(team_id: int, goes_out: datetime, zone) -> set[int]:
    """Members who already have BROADCAST_DAILY_CAP non-urgent call-outs going out on the
    local day of ``goes_out``; one query for the whole team."""
    return at_daily_cap(
        select(Membership.person_id).where(Membership.team_id == team_id), goes_out, zone
    )


def at_daily_cap(people, goes_out: datetime, zone) -> set[int]:
    """Of ``people`` (ids, or a SELECT of ids), those who already have BROADCAST_DAILY_CAP
    non-urgent call-outs (a team's broadcasts, flood-duty call-outs) going out on the
    local day of ``goes_out``; one query."""
    cap = current_app.config["BROADCAST_DAILY_CAP"]
    day_start, day_end = local_day(goes_out, zone)  # the day the recipient caps count by
    out_at = func.coalesce(OutgoingSms.send_after, OutgoingSms.created_at)
    return set(
        db.session.scalars(
            select(OutgoingSms.person_id)
            .where(
                OutgoingSms.person_id.in_(people),
                OutgoingSms.kind == SmsKind.BROADCAST,
                OutgoingSms.is_urgent.is_(False),
                OutgoingSms.status.not_in(_NOT_RECEIVED),
                out_at >= day_start,
                out_at < day_end,
                # a text held overnight was written the evening before: keeps the index useful
                OutgoingSms.created_at >= day_start - timedelta(days=1),
                OutgoingSms.created_at < day_end,
            )
            .group_by(OutgoingSms.person_id)
            .having(func.count() >= cap)
        )
    )
