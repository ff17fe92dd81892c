"""Texting a ring, escalating from the database, and ending a call-out.

Restart-safe and safe to run twice at once (two schedulers, or a tick that overlaps the
next): a ring is claimed by one conditional UPDATE (``fired_at IS NULL``), so it fires
once; a person gets a ``callout_recipient`` row through an INSERT that does nothing on
the (callout, person) unique key, and only the rows that INSERT wrote are texted, so a
person in two rings, or in a ring fired twice by mistake, gets one text; and the outbox
rows carry dedupe keys as well. A call-out ends (full, started, stopped) by one
conditional UPDATE of its status; the one transaction that made it writes the
stand-down, one text per person and call-out (its dedupe key).
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select, update

from volunteer_hub.callouts import texts
from volunteer_hub.callouts.audience import Audience, Ring, audience
from volunteer_hub.callouts.models import (
    Callout,
    CalloutRecipient,
    CalloutRing,
    CalloutShift,
    CalloutStatus,
)
from volunteer_hub.db import dialect_insert, utcnow
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.i18n import local_zone
from volunteer_hub.signups.models import ACTIVE_STATUSES, Signup, SignupStatus
from volunteer_hub.sms.broadcast import QuietHours
from volunteer_hub.sms.fanout import Text, queue_many
from volunteer_hub.sms.models import SmsKind
from volunteer_hub.sms.templates import Rendered
from volunteer_hub.units.models import Unit

log = logging.getLogger(__name__)


def callout_shifts(callout_id: int) -> list[Shift]:
    """The call-out's shifts that are not cancelled, soonest first."""
    return list(
        db.session.scalars(
            select(Shift)
            .join(CalloutShift, CalloutShift.shift_id == Shift.id)
            .where(CalloutShift.callout_id == callout_id, Shift.is_cancelled.is_(False))
            .order_by(Shift.starts_at, Shift.id)
        )
    )


def ring_audience(ring: CalloutRing) -> Ring:
    if ring.team_ids is not None:
        return Ring(team_ids=tuple(ring.team_ids))
    path = db.session.scalar(select(Unit.path).where(Unit.id == ring.unit_id))
    # A unit deleted since: nobody (its teams would have gone first).
    return Ring(unit_path=path) if path else Ring(team_ids=())


def send_after(urgent: bool, now: datetime) -> datetime | None:
    """When a non-urgent text written now may go out (quiet hours), None: at once."""
    if urgent:
        return None
    quiet = QuietHours.parse(current_app.config["SMS_QUIET_HOURS"])
    return quiet.end_after(now, local_zone()) if quiet else None


def text_ring(callout: Callout, ring: CalloutRing, now: datetime) -> Audience:
    """Text the ring's audience, minus everyone this call-out has texted already."""
    shifts = callout_shifts(callout.id)
    if not shifts:
        return Audience(person_ids=[])
    held_until = send_after(callout.is_urgent, now)
    found = audience(
        ring_audience(ring),
        shifts,
        skills=callout.skills,
        urgent=callout.is_urgent,
        goes_out=held_until or now,
        exclude_person_id=callout.created_by_id,
    )
    # One statement, its rows sent in batches (insertmanyvalues): a multi-row VALUES
    # would compile a bound parameter per value, seconds for a district.
    new_ids = (
        list(
            db.session.scalars(
                dialect_insert(db.session, CalloutRecipient.__table__)
                .on_conflict_do_nothing(index_elements=["callout_id", "person_id"])
                .returning(CalloutRecipient.__table__.c.person_id),
                [
                    {
                        "callout_id": callout.id,
                        "person_id": pid,
                        "ring": ring.number,
                        "texted_at": now,
                    }
                    for pid in found.person_ids
                ],
            )
        )
        if found.person_ids
        else []
    )
    event = db.session.get(Event, shifts[0].event_id)
    body = texts.call(
        texts.Duty.of(event, shifts[0], shifts[-1]),
        message=callout.message,
        code=callout.code,
        urgent=callout.is_urgent,
    )
    queue_many(
        (Text(pid, body, f"callout:{callout.id}:{pid}") for pid in new_ids),
        kind=SmsKind.BROADCAST,
        is_urgent=callout.is_urgent,
        send_after=held_until,
        # pointless once the first shift has begun
        expires_at=shifts[0].starts_at,
        now=now,
    )
    ring.texted = len(new_ids)
    log.info("call-out %s ring %s: %d texted", callout.id, ring.number, len(new_ids))
    return found


def fire_due_rings(now: datetime | None = None) -> int:
    """The scheduler tick's step: end call-outs that are full or whose shift began, then
    fire every ring that is due. Returns how many rings fired. The caller commits."""
    now = now or utcnow()
    _end_finished(now)
    due = db.session.scalars(
        select(CalloutRing)
        .join(Callout, Callout.id == CalloutRing.callout_id)
        .where(
            CalloutRing.fired_at.is_(None),
            CalloutRing.fires_at <= now,
            Callout.status == CalloutStatus.ACTIVE,
        )
        .order_by(CalloutRing.fires_at, CalloutRing.id)
    ).all()
    return sum(fire_ring(ring, now) for ring in due)


