"""``queue_text`` for many people at once: the same rules, a fixed number of statements.

A cancelled 200-person event or a call-out to a whole team would cost two statements per
person through ``queue_text`` (the opt-out check, the insert). Here the recipients'
numbers and opt-out state are read with one query per chunk and the rows written with one
multi-row INSERT per chunk. The rules are those of ``sms.services.queue_text``: the
signature in front of the rendered text, its template key and variables beside it,
opted-out people get nothing, a dedupe key already used gives no row, and the actor is
sent only after the commit (and only for rows due at ``now``). The rows of one call go
out in batches where the backend takes many numbers per call (``sms.batches``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from flask import current_app
from sqlalchemy import bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import ARRAY

from volunteer_hub.db import dialect_insert, utcnow
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.sms.batches import enqueue_sends
from volunteer_hub.sms.models import OutgoingSms, SmsKind, SmsStatus
from volunteer_hub.sms.segments import count_segments
from volunteer_hub.sms.templates import Rendered

#: rows per statement; keeps the bound parameters well under SQLite's limit
CHUNK = 500
#: what the INSERT gives back of each row written, in ``Queued``'s terms
RETURNED = ("id", "person_id", "send_after", "to_phone", "template_key")


class Text(NamedTuple):
    """One text to one person. The phone number is looked up here, never passed around."""

    person_id: int
    rendered: Rendered
    dedupe_key: str
    signup_id: int | None = None


class Queued(NamedTuple):
    """A row written, as its callers count them and its actor messages are chosen."""

    id: int
    person_id: int
    held: bool
    to_phone: str = ""
    template_key: str | None = None


def queue_many(
    texts: Iterable[Text],
    *,
    kind: SmsKind | str,
    is_urgent: bool = False,
    send_after: datetime | None = None,
    expires_at: datetime | None = None,
    broadcast_id: int | None = None,
    now: datetime | None = None,
) -> list[Queued]:
    """Put the texts in the outbox; returns the rows written (not the opted-out people,
    nor texts whose dedupe key was already used)."""
    kind = SmsKind(kind)
    now = now or utcnow()
    signature = current_app.config["SMS_SIGNATURE"]
    queued: list[Queued] = []
    pending = list(texts)
    for start in range(0, len(pending), CHUNK):
        queued.extend(
            _queue_chunk(
                pending[start : start + CHUNK],
                kind=kind,
                signature=signature,
                now=now,
                values={
                    "kind": kind,
                    "status": SmsStatus.QUEUED,
                    "is_urgent": is_urgent,
                    "send_after": send_after,
                    "expires_at": expires_at,
                    "broadcast_id": broadcast_id,
                    "attempts": 0,
                    "created_at": now,
                },
            )
        )
    # Held rows (quiet hours) are left to the minute sweep, which sends them once due.
    if send_after is None or send_after <= now:
        enqueue_sends((row.id, row.to_phone, row.template_key) for row in queued)
    return queued


def _queue_chunk(
    texts: Sequence[Text], *, kind: SmsKind, signature: str, now: datetime, values: dict
) -> list[Queued]:
    person_ids = {text.person_id for text in texts}
    reachable = select(Person.id, Person.phone).where(Person.id.in_(person_ids))
    if kind != SmsKind.OPT_OUT_CONFIRMATION:
        reachable = reachable.where(Person.sms_opted_out_at.is_(None))
    phones = dict(db.session.execute(reachable).all())
    segments = functools.cache(count_segments)  # a call-out is one body, many times
    rows = []
    for text in texts:
        if text.person_id not in phones:
            continue
        body = signature + text.rendered.text
        rows.append(
            {
                **values,
                "person_id": text.person_id,
                "to_phone": phones[text.person_id],
                "body": body,
                "template_key": text.rendered.key,
                "template_vars": text.rendered.variables,
                "dedupe_key": text.dedupe_key,
                "signup_id": text.signup_id,
                "segments": segments(body),
            }
        )
    if not rows:
        return []
    return [
        Queued(id_, person_id, send_after is not None and send_after > now, to_phone, key)
        for id_, person_id, send_after, to_phone, key in _insert(rows)
    ]


def _insert(rows: list[dict]) -> Iterable[tuple]:
    """Write ``rows`` (one key set) unless their dedupe key is taken; RETURNED of each
    row written. One statement, whose size does not grow with the rows: a multi-row
    VALUES would bind (and compile, and have the driver parse) a parameter per value,
    seconds for a district's call-out."""
    outbox = OutgoingSms.__table__
    names = list(rows[0])
    if db.session.get_bind().dialect.name == "postgresql":
        # One array per column that differs between the rows (for a call-out: person,
        # number, dedupe key), unnested by PostgreSQL, and each value the rows share
        # (the text, its variables) bound once: a short statement psycopg caches, a
        # parameter per column however many rows there are.
        varying = [name for name in names if any(row[name] != rows[0][name] for row in rows)]
        varying = varying or ["dedupe_key"]  # one row: unnest needs an array
        arrays = [
            cast(bindparam(name, type_=ARRAY(outbox.c[name].type)), ARRAY(outbox.c[name].type))
            for name in varying
        ]
        source = func.unnest(*arrays).table_valued(*varying).render_derived(name="new_row")
        shared = {
            name: cast(
                bindparam(name, rows[0][name], type_=outbox.c[name].type), outbox.c[name].type
            )
            for name in names
            if name not in varying
        }
        statement = dialect_insert(db.session, outbox).from_select(
            names, select(*(shared[name] if name in shared else source.c[name] for name in names))
        )
        parameters: Any = {name: [row[name] for row in rows] for name in varying}
    else:
        # SQLite: the rows as parameters of one compiled statement, sent in batches by
        # SQLAlchemy (insertmanyvalues).
        statement, parameters = dialect_insert(db.session, outbox), rows
    statement = statement.on_conflict_do_nothing(index_elements=[outbox.c.dedupe_key])
    return db.session.execute(
        statement.returning(*(outbox.c[name] for name in RETURNED)), parameters
    )
