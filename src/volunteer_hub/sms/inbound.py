"""What happens to a text we receive: recorded first, parsed, acted on through the same
services as the web, answered once.

A replayed webhook (same provider message id) finds its row and changes nothing. Rule 4:
an opted-out person gets nothing but the confirmation of the opt-out, so while they are
opted out only 订阅/START (opt back in) and the opt-out words do anything.

In which order a text is read, since some words mean several things ("1", "是", "Y"):

1. Opt-out and opt-in words, whatever else is open (rule 4).
2. A call-out answer, while the person has an open call-out (``_answer_callout``): "1",
   "是", "到" answer the call-out, never a reminder.
3. The command (``sms.commands.parse``). An acknowledgement (好的, 收到, 是, 嗯, 1, OK)
   confirms like 确认 the shift of a reminder sent to the person within
   ``sms.actions.ACKNOWLEDGE_WITHIN`` (for a seat still ahead); without such a reminder it
   gets the help text, since we cannot tell what it agrees to.

This module is the webhook's plumbing: who wrote and what they answer, the inbound row,
the reply's row. What each command does and answers is ``sms.actions``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from flask import current_app
from sqlalchemy import (
    Select,
    bindparam,
    case,
    insert,
    literal_column,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert

from volunteer_hub import held_writes
from volunteer_hub.callouts.models import OPEN_STATUSES, Callout, CalloutRecipient
from volunteer_hub.db import in_constants, insert_for, utcnow
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import InvalidPhone, normalize_phone
from volunteer_hub.signups import one_read
from volunteer_hub.signups.models import Signup
from volunteer_hub.sms.actions import IS_CURRENT_SHIFT, NOT_READ, Texter, answer
from volunteer_hub.sms.commands import Command, CommandKind, parse
from volunteer_hub.sms.models import InboundSms, OutgoingSms, SmsKind, SmsStatus
from volunteer_hub.sms.segments import count_segments
from volunteer_hub.sms.templates import Rendered
from volunteer_hub.teams.models import Membership, Team


@dataclass(frozen=True)
class InboundResult:
    #: the complete reply (signature included) or None: no reply at all
    reply: str | None
    duplicate: bool = False


def handle_inbound(
    *, message_sid: str, from_phone: str, to_phone: str, body: str, now: datetime | None = None
) -> InboundResult:
    """Record, act, and return the one reply. The caller commits."""
    now = now or utcnow()
    try:
        sender = normalize_phone(from_phone)
    except InvalidPhone:
        sender = (from_phone or "")[:20]
    command = parse(body or "")
    # Asked of the session once: each ask goes through Flask-SQLAlchemy's bind lookup.
    dialect = db.session.get_bind().dialect.name
    # Who wrote, whether the text answers one of their call-outs and, for 报名 with one
    # code, that code's shift, read with the row's INSERT that records who and what (on
    # PostgreSQL in the same round trip; a redelivered message costs the lookup for
    # nothing, which is rare).
    (person, callout, shift), recorded_id = _sender_and_record(
        dialect,
        sender,
        command,
        body or "",
        {
            "message_sid": message_sid[:64],
            "from_phone": sender,
            "to_phone": (to_phone or "")[:20],
            "body": body or "",
            "received_at": now,
            "command": command.kind.value,
        },
    )
    if recorded_id is None:
        return InboundResult(reply=None, duplicate=True)

    answered = _answer_callout(person, body or "", now) if callout else None
    if callout and answered is None:
        # The call-out went between the lookup and now: the text is read as usual.
        db.session.execute(_SET_COMMAND, {"inbound_id": recorded_id, "command": command.kind})
    text, kind = answered or answer(command, person, now, shift, sender=sender)
    if text is None:
        return InboundResult(reply=None)
    reply = _record_reply(dialect, recorded_id, sender, message_sid[:64], person, text, kind, now)
    return InboundResult(reply=reply)


#: what a call-out answer never overrides: leaving or rejoining the texts
_CONSENT_COMMANDS = frozenset({CommandKind.OPT_OUT, CommandKind.OPT_IN})
#: the inbound row's ``command`` for a text read as a call-out answer
_CALLOUT_REPLY = "callout_reply"


class _Sender(NamedTuple):
    person: Texter | None
    #: the text answers one of the person's call-outs
    answers_callout: bool
    #: 报名 with one code: what the sign-up needs of the current shift with it and of
    #: the sender's place on it (``one_read.SignUpRead``; None: no such shift);
    #: ``NOT_READ`` for other texts
    shift: object


def _sender_and_record(
    dialect: str, phone: str, command: Command, body: str, recorded: dict
) -> tuple[_Sender, int | None]:
    """The person with this phone, if any, with what the text needs next, in the same
    statement: whether it answers one of their call-outs ("1", "Y", "到", "报名 2345"),
    which goes before the other commands ("报名 1234" for a shift, "Y" after a reminder)
    but never before an opt-out or opt-in, and which an opted-out person cannot give;
    and for 报名 with one code, the most common text, that code's shift.

    And the inbound row (``recorded``: its values but the person and, for a call-out
    answer, the command), whose id comes back; None when the provider delivers the
    message again. PostgreSQL does both in one statement; SQLite, which takes no INSERT
    inside WITH, in two."""
    from volunteer_hub.callouts.answers import parse_reply

    parsed = None if command.kind in _CONSENT_COMMANDS else parse_reply(body)
    callout = None if parsed is None else ("code" if parsed[1] is not None else "open")
    with_shift = command.kind == CommandKind.SIGN_UP and len(command.codes) == 1
    parameters = {"phone": phone}
    if callout == "code":
        parameters["callout_code"] = parsed[1]
    if with_shift:
        parameters["code"] = command.code
    if dialect == "postgresql":
        statement = _sender_and_record_statement(callout, with_shift)
        row = db.session.execute(statement, {**parameters, **recorded}).one()
        return _sender_of_row(row, callout, with_shift), row.inbound_id
    row = db.session.execute(_sender_statement(callout, with_shift), parameters).first()
    sender = _sender_of_row(row, callout, with_shift)
    if sender.answers_callout:
        recorded = {**recorded, "command": _CALLOUT_REPLY}
    person_id = sender.person.id if sender.person else None
    recorded_id = db.session.scalar(
        _record_statement(dialect), {**recorded, "person_id": person_id}
    )
    return sender, recorded_id


def _sender_of_row(row, callout: str | None, with_shift: bool) -> _Sender:
    """``_sender_statement``'s row (None, or NULLs in the sender's columns: no one)."""
    if row is None or row.person_id is None:
        return _Sender(None, False, NOT_READ)
    person = Texter(row.person_id, row.person_phone, row.sms_opted_out_at)
    answers_callout = False
    if callout is not None:
        answers_callout = bool(row.answers_callout) and not person.sms_opted_out
    shift = NOT_READ
    if with_shift:
        shift = one_read.SignUpRead.of_row(row) if row.shift_id is not None else None
    return _Sender(person, answers_callout, shift)


#: the sender, in plain columns (``Texter``): an entity would cost the ORM's loading
#: machinery on every text for three values.
_person = Person.__table__
_SENDER_COLUMNS = (
    _person.c.id.label("person_id"),
    _person.c.phone.label("person_phone"),
    _person.c.sms_opted_out_at,
)
_shift, _event, _team = Shift.__table__, Event.__table__, Team.__table__
_membership, _signup = Membership.__table__, Signup.__table__
_callout, _recipient = Callout.__table__, CalloutRecipient.__table__


@functools.cache
def _sender_statement(callout: str | None, with_shift: bool) -> Select:
    """The sender; with ``callout`` ("code", "open"), whether they have a call-out this
    answer is for: the one with the code, or else any open one (the call-outs
    ``callouts.answers.answer`` looks for, which then acts on them with its own query:
    a call-out answer is rare); ``with_shift``, the current shift with the code and
    the sender's membership and signup there, as plain columns (``one_read.SIGN_UP_COLUMNS``,
    NULLs when there is no such shift): the sign-up rules read values, not entities.

    Core on the tables only, no entity anywhere in it: a statement naming one goes
    through the ORM's execution (compile state, result loading) for plain rows."""
    statement = select(*_SENDER_COLUMNS).where(_person.c.phone == bindparam("phone"))
    if callout is not None:
        from volunteer_hub.callouts.answers import named_by

        answers = (
            select(_recipient.c.id)
            .join(_callout, _callout.c.id == _recipient.c.callout_id)
            .where(_recipient.c.person_id == _person.c.id)
            .where(
                named_by(bindparam("callout_code"))
                if callout == "code"
                else in_constants(_callout.c.status, OPEN_STATUSES)
            )
        )
        statement = statement.add_columns(answers.exists().label("answers_callout"))
    if with_shift:
        statement = (
            statement.add_columns(*one_read.SIGN_UP_COLUMNS)
            .select_from(_person)
            .outerjoin(_shift, IS_CURRENT_SHIFT)
            .outerjoin(_event, _event.c.id == _shift.c.event_id)
            .outerjoin(_team, _team.c.id == _event.c.team_id)
            .outerjoin(_membership, one_read.MEMBERSHIP_OF_SIGNER)
            .outerjoin(_signup, one_read.ACTIVE_SIGNUP_OF_SIGNER)
        )
    return statement


