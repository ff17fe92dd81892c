"""Sign-up rules. Every channel (web, API, SMS) goes through these functions.

Capacity is never exceeded: a seat is claimed with one conditional UPDATE
(``filled = filled + 1 WHERE filled < capacity``), which the database serialises per
shift row on PostgreSQL and per file on SQLite. A stale read can never oversell.
The waitlist is ordered by signup id. Releasing a seat and promoting the first
waitlisted person happen in the same transaction, while the shift row is locked.

The waitlist position we tell is the true one at commit: a waitlisted signup is
inserted and counted while its transaction holds the shift row's lock, which every
change to the waitlist takes first (sign-up, cancel, a cancelled shift). So waitlisted
ids follow commit order, and the count, a statement begun after every earlier holder
committed, sees each of them (READ COMMITTED on PostgreSQL; on SQLite BEGIN IMMEDIATE
already serialises writers). Locks are always taken shift row first, then signup rows.

Who may be put on a shift is one rule, :func:`check_may_join`, for every channel.

The seat counter's prebuilt statements and the signup INSERT are in ``signups.seats``;
the sign-up on a plain row its caller read (the API by phone, the SMS 报名) is in
``signups.one_read``, which checks and places through :func:`check_open` and
:func:`place` here.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import gettext as _
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import contains_eager

from volunteer_hub.db import insert_for, utcnow
from volunteer_hub.domain_events import (
    PlacedFacts,
    ShiftCancelled,
    SignupCancelled,
    SignupPlaced,
    SignupPromoted,
    publish,
)
from volunteer_hub.errors import Conflict, DomainError, NotFound
from volunteer_hub.events.models import Event, EventStatus, Shift
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import get_or_create_person, normalize_phone
from volunteer_hub.signups.models import (
    ACTIVE_STATUSES,
    Signup,
    SignupSource,
    SignupStatus,
)
from volunteer_hub.signups.seats import (
    claim_seat,
    claim_seat_and_insert,
    insert_active_signup,
    lock_shift,
    lock_shift_free_seat,
    register_and_lock_shift,
    register_claim_and_insert,
    release_seat,
)
from volunteer_hub.sms import number_opt_outs
from volunteer_hub.teams.models import Membership, Team
from volunteer_hub.teams.services import ensure_open
from volunteer_hub.units.services import is_within

if TYPE_CHECKING:
    from volunteer_hub.auth.permissions import Viewer


class AlreadySignedUp(Conflict, code="already-signed-up"):
    """The person already holds a seat or a waitlist place on this shift."""


class ShiftStarted(Conflict, code="shift-started"):
    """Signing up closes when the shift starts."""


class EventNotOpen(Conflict, code="event-not-open"):
    """The event is a draft or cancelled; the message says which."""


class SignupNotActive(Conflict, code="signup-not-active"):
    """The signup was already cancelled (perhaps by a concurrent request)."""


class MembersOnly(DomainError, code="members-only"):
    """The event is for its team's members (not 公开招募) and the person is not one,
    or a leader named someone outside the team. ``team`` in details: the team's name."""

    status = 403


@dataclass(frozen=True)
class PlacedSignup:
    """A signup just written, as plain values: what the INSERT was given and its id. The
    columns a serialiser of ``Signup`` reads, so an answer needs no entity."""

    id: int
    shift_id: int
    person_id: int
    status: SignupStatus
    source: SignupSource
    created_at: datetime
    confirmed_at: datetime | None
    cancelled_at: None = None


@dataclass
class SignupResult:
    placed: PlacedSignup
    #: 1-based place on the waitlist, None when confirmed
    waitlist_position: int | None = None
    #: this sign-up registered the person (``place`` given a :class:`NewPerson`)
    registered: bool = False

    @property
    def signup(self) -> Signup:
        """The signup as an entity, loaded on first use: the sign-up itself writes it
        with a Core INSERT, and most callers need only ``placed``."""
        return db.session.get(Signup, self.placed.id)

    @property
    def confirmed(self) -> bool:
        return self.placed.status == SignupStatus.CONFIRMED


@dataclass(frozen=True)
class NewPerson:
    """A person to register with their signup: a phone the sign-up's read found nobody
    with, named by an overseer (``one_read.sign_up_by_phone``)."""

    name: str
    #: E.164
    phone: str


@dataclass
class CancelResult:
    signup: Signup
    #: signups promoted from the waitlist by this cancellation
    promoted: list[Signup] = field(default_factory=list)


