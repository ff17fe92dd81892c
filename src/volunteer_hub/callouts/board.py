"""The caller's live board of a call-out, and what its buttons do.

The board reads, in a handful of queries whatever the audience: seats filled of
capacity; who is coming (seated or waitlisted, with when they answered), who declined,
who has not answered yet (the first names, and how many); each ring, when it fired or
will fire. The buttons: fire the next ring now (the same claim the scheduler tick makes,
so a ring never fires twice) and text the seated people a word of the caller's (a
meeting point). Stopping is ``services.stop``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import func, select

from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.callouts import rings, texts
from volunteer_hub.callouts.models import (
    OPEN_STATUSES,
    Answer,
    Callout,
    CalloutRecipient,
    CalloutRing,
    CalloutStatus,
)
from volunteer_hub.callouts.services import (
    CalloutRefused,
    Progress,
    checked_message,
    progress,
    visible_callout,
)
from volunteer_hub.db import utcnow
from volunteer_hub.errors import ValidationFailed
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import display_phone, mask_phone
from volunteer_hub.signups.models import Signup, SignupStatus
from volunteer_hub.sms.fanout import Text, queue_many
from volunteer_hub.sms.models import SmsKind
from volunteer_hub.teams.models import Team
from volunteer_hub.units.models import Unit

#: names of people who have not answered shown on the board; the rest are counted
SILENT_SHOWN = 60


def _line(person: Person, phone: str, answered_at: datetime | None = None, **seat) -> dict:
    """One person on the board, as the template and the poll's fingerprint read it: name,
    number as the viewer may read it, when they answered, and for those coming their
    ``status`` (confirmed or waitlisted) and ``waitlist_position``."""
    return {
        "person_id": person.id,
        "name": person.name,
        "phone": phone,
        "answered_at": answered_at,
        **seat,
    }


@dataclass
class Board:
    callout: Callout
    event: Event
    shifts: list[Shift]
    progress: Progress
    #: lines of :func:`_line`, in the order they answered
    coming: list[dict] = field(default_factory=list)
    declined: list[dict] = field(default_factory=list)
    silent: list[dict] = field(default_factory=list)
    silent_count: int = 0
    #: number, audience, fires_at, fired_at, texted of each ring
    rings: list[dict] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.callout.status in OPEN_STATUSES

    @property
    def can_fire_next(self) -> bool:
        return self.callout.status == CalloutStatus.ACTIVE and any(
            r["fired_at"] is None for r in self.rings
        )

    @property
    def seated(self) -> int:
        return sum(1 for p in self.coming if p["status"] == SignupStatus.CONFIRMED)

    def version(self) -> str:
        """A fingerprint of everything the board shows: the poll's ETag."""
        shown = {
            "status": self.callout.status,
            "progress": asdict(self.progress),
            "coming": self.coming,
            "declined": self.declined,
            "silent": [p["person_id"] for p in self.silent],
            "silent_count": self.silent_count,
            "rings": self.rings,
        }
        raw = json.dumps(shown, default=str, sort_keys=True).encode()
        return hashlib.sha256(raw).hexdigest()[:20]


def board(callout: Callout, viewer: Viewer) -> Board:
    """The board of ``callout``, phone numbers in full where the viewer may read them
    (members of the teams they manage), masked otherwise."""
    shifts = rings.callout_shifts(callout.id)
    found = Board(
        callout=callout,
        event=db.session.get(Event, callout.event_id),
        shifts=shifts,
        progress=progress(callout, shifts),
        rings=_ring_lines(callout.id),
    )
    rows = db.session.execute(
        select(CalloutRecipient, Person, Signup)
        .join(Person, Person.id == CalloutRecipient.person_id)
        .outerjoin(Signup, Signup.id == CalloutRecipient.signup_id)
        .where(CalloutRecipient.callout_id == callout.id, CalloutRecipient.answer.is_not(None))
        .order_by(CalloutRecipient.answered_at, CalloutRecipient.id)
    ).all()
    silent = (
        select(Person)
        .join(CalloutRecipient, CalloutRecipient.person_id == Person.id)
        .where(CalloutRecipient.callout_id == callout.id, CalloutRecipient.answer.is_(None))
    )
    found.silent_count = db.session.scalar(select(func.count()).select_from(silent.subquery()))
    silent_people = db.session.scalars(
        silent.order_by(Person.name, Person.id).limit(SILENT_SHOWN)
    ).all()
    full = viewer.people_with_full_phone(
        [p.id for _r, p, _s in rows] + [p.id for p in silent_people]
    )

    def phone_of(person: Person) -> str:
        return display_phone(person.phone) if person.id in full else mask_phone(person.phone)

    found.silent = [_line(p, phone_of(p)) for p in silent_people]
    waiting = _waitlist_positions([s.id for s in shifts])
    for recipient, person, signup in rows:
        if recipient.answer == Answer.DECLINED:
            found.declined.append(_line(person, phone_of(person), recipient.answered_at))
        elif signup is not None and signup.is_active:
            found.coming.append(
                _line(
                    person,
                    phone_of(person),
                    recipient.answered_at,
                    status=signup.status,
                    waitlist_position=waiting.get(signup.id),
                )
            )
        # an acceptance whose signup was cancelled since (by the caller): neither list
    return found


