"""Opt-outs of numbers no person has (``OptedOutNumber``): remembered when such a number
texts TD / 退订 / STOP, honoured once a person has the number, forgotten when the number
opts back in or that person is erased.

Rule 4 of ARCHITECTURE.md holds for the number as for a person, by two means. Every text
to the number is refused: ``sms.outbox_insert`` checks the number in the INSERT that
queues a text, ``sms.services.screen`` in the read it makes before each hand-over (so a
path that writes the outbox by itself is covered too). And a person given the number
starts opted out, since the number said so: the INSERTs that register someone take
their ``sms_opted_out_at`` from the row (``since``, no round trip more), the other
paths ask ``adopt``; either way their consent record gets the opt-out with its time and
word (``record_consent``, a statement only when there is one to record).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime

from sqlalchemy import ColumnElement, delete, exists, false, insert, select, update

from volunteer_hub.db import dialect_insert
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.sms.models import ConsentChange, OptedOutNumber, OutgoingSms

_number = OptedOutNumber.__table__
_person = Person.__table__
_consent = ConsentChange.__table__


def since(phone: ColumnElement) -> ColumnElement:
    """When the number ``phone`` (a column or a bound parameter) opted out, NULL if it
    did not: the value of a new person's ``sms_opted_out_at`` in their INSERT."""
    return select(_number.c.opted_out_at).where(_number.c.phone == phone).scalar_subquery()


def is_opted_out(phone: ColumnElement) -> ColumnElement:
    """The number ``phone`` (a column or a bound parameter) opted out: a condition."""
    return exists().where(_number.c.phone == phone)


def remember(phone: str, *, channel: str, keyword: str | None, now: datetime) -> bool:
    """The number opts out; whatever still waits to go to it will not go. True if this
    changed anything (a second TD keeps the time and word of the first)."""
    keyword = keyword[: _number.c.keyword.type.length] if keyword else None
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT … ON CONFLICT DO NOTHING.
    written = db.session.execute(
        dialect_insert(db.session, _number)
        .values(phone=phone, opted_out_at=now, channel=channel, keyword=keyword)
        .on_conflict_do_nothing(index_elements=[_number.c.phone])
        .returning(_number.c.phone)
    ).first()
    if written is None:
        return False
    from volunteer_hub.sms.services import cancel_queued  # which imports this module

    cancel_queued(OutgoingSms.to_phone == phone, now)
    return True


def opted_out(phone: str) -> bool:
    return bool(db.session.scalar(select(is_opted_out(phone))))


def forget(phones: Iterable[str]) -> bool:
    """The numbers take texts again (an opt-in; an erasure). True if one had opted out."""
    phones = list(phones)
    if not phones:
        return False
    return bool(db.session.execute(delete(_number).where(_number.c.phone.in_(phones))).rowcount)


def forget_person_number(person_id: int) -> bool:
    """``forget`` the number the person has now (their opt-in covers it), in one
    statement. True if it had opted out."""
    phone = select(_person.c.phone).where(_person.c.id == person_id).scalar_subquery()
    return bool(db.session.execute(delete(_number).where(_number.c.phone == phone)).rowcount)


def adopt(person_ids: Collection[int]) -> list[int]:
    """People just given a number that opted out, and not opted out themselves, are from
    then on: their ``sms_opted_out_at`` is the number's, and their consent record tells
    it. For the paths that write a person without ``since`` in the INSERT (the ORM's
    flush, a roster's rows, a phone change): one UPDATE, and one INSERT when someone was
    adopted. Returns their ids."""
    if not person_ids:
        return []
    adopted = list(
        db.session.scalars(
            update(_person)
            .where(
                _person.c.id.in_(list(person_ids)),
                _person.c.sms_opted_out_at.is_(None),
                is_opted_out(_person.c.phone),
            )
            .values(sms_opted_out_at=since(_person.c.phone))
            .returning(_person.c.id)
        )
    )
    if adopted:
        record_consent(adopted)
        # Any of them loaded in the session reads the new value on next access.
        for person_id in adopted:
            person = db.session.identity_map.get(db.session.identity_key(Person, person_id))
            if person is not None:
                db.session.expire(person, ["sms_opted_out_at"])
    return adopted


def record_consent(person_ids: Collection[int]) -> None:
    """The opt-out of each person's number in their consent record (``ConsentChange``),
    at the time, through the channel and with the word the number gave: what a carrier
    or a regulator reads for the person. For people just given such a number."""
    columns = ("person_id", "opted_in", "channel", "keyword", "changed_at")
    rows = (
        select(
            _person.c.id,
            false(),
            _number.c.channel,
            _number.c.keyword,
            _number.c.opted_out_at,
        )
        .join(_number, _number.c.phone == _person.c.phone)
        .where(_person.c.id.in_(list(person_ids)))
    )
    db.session.execute(insert(_consent).from_select(columns, rows))
