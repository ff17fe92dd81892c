"""The sign-up on a plain row: the rules of ``signups.services.sign_up`` checked on what
one statement read (the shift, its event and team, the person's membership and their
active signup), so no entity is loaded on the way. The API's sign-up by phone reads
that row itself (``sign_up_by_phone``); the SMS 报名 reads it in its sender's statement,
with ``SIGN_UP_COLUMNS`` and the joins below, and hands it to ``sign_up_as_read``.

Apart from ``signups.services`` because it is a second way in, not a second set of
rules: the checks, the seat and the SignupPlaced it publishes are that module's
(``check_open``, ``place``), shared with the entity-based ``sign_up``. What lives here is
the read and its plain values; a new number an overseer names is registered by ``place``
(a ``NewPerson``), on PostgreSQL in the statement that claims its seat.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from flask_babel import gettext as _
from sqlalchemy import bindparam, select

from volunteer_hub.db import in_constants, utcnow
from volunteer_hub.errors import NotFound
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import InvalidPhone, normalize_phone
from volunteer_hub.signups.models import ACTIVE_STATUSES, Signup, SignupSource
from volunteer_hub.signups.services import (
    AlreadySignedUp,
    NewPerson,
    ShiftFacts,
    SignupResult,
    check_open,
    find_or_create_person,
    joins_as_anyone,
    members_only_of,
    oversees_path,
    place,
)
from volunteer_hub.teams.models import Membership, Team
from volunteer_hub.units.models import Unit

if TYPE_CHECKING:
    from volunteer_hub.auth.permissions import Viewer


def sign_up_by_phone(
    viewer: Viewer, shift_id: int, phone: str, name: str, source: SignupSource | str
) -> tuple[SignupResult, PersonValues, bool]:
    """A leader or staff puts the person with ``phone`` on the shift (the API): the
    rules of :func:`person_to_sign_up` and :func:`sign_up`, from one read.

    That read (``_SIGN_UP_FACTS``) brings the shift, its event and team, the viewer's
    right to see it, the person by phone, their membership of the team and their active
    signup on the shift, as one plain row: so a duplicate is refused (AlreadySignedUp)
    before it takes a seat, and no entity is loaded. Returns the result, the person
    (id, name, phone) and whether this call registered them. Raises NotFound when the
    viewer may not see the shift (``queries.visible_shift``'s rule), then what
    ``person_to_sign_up`` and ``sign_up`` raise, in their order."""
    now = utcnow()
    try:
        e164, invalid = normalize_phone(phone), None
    except InvalidPhone as error:  # told once the shift is known to be visible
        e164, invalid = None, error
    row = db.session.execute(_SIGN_UP_FACTS, {"shift_id": shift_id, "phone": e164}).first()
    if row is None or not viewer.can_see_team_at(row.team_id, row.unit_path):
        raise NotFound(_("班次不存在"))
    if invalid is not None:
        raise invalid
    overseer = oversees_path(viewer, row.unit_path)
    person: PersonValues | NewPerson
    if row.person_id is not None:
        is_member = row.membership_id is not None
        person = PersonValues(row.person_id, row.person_name, row.person_phone, is_member)
        if not (overseer or is_member):
            raise members_only_of(row.team_name, on_behalf=True)
    elif overseer:
        person = _new_person(name, phone, e164)  # a member of no team yet
    else:
        # Registered or not, the same answer: it tells nothing about who is registered.
        raise members_only_of(row.team_name, on_behalf=True)
    result = sign_up_as_read(
        SignUpRead.of_row(row),
        person if isinstance(person, NewPerson) else person.id,
        e164,  # the signer's: the read found them by it, or the new row is given it
        source,
        now,
        acted_by_id=viewer.person_id,
        overseer=overseer,
    )
    if isinstance(person, NewPerson):
        return result, _registered(person, result), result.registered
    return result, person, False


@dataclass(frozen=True)
class SignUpRead:
    """What a caller's own statement read for a sign-up (``SIGN_UP_COLUMNS``), as plain
    values: the shift's facts, and of the person signing up whether they are a member
    of the team and their active signup on the shift, if any."""

    facts: ShiftFacts
    member: bool
    active_signup_id: int | None
    #: the shift had no free seat when read (``place``'s ``seen_full``)
    seen_full: bool

    @classmethod
    def of_row(cls, row) -> SignUpRead:
        """From a row with ``SIGN_UP_COLUMNS``."""
        return cls(
            ShiftFacts.of_row(row),
            row.membership_id is not None,
            row.active_signup_id,
            row.seen_full,
        )


def sign_up_as_read(
    read: SignUpRead,
    person: int | NewPerson,
    person_phone: str,
    source: SignupSource | str,
    now: datetime,
    *,
    acted_by_id: int | None = None,
    overseer: bool = False,
) -> SignupResult:
    """:func:`sign_up`, its rules checked on what the caller read in its own statement
    rather than on entities: the API's sign-up by phone and the SMS 报名 share it. A
    duplicate is refused after the rules and before it takes a seat (where
    :func:`sign_up` lets the unique index refuse it). ``person``: their id, or a
    :class:`NewPerson` for ``place`` to register. Raises what :func:`sign_up` does."""
    facts = read.facts
    # A NewPerson is nobody yet, so never the one acting.
    on_behalf = acted_by_id is not None and acted_by_id != person
    # check_may_join, with the membership the read brought
    if not (
        joins_as_anyone(facts.open_to_all, on_behalf=on_behalf, overseer=overseer) or read.member
    ):
        raise members_only_of(facts.team_name, on_behalf=on_behalf)
    check_open(facts, now)
    if read.active_signup_id is not None:
        # Refused before the seat: no claim to give back. Two requests at the same
        # moment both pass here; the unique index then refuses the second (place).
        raise AlreadySignedUp(_("您已报名该班次"))
    return place(facts, person, person_phone, source, acted_by_id, now, seen_full=read.seen_full)


@dataclass(frozen=True)
class PersonValues:
    """A person as a sign-up answer shows them (``serializers.person`` reads these)."""

    id: int
    name: str
    phone: str
    #: a member of the shift's team (which the viewer may see)
    member_here: bool = False


def _new_person(name: str, phone: str, e164: str) -> NewPerson | PersonValues:
    """The person an overseer names by a phone the sign-up's read did not find: with a
    name, to be registered with the signup (by ``place``, in the seat's statement on
    PostgreSQL). Without one, the way of ``find_or_create_person``: a number another
    request registered meanwhile is found, else its error, before the shift's rules."""
    name = (name or "").strip()[: Person.__table__.c.name.type.length]
    if name:
        return NewPerson(name, e164)
    person, _created = find_or_create_person(name, phone)
    return PersonValues(person.id, person.name, person.phone)


def _registered(new: NewPerson, result: SignupResult) -> PersonValues:
    """The person ``place`` signed up for ``new``: the row it registered, or, when
    another request registered the number since the read, that person as
    ``find_or_create_person`` loaded them (from the identity map: no query)."""
    if result.registered:
        return PersonValues(result.placed.person_id, new.name, new.phone)
    found = db.session.get(Person, result.placed.person_id)
    return PersonValues(found.id, found.name, found.phone)


# What sign_up_by_phone reads before it writes, in one round trip (plain columns: no
# entity is built). The person and what they have are outer joins: a number nobody
# has registered still gives the shift's row, with NULLs.
_shift = Shift.__table__
_event, _team, _unit = Event.__table__, Team.__table__, Unit.__table__
_person, _membership, _signup = Person.__table__, Membership.__table__, Signup.__table__
#: What :func:`sign_up_as_read` is given, read in its caller's statement (which joins
#: the shift, event and team, the person's membership of the team and their active
#: signup on the shift): ``ShiftFacts``' fields, whether the shift looked full, the
#: membership's id and the active signup's id (NULL: none).
SIGN_UP_COLUMNS = (
    _shift.c.id.label("shift_id"),
    _shift.c.starts_at,
    _shift.c.is_cancelled,
    _shift.c.code,
    _shift.c.event_id,
    _event.c.status.label("event_status"),
    _event.c.open_to_all,
    _event.c.title,
    _event.c.location,
    _event.c.team_id,
    _team.c.name.label("team_name"),
    _team.c.archived_at.label("team_archived_at"),
    (_shift.c.filled >= _shift.c.capacity).label("seen_full"),
    _membership.c.id.label("membership_id"),
    _signup.c.id.label("active_signup_id"),
)
#: the joins of ``SIGN_UP_COLUMNS`` beyond the shift, event and team: the person's
#: membership of the team and their active signup on the shift (outer joins)
MEMBERSHIP_OF_SIGNER = (_membership.c.team_id == _team.c.id) & (
    _membership.c.person_id == _person.c.id
)
ACTIVE_SIGNUP_OF_SIGNER = (
    (_signup.c.shift_id == _shift.c.id)
    & (_signup.c.person_id == _person.c.id)
    & in_constants(_signup.c.status, ACTIVE_STATUSES)
)
_SIGN_UP_FACTS = (
    select(
        *SIGN_UP_COLUMNS,
        _unit.c.path.label("unit_path"),
        _person.c.id.label("person_id"),
        _person.c.name.label("person_name"),
        _person.c.phone.label("person_phone"),
    )
    .join(_event, _event.c.id == _shift.c.event_id)
    .join(_team, _team.c.id == _event.c.team_id)
    .join(_unit, _unit.c.id == _team.c.unit_id)
    .outerjoin(_person, _person.c.phone == bindparam("phone"))
    .outerjoin(_membership, MEMBERSHIP_OF_SIGNER)
    .outerjoin(_signup, ACTIVE_SIGNUP_OF_SIGNER)
    .where(_shift.c.id == bindparam("shift_id"))
)