@functools.cache
def _record_statement(dialect: str):
    """The inbound row's INSERT, built once per dialect; no row back when the provider
    delivers the message again (its id is already recorded)."""
    table = InboundSms.__table__
    insert_into = insert_for(dialect)
    return (
        insert_into(table)
        .values({name: bindparam(name) for name in _INBOUND_COLUMNS})
        .on_conflict_do_nothing(index_elements=[table.c.message_sid])
        .returning(table.c.id)
    )


_INBOUND_COLUMNS = (
    "message_sid",
    "from_phone",
    "to_phone",
    "body",
    "received_at",
    "person_id",
    "command",
)
_inbound = InboundSms.__table__


@functools.cache
def _sender_and_record_statement(callout: str | None, with_shift: bool):
    """PostgreSQL: ``_sender_statement`` and the inbound row's INSERT in one round trip::

        WITH sender AS (…), recorded AS (
            INSERT INTO inbound_sms (…) SELECT :message_sid, …, (SELECT person_id FROM sender), …
            ON CONFLICT (message_sid) DO NOTHING RETURNING id)
        SELECT sender.*, (SELECT id FROM recorded) AS inbound_id
        FROM (SELECT 1) AS one LEFT OUTER JOIN sender ON true

    One row always: the sender's columns (NULLs: nobody has this phone) and the new
    row's id (NULL: the message was recorded before). The row's person and command are
    what ``handle_inbound`` gives it on SQLite: the sender's id, and "callout_reply" for
    an answer to one of their call-outs, if they take texts."""
    sender = _sender_statement(callout, with_shift).cte("sender")
    command = bindparam("command", type_=_inbound.c.command.type)
    if callout is not None:
        answers = sender.c.answers_callout & sender.c.sms_opted_out_at.is_(None)
        command = case(
            (
                select(answers).scalar_subquery(),
                literal_column(f"'{_CALLOUT_REPLY}'", _inbound.c.command.type),
            ),
            else_=command,
        )
    given = [name for name in _INBOUND_COLUMNS if name not in ("person_id", "command")]
    values = select(
        *(bindparam(name, type_=_inbound.c[name].type) for name in given),
        select(sender.c.person_id).scalar_subquery(),
        command,
    )
    recorded = (
        postgresql_insert(_inbound)
        .from_select([*given, "person_id", "command"], values)
        .on_conflict_do_nothing(index_elements=[_inbound.c.message_sid])
        .returning(_inbound.c.id)
        .cte("recorded")
    )
    one = select(literal_column("1").label("one")).subquery("one")
    return select(
        *sender.c, select(recorded.c.id).scalar_subquery().label("inbound_id")
    ).select_from(one.outerjoin(sender, true()))