def fire_ring(ring: CalloutRing, now: datetime) -> bool:
    """Claim the ring (one conditional UPDATE: whoever gets there first fires it) and
    text it; False when another tick, or the caller's "next ring now", had it."""
    claimed = db.session.execute(
        update(CalloutRing)
        .where(CalloutRing.id == ring.id, CalloutRing.fired_at.is_(None))
        .values(fired_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        return False
    db.session.refresh(ring)
    text_ring(db.session.get(Callout, ring.callout_id), ring, now)
    return True


def next_ring(callout_id: int) -> CalloutRing | None:
    """The call-out's next ring not yet fired, if any."""
    return db.session.scalar(
        select(CalloutRing)
        .where(CalloutRing.callout_id == callout_id, CalloutRing.fired_at.is_(None))
        .order_by(CalloutRing.number)
        .limit(1)
    )


def _end_finished(now: datetime) -> None:
    """Active call-outs whose first shift began, or whose every seat is taken, end; a
    full one becomes started then (it takes no more replies)."""
    rows = db.session.execute(
        _seats()
        .add_columns(Callout.status)
        .join(Callout, Callout.id == CalloutShift.callout_id)
        .where(Callout.status.in_((CalloutStatus.ACTIVE, CalloutStatus.FULL)))
        .group_by(Callout.status)
    ).all()
    for callout_id, first_start, seats, filled, status in rows:
        if first_start <= now:
            end_callout(callout_id, CalloutStatus.STARTED, now)
        elif filled >= seats and status == CalloutStatus.ACTIVE:
            end_callout(callout_id, CalloutStatus.FULL, now)


def is_full(callout_id: int) -> bool:
    row = db.session.execute(_seats().where(CalloutShift.callout_id == callout_id)).first()
    return row is not None and row.filled >= row.seats


def _seats():
    """Per call-out: its first start, its seats and the seats taken (shifts not cancelled)."""
    return (
        select(
            CalloutShift.callout_id,
            func.min(Shift.starts_at).label("first_start"),
            func.sum(Shift.capacity).label("seats"),
            func.sum(Shift.filled).label("filled"),
        )
        .join(Shift, Shift.id == CalloutShift.shift_id)
        .where(Shift.is_cancelled.is_(False))
        .group_by(CalloutShift.callout_id)
    )


def end_callout(callout_id: int, status: CalloutStatus, now: datetime) -> bool:
    """End the call-out (no more rings) and text the stand-down; False when it had ended
    already. A full call-out still takes replies (on the waitlist) until it is stopped or
    its shift starts: that stand-down reaches those who answered since, and nobody twice
    (each person's stand-down has its own dedupe key)."""
    ended = db.session.execute(
        update(Callout)
        .where(Callout.id == callout_id, Callout.status == CalloutStatus.ACTIVE)
        .values(status=status, ended_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if ended != 1 and status != CalloutStatus.FULL:
        ended = db.session.execute(
            update(Callout)
            .where(Callout.id == callout_id, Callout.status == CalloutStatus.FULL)
            .values(status=status)
            .execution_options(synchronize_session=False)
        ).rowcount
    _expire(callout_id)
    if ended != 1:
        return False
    _stand_down(db.session.get(Callout, callout_id), now)
    return True


def _stand_down(callout: Callout, now: datetime) -> None:
    """One text to everyone seated or waitlisted on the call-out's shifts."""
    shifts = callout_shifts(callout.id)
    if not shifts:
        return
    event = db.session.get(Event, shifts[0].event_id)
    on = db.session.execute(
        select(Signup.person_id, Signup.status, Shift)
        .join(Shift, Shift.id == Signup.shift_id)
        .where(Signup.shift_id.in_([s.id for s in shifts]), Signup.status.in_(ACTIVE_STATUSES))
        .order_by(Signup.id)
    ).all()

    def body(status: SignupStatus, shift: Shift) -> Rendered:
        if status == SignupStatus.WAITLISTED:
            return texts.stand_down_waitlisted(event.title)
        return texts.stand_down_seated(texts.Duty.of(event, shift))

    queue_many(
        (
            Text(pid, body(status, shift), f"callout:{callout.id}:stand-down:{pid}")
            for pid, status, shift in on
        ),
        kind=SmsKind.NOTICE,
        is_urgent=callout.is_urgent,
        send_after=send_after(callout.is_urgent, now),
        now=now,
    )


def _expire(callout_id: int) -> None:
    callout = db.session.identity_map.get(db.session.identity_key(Callout, callout_id))
    if callout is not None:
        db.session.expire(callout)