def sign_up(
    shift_id: int,
    person_id: int,
    source: SignupSource | str,
    acted_by_id: int | None = None,
    now: datetime | None = None,
    *,
    overseer: bool = False,
) -> SignupResult:
    """Put the person on the shift: confirmed if a seat is free, else at the end of the
    waitlist. ``acted_by_id``: who signs them up, when not they themself; ``overseer``:
    that caller is an admin or a coordinator over the event's team (:func:`oversees`),
    who may sign up anyone. Raises MembersOnly (see :func:`check_may_join`),
    AlreadySignedUp, ShiftStarted, EventNotOpen, NotFound."""
    now = now or utcnow()
    shift, event = _shift_and_event(shift_id)
    person = db.session.get(Person, person_id)
    if person is None:
        raise NotFound(_("志愿者不存在"), field="person_id")
    on_behalf = acted_by_id is not None and acted_by_id != person_id
    check_may_join(event, person_id, on_behalf=on_behalf, overseer=overseer)
    facts = ShiftFacts.of(shift, event, db.session.get(Team, event.team_id))
    check_open(facts, now)
    return place(facts, person_id, person.phone, source, acted_by_id, now)


@dataclass(frozen=True)
class ShiftFacts:
    """What a sign-up reads of its shift, event and team, as plain values: the rules
    check them, and the notice and the feed change are written from them."""

    shift_id: int
    starts_at: datetime
    is_cancelled: bool
    code: str | None
    event_id: int
    event_status: str
    open_to_all: bool
    title: str
    location: str
    team_id: int
    team_name: str
    team_archived_at: datetime | None

    @property
    def is_archived(self) -> bool:  # what ``ensure_open`` reads of a team
        return self.team_archived_at is not None

    @classmethod
    def of(cls, shift: Shift, event: Event, team: Team) -> ShiftFacts:
        return cls(
            shift_id=shift.id,
            starts_at=shift.starts_at,
            is_cancelled=shift.is_cancelled,
            code=shift.code,
            event_id=event.id,
            event_status=event.status,
            open_to_all=event.open_to_all,
            title=event.title,
            location=event.location,
            team_id=team.id,
            team_name=team.name,
            team_archived_at=team.archived_at,
        )

    @classmethod
    def of_row(cls, row) -> ShiftFacts:
        return cls(**{name: getattr(row, name) for name in cls.__dataclass_fields__})


def check_open(facts: ShiftFacts, now: datetime) -> None:
    """The team, the event and the shift still take sign-ups."""
    ensure_open(facts)
    if facts.event_status != EventStatus.PUBLISHED or facts.is_cancelled:
        if facts.event_status == EventStatus.CANCELLED or facts.is_cancelled:
            raise EventNotOpen(_("该活动已取消"))
        raise EventNotOpen(_("该活动尚未发布"))
    if facts.starts_at <= now:
        raise ShiftStarted(_("该班次已经开始，不能再报名"))