_SET_COMMAND = (
    update(_inbound)
    .where(_inbound.c.id == bindparam("inbound_id"))
    .values(command=bindparam("command"))
)


def _answer_callout(person: Texter, body: str, now: datetime) -> tuple[Rendered, SmsKind] | None:
    """The reply to a call-out answer (``_sender`` found the call-out); None when it is
    gone meanwhile."""
    from volunteer_hub.callouts.answers import handle_callout_reply

    text = handle_callout_reply(person.id, body, now)
    return (text, SmsKind.REPLY) if text is not None else None


def _record_reply(
    dialect: str,
    inbound_id: int,
    to_phone: str,
    message_sid: str,
    person: Texter | None,
    text: Rendered,
    kind: SmsKind,
    now: datetime,
) -> str:
    """The reply travels in the webhook's answer (TwiML), but it is a row like any text,
    and the inbound row points to it. Returns the reply as sent (signature included)."""
    body = current_app.config["SMS_SIGNATURE"] + text.text
    reply = {
        "person_id": person.id if person else None,
        "to_phone": to_phone,
        "body": body,
        "template_key": text.key,
        "template_vars": text.variables,
        "kind": kind,
        "dedupe_key": f"reply:{message_sid}",
        "status": SmsStatus.SENT,
        "is_urgent": False,
        "segments": count_segments(body),
        "attempts": 1,
        "provider": "webhook-reply",
        "created_at": now,
        "sent_at": now,
        "status_changed_at": now,
    }
    values = {f"reply_{name}": value for name, value in reply.items()}
    if dialect == "postgresql":
        # Held until the commit (held_writes): an SMS sign-up's feed change goes with it,
        # one round trip for both. Nothing reads the reply before then but through the
        # session (``send_reply_by_outbox``), which writes it first.
        held_writes.hold("sms_reply", _reply_and_link, {"inbound_id": inbound_id, **values})
    else:
        reply_id = db.session.scalar(_INSERT_REPLY, values)
        db.session.execute(_SET_REPLY, {"inbound_id": inbound_id, "reply_id": reply_id})
    return body


