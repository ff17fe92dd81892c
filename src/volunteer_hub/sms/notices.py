"""Texts the system sends on its own when a signup or an event changes.

Handlers of the domain events (``volunteer_hub.domain_events``, subscribed in
``volunteer_hub.handlers``): they run inside the transaction that made the change and
write outbox rows, so a notice exists exactly when its change does. One signup gets at
most one notice of each kind (the dedupe keys carry the signup id; a change notice
carries the event's revision as well, so each edit tells once).

The wording is the template catalogue's, chosen and filled by ``sms.replies``: a signup
on the web, by a leader or through the API is confirmed with the same words an SMS
signup gets as its reply. Fan-outs (a cancelled
shift, a moved event) read their recipients with one query and write their rows through
``sms.fanout``, so a 200-person event costs the same few statements as a 10-person one.

A change made during the quiet hours (``SMS_QUIET_HOURS``, 21:00–08:00) is told when
they end, like a leader's call-out that is not urgent: nobody needs a new place at 01:00
for a shift next week. A notice whose shift starts before the quiet hours end goes at
once, since the morning would be too late for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from flask import current_app
from sqlalchemy import select, update

from volunteer_hub.db import utcnow
from volunteer_hub.domain_events import (
    EventChanged,
    PlacedFacts,
    ShiftCancelled,
    SignupPlaced,
    SignupPromoted,
)
from volunteer_hub.events.models import Event, EventStatus, Shift
from volunteer_hub.extensions import db
from volunteer_hub.i18n import local_zone
from volunteer_hub.people.models import Person
from volunteer_hub.signups.models import ACTIVE_STATUSES, Signup, SignupSource, SignupStatus
from volunteer_hub.sms import replies
from volunteer_hub.sms.broadcast import QuietHours
from volunteer_hub.sms.fanout import Text, queue_many
from volunteer_hub.sms.models import Broadcast, OutgoingSms, SmsKind, SmsStatus
from volunteer_hub.sms.services import queue_text
from volunteer_hub.sms.templates import Rendered
from volunteer_hub.teams.models import Team


def signup_placed(placed: SignupPlaced) -> None:
    # Someone who signed up by text already has these words: they are the TwiML reply;
    # a walk-in is standing at the shift.
    if placed.source in (SignupSource.SMS, SignupSource.WALK_IN):
        return
    # The sign-up core hands over what it read and wrote; a publisher that did not has
    # them read here, once, so there is one way to word and queue the notice.
    facts = placed.facts or _placed_facts(placed.signup_id)
    named = _named(facts, facts.team_name, facts)
    if facts.status == SignupStatus.CONFIRMED:
        text = replies.signup_confirmed(**named)
    else:
        position = placed.waitlist_position
        if position is None:  # a publisher that did not count it
            from volunteer_hub.signups.services import waitlist_position

            position = waitlist_position(db.session.get(Signup, placed.signup_id))
        text = replies.signup_waitlisted(**named, position=position)
    queue_text(
        to_phone=facts.phone,
        text=text,
        kind=SmsKind.NOTICE,
        dedupe_key=f"notice:placed:{placed.signup_id}",
        person_id=facts.person_id,
        signup_id=placed.signup_id,
        # Written with the sign-up's feed change, in one round trip (held_writes).
        hold=True,
    )


def _placed_facts(signup_id: int) -> PlacedFacts:
    """A ``SignupPlaced``'s facts read from the rows (from the identity map, as a rule)."""
    signup = db.session.get(Signup, signup_id)
    shift, event = _shift_and_event(signup.shift_id)
    return PlacedFacts(
        status=signup.status,
        person_id=signup.person_id,
        phone=db.session.get(Person, signup.person_id).phone,
        event_id=event.id,
        starts_at=shift.starts_at,
        code=shift.code,
        title=event.title,
        location=event.location,
        team_name=db.session.get(Team, event.team_id).name,
    )


def signup_promoted(promoted: SignupPromoted) -> None:
    signup = db.session.get(Signup, promoted.signup_id)
    shift, event = _shift_and_event(signup.shift_id)
    text = replies.waitlist_promoted(**_named_shift(shift, event))
    _queue_one(signup, text, f"notice:promoted:{signup.id}")