def place(
    facts: ShiftFacts,
    person: int | NewPerson,
    person_phone: str,
    source: SignupSource | str,
    acted_by_id: int | None,
    now: datetime,
    *,
    seen_full: bool = False,
) -> SignupResult:
    """Seat or waitlist the person, the rules already checked; publish SignupPlaced.
    ``person``: their id, or a :class:`NewPerson` to register first (with
    ``person_phone`` its phone). ``seen_full``: a read of this request found no free
    seat, so the first try at one is left out (the locked row below has the last word
    either way)."""
    shift_id = facts.shift_id
    # The row as written, and as the answer and the events tell it: seated, unless the
    # waitlist below changes it; the person's id once it is known.
    written = {
        "shift_id": shift_id,
        "status": SignupStatus.CONFIRMED,
        "source": SignupSource(source),
        "created_at": now,
        "confirmed_at": now,
    }
    first = _first_try(person, written, acted_by_id, now, seen_full=seen_full)
    if first.person_id is None:
        # Registered by another request since the read: nothing was written (no seat is
        # claimed without the person's row). As that person, the way it was done before.
        found, created = find_or_create_person(person.name, person.phone)
        result = place(facts, found.id, found.phone, source, acted_by_id, now, seen_full=seen_full)
        return replace(result, registered=created)
    person_id = written["person_id"] = first.person_id
    claimed, signup_id, ahead = first.claimed, first.signup_id, None
    # To the waitlist: queue on the shift row's lock first (see the module's docstring),
    # then try again if a seat was freed while we waited: the locked row is the latest.
    # The seat-claiming UPDATE already holds that lock when it succeeds.
    if not claimed:
        free = lock_shift_free_seat(shift_id) if first.free is None else first.free
        claimed = free and claim_seat(shift_id)
        if not claimed:
            written.update(status=SignupStatus.WAITLISTED, confirmed_at=None)
        # A waitlisted signup's INSERT counts those ahead of it too, the lock already ours.
        signup_id, ahead = insert_active_signup(
            count_ahead=not claimed, acted_by_id=acted_by_id, **written
        )
    if signup_id is None:
        # Already on the shift (a second click, or two channels at the same moment): the
        # unique index said so. Give back the seat; the shift row is still ours, locked.
        if claimed:
            release_seat(shift_id)
        raise AlreadySignedUp(_("您已报名该班次"))
    placed = PlacedSignup(id=signup_id, **written)
    # Counted once, while the shift row is ours: the answer and the notice both tell it.
    position = None if claimed else ahead + 1
    # What the sign-up read goes with the event: its handlers need load nothing.
    handed = PlacedFacts(
        status=written["status"],
        person_id=person_id,
        phone=person_phone,
        event_id=facts.event_id,
        starts_at=facts.starts_at,
        code=facts.code,
        title=facts.title,
        location=facts.location,
        team_name=facts.team_name,
    )
    publish(SignupPlaced(signup_id, placed.source, waitlist_position=position, facts=handed))
    registered = isinstance(person, NewPerson)
    return SignupResult(placed=placed, waitlist_position=position, registered=registered)


@dataclass(frozen=True)
class _FirstTry:
    """What ``place``'s first statement did: the person's id (None: the number of a
    NewPerson was registered by another request since the read, and nothing was
    written), whether it claimed a seat and wrote the signup, and, when it locked the
    shift row instead, whether that row has a free seat."""

    person_id: int | None
    claimed: bool = False
    signup_id: int | None = None
    free: bool | None = None


def _first_try(
    person: int | NewPerson,
    written: dict,
    acted_by_id: int | None,
    now: datetime,
    *,
    seen_full: bool,
) -> _FirstTry:
    shift_id = written["shift_id"]
    if not isinstance(person, NewPerson):
        if seen_full:  # the lock in ``place`` tries the seat
            return _FirstTry(person)
        # A free seat: claimed and the signup written at once (one statement on PostgreSQL).
        return _FirstTry(
            person, *claim_seat_and_insert(person_id=person, acted_by_id=acted_by_id, **written)
        )
    if seen_full:
        # The person's row and the lock of the shift row the waitlist needs: one statement
        # on PostgreSQL.
        person_id, free = register_and_lock_shift(person.name, person.phone, now, shift_id)
        return _FirstTry(person_id, free=free)
    # The person's row, and with it the free seat and the signup: one statement on
    # PostgreSQL, a round trip fewer than registering them first.
    return _FirstTry(
        *register_claim_and_insert(
            person.name, person.phone, now, acted_by_id=acted_by_id, **written
        )
    )


