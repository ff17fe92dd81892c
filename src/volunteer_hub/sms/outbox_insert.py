"""The outbox's INSERT: a text's row unless its dedupe key is taken or its person or its
number has opted out, in one statement (``INSERT … SELECT … WHERE NOT EXISTS (opted out)
ON CONFLICT DO NOTHING RETURNING``). Written at once (``insert_unless_duplicate``) or held to
go with the transaction's next statement (``hold``, ``held_writes``). Apart from
``sms.services`` because it is how a row is written, not what a text is."""

from __future__ import annotations

import functools
from collections.abc import Callable

from sqlalchemy import bindparam, select, true

from volunteer_hub import held_writes
from volunteer_hub.db import insert_for
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.sms import number_opt_outs
from volunteer_hub.sms.models import OutgoingSms


def insert_unless_duplicate(
    *, id_only: bool, unless_opted_out: int | None, check_number: bool = True, **values
) -> OutgoingSms | int | None:
    """The outbox row, or None: a row with this dedupe key exists, or the person
    ``unless_opted_out`` names has opted out, or (``check_number``) the number
    ``to_phone`` has (``sms.number_opt_outs``). One round trip: ``INSERT … SELECT …
    WHERE NOT EXISTS (opted out) ON CONFLICT DO NOTHING RETURNING``, so the opt-out
    checks and the row cost one statement, and an opt-out committed before it always
    wins. ``id_only``: the new row's id rather than the row."""
    # The outbox has no bind of its own: the session's bind is the app's engine.
    dialect = db.engine.dialect.name
    statement = _statement(
        dialect, tuple(values), unless_opted_out is not None, id_only, check_number=check_number
    )
    values["opted_out_person_id"] = unless_opted_out  # after the columns were named
    return db.session.scalar(statement, values)


def hold(
    unless_opted_out: int | None,
    values: dict,
    then: Callable[[int | None], None] | None,
    check_number: bool = True,
) -> None:
    """``insert_unless_duplicate``'s statement (returning the id), held until the
    transaction's next statement (``held_writes``); ``then`` gets the id, or None."""
    key = ("outbox", db.engine.dialect.name, tuple(values), unless_opted_out is not None)
    values["opted_out_person_id"] = unless_opted_out
    build = functools.partial(_statement, *key[1:], True, check_number=check_number)
    held_writes.hold((*key, check_number), build, values, then)


@functools.cache
def _statement(
    dialect: str,
    columns: tuple[str, ...],
    check_opt_out: bool,
    id_only: bool,
    prefix: str = "",
    *,
    check_number: bool = True,
):
    """The outbox INSERT, built once per dialect and shape: every sign-up notice,
    reminder and login code runs it, and building it anew costs more CPU than its round
    trip. ``prefix``: before every bind name (a held write's, ``held_writes``)."""
    table = OutgoingSms.__table__
    row = select(*(bindparam(prefix + name, type_=table.c[name].type) for name in columns))
    if check_opt_out:
        opted_out = select(Person.id).where(
            Person.id == bindparam(prefix + "opted_out_person_id"),
            Person.sms_opted_out_at.is_not(None),
        )
        row = row.where(~opted_out.exists())
    if check_number:
        # The number of a person or not: an opt-out texted before anyone had it.
        to_phone = bindparam(prefix + "to_phone", type_=table.c.to_phone.type)
        row = row.where(~number_opt_outs.is_opted_out(to_phone))
    if not (check_opt_out or check_number):
        # SQLite reads "INSERT … SELECT … ON CONFLICT" as a join unless the SELECT has a WHERE.
        row = row.where(true())
    insert = insert_for(dialect)
    # Core INSERT (the ORM's bulk mode takes no SELECT), read back as the ORM row.
    core = (
        insert(table)
        .from_select(columns, row)
        .on_conflict_do_nothing(index_elements=[table.c.dedupe_key])
    )
    if id_only:
        return core.returning(table.c.id)
    return select(OutgoingSms).from_statement(core.returning(*table.c))