def shift_cancelled(cancelled: ShiftCancelled) -> None:
    shift, event = _shift_and_event(cancelled.shift_id)
    if cancelled.event_cancelled:
        # A call-out still held for the morning must not invite people to a cancelled event.
        db.session.execute(
            update(OutgoingSms)
            .where(
                OutgoingSms.broadcast_id.in_(
                    select(Broadcast.id).where(Broadcast.event_id == event.id)
                ),
                OutgoingSms.status == SmsStatus.QUEUED,
            )
            .values(
                status=SmsStatus.CANCELLED,
                status_changed_at=utcnow(),
                error_message="event cancelled",
            )
            .execution_options(synchronize_session=False)
        )
    if not cancelled.signup_ids:
        return
    rows = db.session.execute(
        select(Signup.id, Signup.person_id).where(Signup.id.in_(cancelled.signup_ids))
    ).all()
    starts_at = shift.starts_at
    text = replies.organizer_cancelled(
        title=event.title,
        starts_at=shift.starts_at,
        code=shift.code,
        whole_event=cancelled.event_cancelled,
        reason=cancelled.reason,
    )
    _queue_changes(
        [
            (
                Text(
                    person_id=person_id,
                    rendered=text,
                    dedupe_key=f"notice:cancelled:{signup_id}",
                    signup_id=signup_id,
                ),
                starts_at,
            )
            for signup_id, person_id in rows
        ]
    )


def event_changed(changed: EventChanged) -> None:
    """Tell the people on the event's shifts of a new time or place."""
    location_changed = changed.location_changed
    if not (changed.moved_shift_ids or location_changed):
        return
    event = db.session.get(Event, changed.event_id)
    # A draft's signups cannot exist; a cancelled event told its people already.
    if event.status != EventStatus.PUBLISHED:
        return
    moved = set(changed.moved_shift_ids)
    affected = Shift.id.in_(moved) if not location_changed else Shift.event_id == event.id
    rows = db.session.execute(
        select(Signup.id, Signup.person_id, Shift.id, Shift.code, Shift.starts_at, Shift.ends_at)
        .join(Shift, Shift.id == Signup.shift_id)
        .where(
            Shift.event_id == event.id,
            affected,
            Shift.is_cancelled.is_(False),
            Signup.status.in_(ACTIVE_STATUSES),
        )
        .order_by(Signup.id)
    ).all()
    texts = []
    for signup_id, person_id, shift_id, code, starts_at, ends_at in rows:
        was_moved = shift_id in moved
        text = replies.event_changed(
            title=event.title,
            code=code,
            starts_at=starts_at if was_moved else None,
            ends_at=ends_at if was_moved else None,
            location=event.location if location_changed else None,
        )
        texts.append(
            (
                Text(
                    person_id=person_id,
                    rendered=text,
                    dedupe_key=f"notice:changed:{signup_id}:r{event.revision}",
                    signup_id=signup_id,
                ),
                starts_at,
            )
        )
    _queue_changes(texts)


def _queue_changes(texts: Sequence[tuple[Text, datetime]], now: datetime | None = None) -> None:
    """Queue change notices, each with its shift's start: during the quiet hours held
    until they end, unless the shift starts before then (see the module docstring)."""
    now = now or utcnow()
    quiet = QuietHours.parse(current_app.config["SMS_QUIET_HOURS"])
    morning = quiet.end_after(now, local_zone()) if quiet else None
    at_once = [text for text, starts_at in texts if morning is None or starts_at < morning]
    held = [text for text, starts_at in texts if morning is not None and starts_at >= morning]
    if at_once:
        queue_many(at_once, kind=SmsKind.NOTICE, now=now)
    if held:
        queue_many(held, kind=SmsKind.NOTICE, send_after=morning, now=now)


def _queue_one(signup: Signup, text: Rendered, dedupe_key: str) -> None:
    person = db.session.get(Person, signup.person_id)
    queue_text(
        to_phone=person.phone,
        text=text,
        kind=SmsKind.NOTICE,
        dedupe_key=dedupe_key,
        person_id=person.id,
        signup_id=signup.id,
        id_only=True,
    )


def _named_shift(shift: Shift, event: Event) -> dict:
    """What a sign-up text says of its shift: the same words an SMS sign-up's reply has
    (title, team, time, place and code), so a person signed up by someone else can tell
    which team and which dike it is."""
    return _named(event, db.session.get(Team, event.team_id).name, shift)


def _named(event, team_name: str, shift) -> dict:
    """``_named_shift`` from anything with the columns: an event's title and location,
    a shift's start and code (entities, or a ``SignupPlaced``'s facts for both)."""
    return {
        "title": event.title,
        "team": team_name,
        "starts_at": shift.starts_at,
        "location": event.location,
        "code": shift.code,
    }


def _shift_and_event(shift_id: int) -> tuple[Shift, Event]:
    # Usually from the identity map: the service that published the event loaded both.
    shift = db.session.get(Shift, shift_id)
    return shift, db.session.get(Event, shift.event_id)