def cancel(
    signup_id: int, acted_by_id: int | None = None, now: datetime | None = None
) -> CancelResult:
    """Take the person off the shift; a freed seat goes to the first on the waitlist."""
    now = now or utcnow()
    signup = db.session.get(Signup, signup_id)
    if signup is None:
        raise NotFound(_("报名记录不存在"))
    previous = signup.status
    if previous not in ACTIVE_STATUSES:
        raise SignupNotActive(_("该报名已取消"))

    # The shift row first, like every change to the waitlist: a waitlisted signup that
    # leaves moves those behind it up, and a position told meanwhile must count it.
    lock_shift(signup.shift_id)
    # Conditional, so two cancellations of the same signup release one seat only.
    changed = db.session.execute(
        update(Signup)
        .where(Signup.id == signup_id, Signup.status == previous)
        .values(status=SignupStatus.CANCELLED, cancelled_at=now, acted_by_id=acted_by_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(signup)
    if changed != 1:
        raise SignupNotActive(_("该报名已取消"))
    publish(SignupCancelled(signup.id))

    promoted: list[Signup] = []
    if previous == SignupStatus.CONFIRMED:
        release_seat(signup.shift_id)
        shift, event = _shift_and_event(signup.shift_id)
        if (
            event.status == EventStatus.PUBLISHED
            and not shift.is_cancelled
            and shift.starts_at > now
        ):
            promoted = promote_waitlist(signup.shift_id, now=now)
    return CancelResult(signup=signup, promoted=promoted)


def promote_waitlist(shift_id: int, now: datetime | None = None) -> list[Signup]:
    """Fill free seats from the head of the waitlist, in order. Returns who moved up."""
    now = now or utcnow()
    promoted: list[Signup] = []
    while True:
        head = db.session.scalar(
            select(Signup)
            .where(Signup.shift_id == shift_id, Signup.status == SignupStatus.WAITLISTED)
            .order_by(Signup.id)
            .limit(1)
            .with_for_update()
        )
        if head is None or not claim_seat(shift_id):
            break
        head.status = SignupStatus.CONFIRMED
        head.confirmed_at = now
        db.session.flush()
        promoted.append(head)
        publish(SignupPromoted(head.id))
    return promoted


def cancel_shift(
    shift_id: int, now: datetime | None = None, *, event_cancelled: bool = False, reason: str = ""
) -> int:
    """Cancel a shift and every active signup on it. Returns how many signups ended."""
    now = now or utcnow()
    shift = db.session.get(Shift, shift_id)
    if shift is None:
        raise NotFound(_("班次不存在"))
    lock_shift(shift_id)  # before the signup rows, in the order cancel() takes them
    ended_ids = list(
        db.session.scalars(
            select(Signup.id).where(Signup.shift_id == shift_id, Signup.status.in_(ACTIVE_STATUSES))
        )
    )
    db.session.execute(
        update(Signup)
        .where(Signup.id.in_(ended_ids))
        .values(status=SignupStatus.CANCELLED, cancelled_at=now, cancelled_with_shift=True)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Shift)
        .where(Shift.id == shift_id)
        .values(
            is_cancelled=True,
            filled=0,
            code_is_current=False,
            revision=Shift.revision + 1,
            changed_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.expire(shift)
    publish(ShiftCancelled(shift_id, tuple(ended_ids), event_cancelled, reason))
    return len(ended_ids)


def check_may_join(event: Event, person_id: int, *, on_behalf: bool, overseer: bool) -> None:
    """Who may be put on an event's shifts, whatever the channel (SMS, /me, a leader's
    page, the API): a member of the event's team always; anyone else only when the
    event is open to all (公开招募) and they sign themselves up, or when an overseer
    (an admin, a coordinator over the team) acts. A leader acting for someone signs up
    members only, open event or not: nobody is put on another team's rota unasked.
    Raises MembersOnly, naming the team."""
    if joins_as_anyone(event.open_to_all, on_behalf=on_behalf, overseer=overseer):
        return
    if _is_member(event.team_id, person_id):
        return
    raise _members_only(event, on_behalf=on_behalf)


def joins_as_anyone(open_to_all: bool, *, on_behalf: bool, overseer: bool) -> bool:
    """The part of :func:`check_may_join` that membership does not decide."""
    return overseer or (open_to_all and not on_behalf)


def oversees(viewer: Viewer, team: Team) -> bool:
    """An admin, or a coordinator whose unit's subtree holds the team: may sign up any
    phone for the team's events (``overseer`` of :func:`sign_up`)."""
    return oversees_path(viewer, team.unit.path)


def oversees_path(viewer: Viewer, unit_path: str) -> bool:
    """:func:`oversees`, given the path of the team's unit."""
    if viewer.is_admin:
        return True
    return viewer.coordinator_path is not None and is_within(unit_path, viewer.coordinator_path)


def person_to_sign_up(
    shift_id: int, phone: str, name: str, *, overseer: bool
) -> tuple[Person, bool]:
    """The person a leader or staff names by phone, and whether they were created. An
    overseer may name any phone (a new number is registered with ``name``); anyone else
    only a member of the event's team: any other phone, registered or not, gets the same
    MembersOnly, so the answer tells nothing about who is registered, and nobody is
    created. Raises InvalidPhone for a number that is not one."""
    if overseer:
        return find_or_create_person(name, phone)
    _shift, event = _shift_and_event(shift_id)
    person = db.session.scalar(select(Person).where(Person.phone == normalize_phone(phone)))
    if person is None or not _is_member(event.team_id, person.id):
        raise _members_only(event, on_behalf=True)
    return person, False


def find_or_create_person(name: str, phone: str) -> tuple[Person, bool]:
    """``get_or_create_person`` in prebuilt statements, for the API's sign-up of a new
    phone on every request: the SELECT, then an ``INSERT … ON CONFLICT DO NOTHING
    RETURNING`` rather than a unit-of-work flush; a number another request registered
    meanwhile is found, not a unique-index error. Without a name, a new number gets
    ``get_or_create_person``'s own error."""
    e164 = normalize_phone(phone)
    name = (name or "").strip()[: Person.__table__.c.name.type.length]
    person = db.session.scalar(_PERSON_BY_PHONE, {"phone": e164})
    if person is None and name:
        dialect = db.session.get_bind().dialect.name
        person = db.session.scalar(_new_person_statement(dialect), {"name": name, "phone": e164})
        if person is not None:
            if person.sms_opted_out_at is not None:  # the number had: see the statement
                number_opt_outs.record_consent([person.id])
            return person, True
        person = db.session.scalar(_PERSON_BY_PHONE, {"phone": e164})
    if person is None:
        return get_or_create_person(name, phone)
    return person, False


_PERSON_BY_PHONE = select(Person).where(Person.phone == bindparam("phone"))


@functools.cache
def _new_person_statement(dialect: str):
    # A number that opted out before anyone had it: the person is opted out since then.
    insert = insert_for(dialect)
    phone = bindparam("phone")
    return (
        insert(Person)
        .values(name=bindparam("name"), phone=phone, sms_opted_out_at=number_opt_outs.since(phone))
        .on_conflict_do_nothing(index_elements=[Person.phone])
        .returning(Person)
    )


def waitlist_position(signup: Signup) -> int | None:
    if signup.status != SignupStatus.WAITLISTED:
        return None
    return _position(signup.shift_id, signup.id)


_WAITLISTED_AHEAD = Signup.waitlisted_ahead(bindparam("shift_id"), bindparam("signup_id"))


def _position(shift_id: int, signup_id: int) -> int:
    """The waitlisted signup's 1-based place (true only while the shift row is ours)."""
    ahead = db.session.scalar(_WAITLISTED_AHEAD, {"shift_id": shift_id, "signup_id": signup_id})
    return ahead + 1


def active_signup(shift_id: int, person_id: int) -> Signup | None:
    """The person's signup on the shift that holds a seat or a waitlist place, if any."""
    return db.session.scalar(
        select(Signup).where(
            Signup.shift_id == shift_id,
            Signup.person_id == person_id,
            Signup.status.in_(ACTIVE_STATUSES),
        )
    )


def roster(shift_ids: list[int]) -> dict[int, list[Signup]]:
    """Active signups per shift, confirmed first then the waitlist in order; one query."""
    result: dict[int, list[Signup]] = {shift_id: [] for shift_id in shift_ids}
    if not shift_ids:
        return result
    rows = db.session.scalars(
        select(Signup)
        .join(Person, Person.id == Signup.person_id)
        .where(Signup.shift_id.in_(shift_ids), Signup.status.in_(ACTIVE_STATUSES))
        .order_by(Signup.shift_id, Signup.status, Signup.id)
        .options(contains_eager(Signup.person))
    )
    for signup in rows:
        result[signup.shift_id].append(signup)
    return result


def _is_member(team_id: int, person_id: int) -> bool:
    found = db.session.scalar(_MEMBERSHIP, {"team_id": team_id, "person_id": person_id})
    return found is not None


# Asked by every sign-up to an event that is not open to all (SMS and web alike).
_MEMBERSHIP = select(Membership.__table__.c.id).where(
    Membership.__table__.c.team_id == bindparam("team_id"),
    Membership.__table__.c.person_id == bindparam("person_id"),
)


def _members_only(event: Event, *, on_behalf: bool) -> MembersOnly:
    return members_only_of(db.session.get(Team, event.team_id).name, on_behalf=on_behalf)


def members_only_of(team_name: str, *, on_behalf: bool) -> MembersOnly:
    if on_behalf:
        message = _("只能为“%(team)s”的队员报名", team=team_name)
    else:
        message = _("该活动仅限“%(team)s”的队员报名", team=team_name)
    return MembersOnly(message, field="phone" if on_behalf else None, team=team_name)


def _shift_and_event(shift_id: int) -> tuple[Shift, Event]:
    # From the identity map when the caller already loaded them (no query), else two
    # primary-key loads. ``filled`` may be stale here; only the conditional UPDATE reads it.
    shift = db.session.get(Shift, shift_id)
    if shift is None:
        raise NotFound(_("班次不存在"), field="shift_id")
    return shift, db.session.get(Event, shift.event_id)