# Core, prebuilt: the ORM would only add a flush and an entity nobody reads.
_outgoing = OutgoingSms.__table__
_REPLY_COLUMNS = (
    "person_id",
    "to_phone",
    "body",
    "template_key",
    "template_vars",
    "kind",
    "dedupe_key",
    "status",
    # Given, not left to its default: a statement inside WITH gets no Python-side defaults.
    "is_urgent",
    "segments",
    "attempts",
    "provider",
    "created_at",
    "sent_at",
    "status_changed_at",
)


def _insert_reply(prefix: str = ""):
    return (
        insert(_outgoing)
        # Named apart from the columns: inside the UPDATE below, "body" would be inbound_sms's.
        .values({name: bindparam(f"{prefix}reply_{name}") for name in _REPLY_COLUMNS})
        .returning(_outgoing.c.id)
    )


_INSERT_REPLY = _insert_reply()
_SET_REPLY = (
    update(_inbound)
    .where(_inbound.c.id == bindparam("inbound_id"))
    .values(reply_id=bindparam("reply_id"))
)


def _reply_and_link(prefix: str):
    """PostgreSQL: the reply's INSERT and the inbound row's link to it in one statement
    (``WITH reply AS (INSERT … RETURNING id) UPDATE inbound_sms SET reply_id = …
    RETURNING id``), a held write: every name carries ``prefix``, the CTE's too, since
    beside other writes it joins their WITH. SQLite takes no INSERT inside WITH: there,
    the two statements above."""
    reply = _insert_reply(prefix).cte(f"{prefix}reply")
    return (
        update(_inbound)
        .where(_inbound.c.id == bindparam(f"{prefix}inbound_id"))
        .values(reply_id=select(reply.c.id).scalar_subquery())
        .returning(_inbound.c.id)
    )