def _waitlist_positions(shift_ids: list[int]) -> dict[int, int]:
    """Signup id → waitlist position, per shift, for all the call-out's shifts at once."""
    positions: dict[int, int] = {}
    per_shift: dict[int, int] = {}
    for signup_id, shift_id in db.session.execute(
        select(Signup.id, Signup.shift_id)
        .where(Signup.shift_id.in_(shift_ids), Signup.status == SignupStatus.WAITLISTED)
        .order_by(Signup.shift_id, Signup.id)
    ):
        per_shift[shift_id] = per_shift.get(shift_id, 0) + 1
        positions[signup_id] = per_shift[shift_id]
    return positions


def _names(model, ids: set[int]) -> dict[int, str]:
    # A ring names teams or a unit: no query for the kind a call-out's rings do not use
    # (the board is polled while the call-out runs).
    if not ids:
        return {}
    return dict(db.session.execute(select(model.id, model.name).where(model.id.in_(ids))).all())


def _ring_lines(callout_id: int) -> list[dict]:
    ring_rows = db.session.scalars(
        select(CalloutRing).where(CalloutRing.callout_id == callout_id).order_by(CalloutRing.number)
    ).all()
    teams = _names(Team, {t for r in ring_rows for t in (r.team_ids or ())})
    units = _names(Unit, {r.unit_id for r in ring_rows if r.unit_id is not None})

    def label(ring: CalloutRing) -> str:
        if ring.team_ids is not None:
            return "、".join(teams.get(t, "?") for t in ring.team_ids)
        return _("%(unit)s及下级单位", unit=units.get(ring.unit_id, "?"))

    return [
        {
            "number": r.number,
            "audience": label(r),
            "fires_at": r.fires_at,
            "fired_at": r.fired_at,
            "texted": r.texted,
        }
        for r in ring_rows
    ]


# -- the board's buttons --------------------------------------------------------------


def fire_next_ring(viewer: Viewer, callout_id: int, now: datetime | None = None) -> CalloutRing:
    """Fire the next ring now instead of at its time. The caller commits."""
    now = now or utcnow()
    callout = visible_callout(viewer, callout_id)
    if callout.status != CalloutStatus.ACTIVE:
        raise CalloutRefused(_("召集已满员或已结束，不再发出后续各圈"))
    ring = rings.next_ring(callout.id)
    if ring is None or not rings.fire_ring(ring, now):
        raise CalloutRefused(_("没有待发的下一圈了"))
    return ring


def text_seated(viewer: Viewer, callout_id: int, message: str, now: datetime | None = None) -> int:
    """Text everyone seated on the call-out's shifts the caller's words (a meeting point);
    how many were texted. The caller commits; the texts go out after the commit."""
    now = now or utcnow()
    callout = visible_callout(viewer, callout_id)
    words = checked_message(message)
    if not words:
        raise ValidationFailed({"message": _("请填写要发给已报名队员的内容")})
    shifts = rings.callout_shifts(callout.id)
    event = db.session.get(Event, callout.event_id)
    seated = db.session.execute(
        select(Signup.person_id, Shift)
        .join(Shift, Shift.id == Signup.shift_id)
        .where(
            Signup.shift_id.in_([s.id for s in shifts]),
            Signup.status == SignupStatus.CONFIRMED,
        )
        .order_by(Signup.id)
    ).all()
    # One note per person and second: a double-click is not a second text.
    stamp = int(now.timestamp())
    queue_many(
        (
            Text(
                pid,
                texts.note(texts.Duty.of(event, shift), words),
                f"callout:{callout.id}:note:{stamp}:{pid}",
            )
            for pid, shift in seated
        ),
        kind=SmsKind.NOTICE,
        is_urgent=callout.is_urgent,
        send_after=rings.send_after(callout.is_urgent, now),
        now=now,
    )
    return len(seated)
