"""The reminder sweep (rule 3 of ARCHITECTURE.md): reminders come from the database.

Once a minute ``sweep`` looks at the confirmed signups of shifts starting soon and puts
every reminder that has fallen due into the outbox, as an ordinary text with a dedupe
key that names the signup, the offset and the shift's start. Nothing waits in the
broker: a reminder exists as a row or not at all, and ``deliver`` checks again just
before sending that it still applies (see ``volunteer_hub.sms.services``).

A sweep run by hand (``flask reminders sweep --now TIME``) never sends a text before its
real time: with a ``--now`` in the future it is a dry run (:func:`sweep_by_hand`), which
lists what would be due then and writes nothing. Only the clock makes a reminder due.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Row, Select, select

from volunteer_hub.db import utcnow
from volunteer_hub.events.models import Event, EventStatus, Shift
from volunteer_hub.extensions import db
from volunteer_hub.i18n import to_local
from volunteer_hub.people.models import Person
from volunteer_hub.signups.models import Signup, SignupStatus
from volunteer_hub.sms import replies
from volunteer_hub.sms.models import OutgoingSms, SmsKind
from volunteer_hub.sms.services import queue_text
from volunteer_hub.sms.templates import Rendered

log = logging.getLogger(__name__)

#: the longest offset honoured; anything further ahead is ignored as a typo
MAX_OFFSET_HOURS = 7 * 24
#: a reminder may go out this late at least; longer offsets get a quarter of themselves
MIN_GRACE = timedelta(minutes=15)
#: looked at beyond the largest offset in use, against clock skew between hosts
HORIZON_MARGIN = timedelta(minutes=5)

_SEPARATORS = re.compile(r"[,;、\s]+")


@dataclass(frozen=True)
class SweepResult:
    """What one sweep found. The counts describe this sweep only: a reminder dropped
    for lateness is counted again by every sweep until its shift starts."""

    at: datetime
    #: new reminder texts written to the outbox
    queued: int = 0
    #: due and already in the outbox (an earlier sweep, or one running at the same time)
    existing: int = 0
    #: due, but past their window: dropped, never sent late
    dropped: int = 0
    #: due before the person had a seat; their sign-up or promotion notice told them
    before_signup: int = 0
    #: due, but the person has opted out of texts
    opted_out: int = 0
    #: a dry run: nothing was written, ``queued`` counts what would have been
    dry_run: bool = False
    #: a dry run's reminders that would have been queued, in signup order
    would_queue: tuple[DueReminder, ...] = ()


@dataclass(frozen=True)
class DueReminder:
    """A reminder a dry run found due: whose, which shift, which offset, from when."""

    signup_id: int
    code: str
    hours: int
    due: datetime


def parse_offsets(value: str | None) -> tuple[int, ...]:
    """Hours before a shift to remind, largest first, from ``Event.reminder_hours``.

    Forgiving, because the field is typed by people: "24,2", "24，2", "２４、2" and
    "24 2" all mean (24, 2). Anything that is not a whole number of hours from 1 to
    ``MAX_OFFSET_HOURS`` is skipped; an empty value means reminders are off.
    """
    if not value:
        return ()
    offsets = set()
    for part in _SEPARATORS.split(unicodedata.normalize("NFKC", value)):
        if part.isascii() and part.isdigit() and 1 <= int(part) <= MAX_OFFSET_HOURS:
            offsets.add(int(part))
    return tuple(sorted(offsets, reverse=True))


def grace(offset: timedelta) -> timedelta:
    """How late a reminder may still go out: a quarter of its offset, at least 15 minutes
    (24 h → 6 h, 2 h → 30 min). Later than that it would arrive at a confusing moment, or
    as a duplicate of the next, shorter reminder."""
    return max(MIN_GRACE, offset / 4)


def dedupe_key(signup_id: int, offset_hours: int, shift_starts_at: datetime) -> str:
    """``reminder:41:24h:2026-12-01T00:00Z``: the start is part of the key, so a moved
    shift gets reminders of its own and the old ones never stand in for them."""
    if shift_starts_at.tzinfo is None:
        raise ValueError("naive datetime given as a shift start")
    start = shift_starts_at.astimezone(UTC)
    stamp = start.strftime("%Y-%m-%dT%H:%M" + (":%S" if start.second else "")) + "Z"
    return f"reminder:{signup_id}:{offset_hours}h:{stamp}"


def reminder_text(*, title: str, starts_at: datetime, location: str, code: str) -> Rendered:
    """The reminder text (the signature is put in front by the outbox)."""
    return replies.reminder(title=title, starts_at=starts_at, location=location, code=code)


def sweep_by_hand(as_of: datetime | None, *, clock: datetime | None = None) -> SweepResult:
    """``flask reminders sweep [--now AS_OF]``: a sweep as of ``as_of``, but a dry run
    when ``as_of`` is still ahead of the clock, so that a hand-run can show what a future
    minute will send without sending it early (a 2-hour reminder five hours early, at
    night). A past or present ``as_of`` sweeps for real; late reminders are dropped as
    in any sweep."""
    clock = clock or utcnow()
    as_of = as_of or clock
    return sweep(as_of, dry_run=as_of > clock)


def sweep(now: datetime | None = None, *, dry_run: bool = False) -> SweepResult:
    """Queue every reminder that is due now; the caller commits. ``dry_run``: write
    nothing, and list what would be queued (``SweepResult.would_queue``).

    For each confirmed signup on a shift that is not cancelled, of a published event,
    and for each offset in the event's ``reminder_hours``, the reminder is due at
    ``starts_at - offset`` and may go out until ``due + grace(offset)`` or the shift's
    start, whichever comes first; that moment is the row's ``expires_at``, which
    ``deliver`` honours too (a reminder stuck in a retry loop is not sent late either).

    A signup made (or promoted from the waitlist) after a reminder fell due does not get
    that reminder: the confirmation it just received says the same thing, and a
    "reminder" a minute after it would only confuse. It does get every later one. So
    someone who signs up 3 h before a shift gets no 24 h reminder (it was due 21 h
    before they signed up, and its 6 h window closed long ago) and gets the 2 h one on
    time. Someone whose seat is confirmed 20 h before gets no 24 h reminder either,
    though its window is still open. What counts is ``confirmed_at`` (when the seat was
    had), so a waitlisted person gets reminders only once promoted, and only those due
    after that.

    Set-based: one query for the offsets in use (which bounds the time range), one for
    the candidate signups, one for the reminders already written; then one insert per
    new reminder (``queue_text``). Nothing is queried per signup. Idempotent and safe to
    run twice at once: a reminder already in the outbox is skipped, and the unique
    dedupe key (ON CONFLICT DO NOTHING in ``queue_text``) turns a concurrent duplicate
    into a no-op. Rows are written in a fixed order so that two concurrent sweeps on
    PostgreSQL wait for each other rather than deadlock.
    """
    now = now or utcnow()
    until = _horizon(now)
    if until is None:
        return SweepResult(now)
    rows = _candidates(now, until)
    if not rows:
        return SweepResult(now)
    written = _reminders_written(now, until)
    counts, would_queue = _remind_every_offset(rows, now, written, dry_run=dry_run)
    if dry_run:
        return SweepResult(now, **counts, dry_run=True, would_queue=tuple(would_queue))
    result = SweepResult(now, **counts)
    # Only when something was written: a dropped reminder is seen again every minute.
    if result.queued:
        log.info(
            "reminders: %d queued, %d dropped past their window", result.queued, result.dropped
        )
    return result


def _horizon(now: datetime) -> datetime | None:
    """How far ahead this sweep looks: the largest offset in use, and a margin; None
    when no published event that is not over sends reminders."""
    largest = _largest_offset_in_use(now)
    if largest is None:
        return None
    return now + timedelta(hours=largest) + HORIZON_MARGIN


def _candidates(now: datetime, until: datetime) -> Sequence[Row]:
    """The signups ``_upcoming`` finds, with what their reminders need, in signup order:
    the fixed order in which concurrent sweeps write, so they wait instead of deadlock."""
    return db.session.execute(
        _upcoming(
            now,
            until,
            Signup.id,
            Signup.person_id,
            Signup.created_at,
            Signup.confirmed_at,
            Person.phone,
            Person.sms_opted_out_at,
            Shift.code,
            Shift.starts_at,
            Event.title,
            Event.location,
            Event.reminder_hours,
        )
        .join(Person, Person.id == Signup.person_id)
        .order_by(Signup.id)
    ).all()


def _reminders_written(now: datetime, until: datetime) -> set[str]:
    """The dedupe keys of the reminders already in the outbox for the signups
    ``_upcoming`` finds."""
    return set(
        db.session.scalars(
            select(OutgoingSms.dedupe_key).where(
                OutgoingSms.kind == SmsKind.REMINDER,
                OutgoingSms.signup_id.in_(_upcoming(now, until, Signup.id)),
            )
        )
    )


def _remind_every_offset(
    rows: Sequence[Row], now: datetime, written: set[str], *, dry_run: bool
) -> tuple[dict[str, int], list[DueReminder]]:
    """``_remind`` for each row and each of its event's offsets, in that order: the
    SweepResult counts, and (``dry_run``) the reminders that would be queued."""
    counts = dict.fromkeys(("queued", "existing", "dropped", "before_signup", "opted_out"), 0)
    would_queue = []
    for row in rows:
        for hours in parse_offsets(row.reminder_hours):
            outcome = _remind(row, hours, now, written, dry_run=dry_run)
            if outcome is not None:
                counts[outcome] += 1
            if dry_run and outcome == "queued":
                due = row.starts_at - timedelta(hours=hours)
                would_queue.append(DueReminder(row.id, row.code, hours, due))
    return counts, would_queue


def _remind(
    row: Row, hours: int, now: datetime, written: set[str], *, dry_run: bool = False
) -> str | None:
    """The reminder ``hours`` before the shift of the signup in ``row``: queued if it is
    due and may still go out (``dry_run``: only said so). Returns what became of it, as
    the name of a SweepResult count, or None when it is not due yet."""
    offset = timedelta(hours=hours)
    due = row.starts_at - offset
    if due > now:
        return None
    key = dedupe_key(row.id, hours, row.starts_at)
    if key in written:
        return "existing"
    had_seat_at = row.confirmed_at or row.created_at
    if had_seat_at > due:
        return "before_signup"
    expires_at = min(due + grace(offset), row.starts_at)
    if now > expires_at:
        return "dropped"
    if row.sms_opted_out_at is not None:
        return "opted_out"
    if dry_run:
        return "queued"
    queued = queue_text(
        to_phone=row.phone,
        text=reminder_text(
            title=row.title, starts_at=row.starts_at, location=row.location, code=row.code
        ),
        kind=SmsKind.REMINDER,
        dedupe_key=key,
        person_id=row.person_id,
        signup_id=row.id,
        shift_starts_at=row.starts_at,
        expires_at=expires_at,
    )
    # None: a concurrent sweep wrote it first, or the person opted out meanwhile.
    return "queued" if queued is not None else "existing"


def _largest_offset_in_use(now: datetime) -> int | None:
    """The largest reminder offset of any published event not yet over: how far ahead
    the sweep has to look. The distinct values are few ("24,2" nearly everywhere)."""
    values = db.session.scalars(
        select(Event.reminder_hours)
        .where(
            Event.status == EventStatus.PUBLISHED, Event.ends_at > now, Event.reminder_hours != ""
        )
        .distinct()
    )
    offsets = [hours for value in values for hours in parse_offsets(value)]
    return max(offsets, default=None)


def _upcoming(now: datetime, until: datetime, *columns) -> Select:
    """``columns`` (Signup.id first) of the confirmed signups on shifts starting between
    ``now`` and ``until``, not cancelled, of published events that send reminders."""
    return (
        select(*columns)
        .join(Shift, Shift.id == Signup.shift_id)
        .join(Event, Event.id == Shift.event_id)
        .where(
            Signup.status == SignupStatus.CONFIRMED,
            Shift.is_cancelled.is_(False),
            Shift.starts_at > now,
            Shift.starts_at <= until,
            Event.status == EventStatus.PUBLISHED,
            Event.reminder_hours != "",
        )
    )


def report(result: SweepResult) -> list[str]:
    """What ``flask reminders sweep`` prints: the counts, and for a dry run each reminder
    that would be queued, with its due time in the display time zone."""
    counts = (
        f"dropped past their window {result.dropped}, due before signup "
        f"{result.before_signup}, opted out {result.opted_out}"
    )
    if not result.dry_run:
        return [
            f"reminders as of {result.at.isoformat()}: queued {result.queued}, "
            f"already queued {result.existing}, {counts}"
        ]
    lines = [
        f"dry run: {result.at.isoformat()} is still ahead, nothing was queued or sent; "
        f"would queue {result.queued}, already queued {result.existing}, {counts}"
    ]
    lines += [
        f"  signup {due.signup_id}: {due.hours} h reminder of shift {due.code}, "
        f"due {to_local(due.due):%Y-%m-%d %H:%M}"
        for due in result.would_queue
    ]
    return lines
