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
   ``ACKNOWLEDGE_WITHIN`` (for a seat still ahead); without such a reminder it gets the
   help text, since we cannot tell what it agrees to.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from flask import current_app
from sqlalchemy import Select, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import contains_eager

from volunteer_hub.callouts.models import Callout, CalloutRecipient
from volunteer_hub.db import utcnow
from volunteer_hub.errors import DomainError, ValidationFailed
from volunteer_hub.events.models import Event, EventStatus, Shift
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance, personal, records
from volunteer_hub.hours.models import ServiceRecord
from volunteer_hub.i18n import to_local
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import InvalidPhone, normalize_phone
from volunteer_hub.signups import one_read
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import ACTIVE_STATUSES, Signup, SignupSource, SignupStatus
from volunteer_hub.sms import replies
from volunteer_hub.sms import services as outbox
from volunteer_hub.sms.catalogue import MAX_CODES
from volunteer_hub.sms.commands import Command, CommandKind, parse
from volunteer_hub.sms.models import InboundSms, OutgoingSms, SmsKind, SmsStatus
from volunteer_hub.sms.segments import count_segments
from volunteer_hub.sms.templates import Rendered
from volunteer_hub.teams.models import Membership, Team

#: how many upcoming shifts 我的 pages through at most
MY_SHIFTS_LIMIT = 99
#: 确认 without a code and without a reminder confirms the next shift this close
CONFIRM_AHEAD = timedelta(hours=48)
#: 好的 / 收到 / 1 … confirm the shift of a reminder sent this recently (the 24 h one)
ACKNOWLEDGE_WITHIN = timedelta(hours=24)
#: commands that do nothing without a code ("签到" alone finds the shift open for it)
_NEEDS_CODE = frozenset({CommandKind.SIGN_UP, CommandKind.CANCEL})
#: the longest correction note ``hours.records.request_correction`` takes
CORRECTION_NOTE_LIMIT = 500


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
    # Who wrote, whether the text answers one of their call-outs and, for 报名 with one
    # code, that code's shift, in one round trip; then the row's one INSERT records who
    # and what (a redelivered message costs the lookup for nothing, which is rare).
    person, callout, shift = _sender(sender, command, body or "")
    recorded_id = db.session.scalar(
        _record_statement(db.session.get_bind().dialect.name),
        {
            "message_sid": message_sid[:64],
            "from_phone": sender,
            "to_phone": (to_phone or "")[:20],
            "body": body or "",
            "received_at": now,
            "person_id": person.id if person else None,
            "command": _CALLOUT_REPLY if callout else command.kind.value,
        },
    )
    if recorded_id is None:
        return InboundResult(reply=None, duplicate=True)

    answered = _answer_callout(person, body or "", now) if callout else None
    if callout and answered is None:
        # The call-out went between the lookup and now: the text is read as usual.
        db.session.execute(_SET_COMMAND, {"inbound_id": recorded_id, "command": command.kind})
    text, kind = answered or _answer(command, person, now, shift)
    if text is None:
        return InboundResult(reply=None)
    reply = _record_reply(recorded_id, sender, message_sid[:64], person, text, kind, now)
    return InboundResult(reply=reply)


#: what a call-out answer never overrides: leaving or rejoining the texts
_CONSENT_COMMANDS = frozenset({CommandKind.OPT_OUT, CommandKind.OPT_IN})
#: the inbound row's ``command`` for a text read as a call-out answer
_CALLOUT_REPLY = "callout_reply"


@dataclass(frozen=True, slots=True)
class Texter:
    """The person who wrote, as the webhook reads them: the values it needs, no entity
    (what a command does to the person, its service reads or writes by id)."""

    id: int
    phone: str
    sms_opted_out_at: datetime | None

    @property
    def sms_opted_out(self) -> bool:  # as ``Person.sms_opted_out``
        return self.sms_opted_out_at is not None


class _Sender(NamedTuple):
    person: Texter | None
    #: the text answers one of the person's call-outs
    answers_callout: bool
    #: 报名 with one code: what the sign-up needs of the current shift with it and of
    #: the sender's place on it (``one_read.SignUpRead``; None: no such shift);
    #: ``_NOT_READ`` for other texts
    shift: object


#: ``_Sender.shift`` of a text whose shift was not read with the sender
_NOT_READ = object()


def _sender(phone: str, command: Command, body: str) -> _Sender:
    """The person with this phone, if any, with what the text needs next, in the same
    statement: whether it answers one of their call-outs ("1", "Y", "到", "报名 2345"),
    which goes before the other commands ("报名 1234" for a shift, "Y" after a reminder)
    but never before an opt-out or opt-in, and which an opted-out person cannot give;
    and for 报名 with one code, the most common text, that code's shift."""
    from volunteer_hub.callouts.answers import parse_reply

    parsed = None if command.kind in _CONSENT_COMMANDS else parse_reply(body)
    callout = None if parsed is None else ("code" if parsed[1] is not None else "open")
    with_shift = command.kind == CommandKind.SIGN_UP and len(command.codes) == 1
    parameters = {"phone": phone}
    if callout == "code":
        parameters["callout_code"] = parsed[1]
    if with_shift:
        parameters["code"] = command.code
    row = db.session.execute(_sender_statement(callout, with_shift), parameters).first()
    if row is None:
        return _Sender(None, False, _NOT_READ)
    person = Texter(row.person_id, row.person_phone, row.sms_opted_out_at)
    answers_callout = False
    if callout is not None:
        answers_callout = bool(row.answers_callout) and not person.sms_opted_out
    shift = _NOT_READ
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


@functools.cache
def _sender_statement(callout: str | None, with_shift: bool) -> Select:
    """The sender; with ``callout`` ("code", "open"), whether they have a call-out this
    answer is for: the one with the code, or else any open one (the call-outs
    ``callouts.answers.answer`` looks for, which then acts on them with its own query:
    a call-out answer is rare); ``with_shift``, the current shift with the code and
    the sender's membership and signup there, as plain columns (``one_read.SIGN_UP_COLUMNS``,
    NULLs when there is no such shift): the sign-up rules read values, not entities."""
    statement = select(*_SENDER_COLUMNS).where(_person.c.phone == bindparam("phone"))
    if callout is not None:
        from volunteer_hub.callouts.answers import OPEN_STATUSES

        answers = (
            select(CalloutRecipient.id)
            .join(Callout, Callout.id == CalloutRecipient.callout_id)
            .where(CalloutRecipient.person_id == _person.c.id)
            .where(
                Callout.code == bindparam("callout_code")
                if callout == "code"
                else Callout.status.in_(OPEN_STATUSES)
            )
        )
        statement = statement.add_columns(answers.exists().label("answers_callout"))
    if with_shift:
        statement = (
            statement.add_columns(*one_read.SIGN_UP_COLUMNS)
            .select_from(_person)
            .outerjoin(Shift, _IS_CURRENT_SHIFT)
            .outerjoin(Event, Event.id == Shift.event_id)
            .outerjoin(Team, Team.id == Event.team_id)
            .outerjoin(Membership, one_read.MEMBERSHIP_OF_SIGNER)
            .outerjoin(Signup, one_read.ACTIVE_SIGNUP_OF_SIGNER)
        )
    return statement


@functools.cache
def _record_statement(dialect: str):
    """The inbound row's INSERT, built once per dialect; no row back when the provider
    delivers the message again (its id is already recorded)."""
    table = InboundSms.__table__
    insert_into = postgresql_insert if dialect == "postgresql" else sqlite_insert
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


def _answer(
    command: Command, person: Texter | None, now: datetime, shift: object = _NOT_READ
) -> tuple[Rendered | None, SmsKind]:
    kind = command.kind
    if person is None:
        # Not registered: show the way to join; an opt-out needs no answer from us.
        return (None if kind == CommandKind.OPT_OUT else replies.unknown_number()), SmsKind.REPLY
    if kind == CommandKind.OPT_OUT:
        outbox.opt_out(person.id, channel="sms", keyword=command.keyword, now=now)
        return replies.opted_out(), SmsKind.OPT_OUT_CONFIRMATION
    if kind == CommandKind.OPT_IN:
        outbox.opt_in(person.id, channel="sms", keyword=command.keyword, now=now)
        return replies.opted_in(), SmsKind.REPLY
    if person.sms_opted_out:
        return None, SmsKind.REPLY
    if kind in _NEEDS_CODE and command.code is None:
        return replies.need_code(kind), SmsKind.REPLY
    if len(command.codes) > MAX_CODES:
        return replies.too_many_codes(limit=MAX_CODES), SmsKind.REPLY
    if shift is not _NOT_READ:  # 报名 with one code: its shift came with the sender
        if shift is None:
            return _unknown_code(person, command.code), SmsKind.REPLY
        return _sign_up_as_read(person, shift, command.code, now), SmsKind.REPLY
    act = _ACTIONS.get(kind)
    return (act(person, command, now) if act else replies.unknown_command()), SmsKind.REPLY


def _help(person: Texter, command: Command, now: datetime) -> Rendered:
    return replies.help_text()


def _sign_up(person: Texter, command: Command, now: datetime) -> Rendered:
    return _each_code(person, command, now, _sign_up_for)


def _cancel(person: Texter, command: Command, now: datetime) -> Rendered:
    return _each_code(person, command, now, _cancel_on)


def _each_code(
    person: Texter,
    command: Command,
    now: datetime,
    act: Callable[[Texter, Shift, Event, str, datetime], Rendered],
) -> Rendered:
    """``act`` on the shift of each code, in order; one code gets its own full answer,
    several get one text with the outcome of each ("报名 7503 7290")."""
    outcomes = [
        (code, _on_shift(person, code, now, act, missing=_unknown_code)) for code in command.codes
    ]
    if len(outcomes) == 1:
        return outcomes[0][1]
    return replies.results(command.kind, outcomes)


def _sign_up_for(person: Texter, shift: Shift, event: Event, code: str, now: datetime) -> Rendered:
    team = db.session.get(Team, event.team_id)
    return _signed_up(
        signups.ShiftFacts.of(shift, event, team),
        code,
        lambda: signups.sign_up(shift.id, person.id, SignupSource.SMS, now=now),
    )


def _sign_up_as_read(
    person: Texter, read: one_read.SignUpRead, code: str, now: datetime
) -> Rendered:
    """报名 with one code, on what ``_sender`` read."""
    return _signed_up(
        read.facts,
        code,
        lambda: one_read.sign_up_as_read(read, person.id, person.phone, SignupSource.SMS, now),
    )


def _signed_up(
    facts: signups.ShiftFacts, code: str, sign_up: Callable[[], signups.SignupResult]
) -> Rendered:
    """The answer to a sign-up of the shift with ``code`` (``sign_up`` does it)."""
    starts_at = to_local(facts.starts_at)
    # Whose event and where, in every answer: a mistyped code shows at once.
    about = {
        "title": facts.title,
        "code": code,
        "team": facts.team_name,
        "location": facts.location,
    }
    try:
        result = sign_up()
    except signups.MembersOnly:
        return replies.members_only(**about)
    except signups.AlreadySignedUp:
        return replies.already_signed_up(starts_at=starts_at, **about)
    except signups.ShiftStarted:
        return replies.shift_started(**about)
    except signups.EventNotOpen:
        return replies.event_cancelled(**about)
    if result.confirmed:
        return replies.signup_confirmed(starts_at=starts_at, **about)
    return replies.signup_waitlisted(
        starts_at=starts_at, position=result.waitlist_position, **about
    )


def _cancel_on(person: Texter, shift: Shift, event: Event, code: str, now: datetime) -> Rendered:
    signup = signups.active_signup(shift.id, person.id)
    if signup is None:
        return replies.not_signed_up(code=code)
    try:
        signups.cancel(signup.id, acted_by_id=person.id, now=now)
    except DomainError:
        return replies.not_signed_up(code=code)
    return replies.cancel_done(title=event.title, starts_at=to_local(shift.starts_at), code=code)


def _confirm(person: Texter, command: Command, now: datetime) -> Rendered:
    """确认 answers a reminder. With a code it names the shift; without one it means the
    shift of the latest reminder still ahead, or else the person's next shift within
    CONFIRM_AHEAD (someone who lost the reminder still says "yes, I'm coming")."""
    code = command.code
    upcoming = _seats_ahead(person, now)
    if code is not None:
        row = db.session.execute(
            upcoming.where(Shift.code == code, Shift.code_is_current.is_(True))
        ).first()
        if row is None:
            return replies.not_signed_up(code=code)
    else:
        row = (
            _reminded(upcoming)
            or db.session.execute(
                upcoming.where(Shift.starts_at <= now + CONFIRM_AHEAD)
                .order_by(Shift.starts_at)
                .limit(1)
            ).first()
        )
        if row is None:
            return replies.nothing_to_confirm()
    return _confirmed(*row, now)


def _acknowledge(person: Texter, command: Command, now: datetime) -> Rendered:
    """好的 / 收到 / 是 / 嗯 / 1 / OK: 确认 right after a reminder, else the help (see the
    module docstring for why a call-out answer comes first)."""
    row = _reminded(_seats_ahead(person, now), since=now - ACKNOWLEDGE_WITHIN)
    if row is None:
        return replies.help_text()
    return _confirmed(*row, now)


def _seats_ahead(person: Texter, now: datetime) -> Select:
    """(Signup, Shift, Event) of the person's confirmed seats on shifts still ahead."""
    return _seats(person, Signup, Shift, Event).where(
        Shift.is_cancelled.is_(False), Shift.starts_at > now
    )


def _seats(
    person: Texter, *columns, statuses: Iterable[SignupStatus] = (SignupStatus.CONFIRMED,)
) -> Select:
    """``columns`` of the person's signups in ``statuses``, with their shifts and events."""
    return (
        select(*columns)
        .select_from(Signup)
        .join(Shift, Shift.id == Signup.shift_id)
        .join(Event, Event.id == Shift.event_id)
        .where(Signup.person_id == person.id, Signup.status.in_(tuple(statuses)))
    )


def _reminded(upcoming, since: datetime | None = None):
    """The row of ``upcoming`` whose reminder went out last (since ``since``), or None."""
    reminded = upcoming.join(OutgoingSms, OutgoingSms.signup_id == Signup.id).where(
        OutgoingSms.kind == SmsKind.REMINDER, OutgoingSms.sent_at.is_not(None)
    )
    if since is not None:
        reminded = reminded.where(OutgoingSms.sent_at >= since)
    return db.session.execute(reminded.order_by(OutgoingSms.sent_at.desc()).limit(1)).first()


def _confirmed(signup: Signup, shift: Shift, event: Event, now: datetime) -> Rendered:
    if signup.attendance_confirmed_at is None:
        signup.attendance_confirmed_at = now
    return replies.confirm_thanks(title=event.title, starts_at=to_local(shift.starts_at))


def _my_shifts(person: Texter, command: Command, now: datetime) -> Rendered:
    rows = db.session.execute(
        _seats(person, Shift.code, Event.title, Shift.starts_at, statuses=ACTIVE_STATUSES)
        .where(Shift.ends_at > now)
        .order_by(Shift.starts_at)
        .limit(MY_SHIFTS_LIMIT)
    ).all()
    return replies.my_shifts(
        [(code, title, to_local(starts)) for code, title, starts in rows], page=command.page
    )


# -- attendance and hours (hours.attendance and .records do the work; these choose the words) --


def _check_in(person: Texter, command: Command, now: datetime) -> Rendered:
    if command.code is None:
        return _the_open_one(person, command.kind, _open_for_check_in(person, now), now)
    return _on_shift(person, command.code, now, _check_in_on, missing=_not_current)


def _check_out(person: Texter, command: Command, now: datetime) -> Rendered:
    if command.code is None:
        return _the_open_one(person, command.kind, _open_for_check_out(person, now), now)
    return _on_shift(person, command.code, now, _check_out_on, missing=_not_current)


def _the_open_one(
    person: Texter, kind: CommandKind, open_shifts: list[tuple[Shift, Event]], now: datetime
) -> Rendered:
    """签到 / 签退 without a code: the one shift open for it, as 确认 finds its shift;
    several: the list with their codes; none: how to write the command."""
    if not open_shifts:
        return replies.need_code(kind)
    if len(open_shifts) > 1:
        return replies.choose_shift(
            kind, [(event.title, shift.code) for shift, event in open_shifts]
        )
    shift, event = open_shifts[0]
    act = _check_in_on if kind == CommandKind.CHECK_IN else _check_out_on
    return act(person, shift, event, shift.code, now)


def _open_for_check_in(person: Texter, now: datetime) -> list[tuple[Shift, Event]]:
    """The person's confirmed seats whose check-in is open (hours.attendance.check_in)."""
    early = timedelta(minutes=current_app.config["CHECK_IN_EARLY_MINUTES"])
    open_now = _seats(person, Shift, Event).where(
        Shift.is_cancelled.is_(False),
        Event.status == EventStatus.PUBLISHED,
        Shift.starts_at <= now + early,
        Shift.ends_at >= now,
    )
    rows = db.session.execute(open_now.order_by(Shift.starts_at, Shift.id))
    return [(shift, event) for shift, event in rows]


def _open_for_check_out(person: Texter, now: datetime) -> list[tuple[Shift, Event]]:
    """Shifts the person checked in to and may still check out of (hours.attendance)."""
    late = timedelta(minutes=current_app.config["CHECK_OUT_LATE_MINUTES"])
    on_site = ServiceRecord.checked_in_at.is_not(None) & ServiceRecord.checked_out_at.is_(None)
    rows = db.session.execute(
        select(Shift, Event)
        .join(Event, Event.id == Shift.event_id)
        .join(ServiceRecord, ServiceRecord.shift_id == Shift.id)
        .where(ServiceRecord.person_id == person.id, on_site, ~ServiceRecord.auto_closed)
        .where(Shift.ends_at >= now - late)
        .order_by(Shift.starts_at, Shift.id)
    )
    return [(shift, event) for shift, event in rows]


def _check_in_on(person: Texter, shift: Shift, event: Event, code: str, now: datetime) -> Rendered:
    title = event.title
    try:
        attendance.check_in(shift.id, person.id, now=now, channel="sms")
    except attendance.NotSignedUp:
        return _no_seat(shift.id, person.id, code)
    except attendance.OutsideWindow:
        if now < shift.starts_at:
            early = timedelta(minutes=current_app.config["CHECK_IN_EARLY_MINUTES"])
            return replies.check_in_not_open(title=title, opens_at=shift.starts_at - early)
        return replies.check_in_closed(title=title, code=code)
    except attendance.AlreadyCheckedIn:
        record = personal.record_on(shift.id, person.id)
        return replies.already_checked_in(title=title, at=record.checked_in_at, code=code)
    except attendance.RecordDecided:
        return replies.record_decided(title=title, code=code)
    except DomainError:  # the shift or its event was cancelled meanwhile
        return replies.shift_cancelled(title=title, code=code)
    return replies.checked_in(title=title, at=now, code=code)


def _check_out_on(person: Texter, shift: Shift, event: Event, code: str, now: datetime) -> Rendered:
    title = event.title
    try:
        record = attendance.check_out(shift.id, person.id, now=now, channel="sms")
    except attendance.NotSignedUp:
        return _no_seat(shift.id, person.id, code)
    except attendance.NotCheckedIn:
        return replies.not_checked_in(code=code)
    except attendance.AlreadyCheckedOut:
        record = personal.record_on(shift.id, person.id)
        return replies.already_checked_out(title=title, at=record.checked_out_at, code=code)
    except attendance.OutsideWindow:
        return replies.check_out_closed(title=title, code=code)
    except DomainError:
        return replies.shift_cancelled(title=title, code=code)
    return replies.checked_out(title=title, at=now, minutes=record.minutes)


def _no_seat(shift_id: int, person_id: int, code: str) -> Rendered:
    """Not signed up, or only on the waitlist."""
    if signups.active_signup(shift_id, person_id) is not None:
        return replies.waitlisted_no_check_in(code=code)
    return replies.not_signed_up(code=code)


def _not_current(person: Texter, code: str) -> Rendered:
    """No current shift has the code: tell the person what became of their own shift
    with it (cancelled, or over and its code released), else that the code is unknown."""
    row = db.session.execute(
        select(Shift, Event)
        .join(Event, Event.id == Shift.event_id)
        .join(Signup, Signup.shift_id == Shift.id)
        .where(Shift.code == code, Signup.person_id == person.id)
        .order_by(Shift.starts_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return replies.unknown_code(code=code)
    shift, event = row
    if shift.is_cancelled or event.status == EventStatus.CANCELLED:
        return replies.shift_cancelled(title=event.title, code=code)
    return replies.check_in_closed(title=event.title, code=code)


def _my_hours(person: Texter, command: Command, now: datetime) -> Rendered:
    totals = personal.summary(person.id, now)
    if not totals.records:
        return replies.no_records()
    return replies.my_hours(
        verified_minutes=totals.verified_minutes,
        year_minutes=totals.year_minutes,
        year=totals.year,
        pending=totals.pending,
    )


def _correction(person: Texter, command: Command, now: datetime) -> Rendered:
    """更正 [CODE] note: a correction request on the person's record of the shift with
    that code (even a released code), or on their latest record."""
    code, note = command.code, command.note
    if code is not None:
        record = personal.record_by_code(person.id, code)
        if record is None:
            return replies.correction_no_record(code=code)
    else:
        record = personal.latest_record(person.id)
        if record is None:
            return replies.no_records()
    if not note.strip():
        return replies.correction_need_note(code)
    try:
        records.request_correction(record.id, person.id, note, channel="sms", now=now)
    except ValidationFailed:
        return replies.correction_too_long(limit=CORRECTION_NOTE_LIMIT)
    return replies.correction_received(title=record.content, day=record.started_at)


def _team_invitation(person: Texter, command: Command, now: datetime) -> Rendered:
    """加入 / 不加入 [CODE]: answer a team's invitation. Without a code it means the one
    waiting; when several wait, the reply lists each with its code."""
    from volunteer_hub.teams import services as teams

    code = command.code
    accept = command.kind == CommandKind.JOIN_TEAM
    waiting = teams.invitations_for(person.id)
    if code is not None:
        waiting = [item for item in waiting if item.id == int(code)]
        if not waiting:
            return replies.invitation_unknown_code(code=code, accept=accept)
    if not waiting:
        return replies.invitation_none()
    if len(waiting) > 1:
        return replies.invitation_choose(
            [(item.team.name, teams.invitation_code(item)) for item in waiting], accept=accept
        )
    invitation = waiting[0]
    team_name = invitation.team.name
    try:
        if accept:
            teams.accept_invitation(invitation.id, person.id, via="sms", now=now)
        else:
            teams.decline_invitation(invitation.id, person.id, via="sms", now=now)
    except DomainError:
        return replies.invitation_answered(team=team_name, outcome="expired")
    return replies.invitation_answered(team=team_name, outcome="accepted" if accept else "declined")


def _on_shift(
    person: Texter,
    code: str,
    now: datetime,
    act: Callable[[Texter, Shift, Event, str, datetime], Rendered],
    *,
    missing: Callable[[Texter, str], Rendered],
) -> Rendered:
    """``act`` on the current shift with the code; ``missing`` answers when none has it."""
    return _on_found(person, code, _current_shift(code), now, act, missing=missing)


def _on_found(
    person: Texter,
    code: str,
    found: tuple[Shift, Event] | None,
    now: datetime,
    act: Callable[[Texter, Shift, Event, str, datetime], Rendered],
    *,
    missing: Callable[[Texter, str], Rendered],
) -> Rendered:
    if found is None:
        return missing(person, code)
    return act(person, *found, code, now)


def _unknown_code(person: Texter, code: str) -> Rendered:
    return replies.unknown_code(code=code)


def _current_shift(code: str) -> tuple[Shift, Event] | None:
    """The shift and its event, and the event's team into the identity map with them:
    every answer about a shift names the team (no second round trip for it), and the
    sign-up core reads all three from the session rather than loading them again."""
    row = db.session.execute(_CURRENT_SHIFT, {"code": code}).first()
    return (row[0], row[1]) if row else None


_IS_CURRENT_SHIFT = (Shift.code == bindparam("code")) & Shift.code_is_current.is_(True)
# Of the team, its name for the answer and whether it is archived (ensure_open); not its
# unit, which a team otherwise brings along (a join and a row more).
_SHIFT_TEAM_COLUMNS = (
    contains_eager(Event.team).load_only(Team.id, Team.name, Team.archived_at).lazyload(Team.unit)
)
_CURRENT_SHIFT = (
    select(Shift, Event)
    .join(Event, Event.id == Shift.event_id)
    .join(Team, Team.id == Event.team_id)
    .where(_IS_CURRENT_SHIFT)
    .options(_SHIFT_TEAM_COLUMNS)
)


#: what each command does for a known person who takes texts; each returns the reply
_ACTIONS: dict[CommandKind, Callable[[Texter, Command, datetime], Rendered]] = {
    CommandKind.SIGN_UP: _sign_up,
    CommandKind.CANCEL: _cancel,
    CommandKind.CONFIRM: _confirm,
    CommandKind.MY_SHIFTS: _my_shifts,
    CommandKind.CHECK_IN: _check_in,
    CommandKind.CHECK_OUT: _check_out,
    CommandKind.MY_HOURS: _my_hours,
    CommandKind.CORRECTION: _correction,
    CommandKind.JOIN_TEAM: _team_invitation,
    CommandKind.DECLINE_TEAM: _team_invitation,
    CommandKind.HELP: _help,
    CommandKind.ACKNOWLEDGE: _acknowledge,
}


def _record_reply(
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
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(_reply_and_link(), {"inbound_id": inbound_id, **values})
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
_INSERT_REPLY = (
    insert(_outgoing)
    # Named apart from the columns: inside the UPDATE below, "body" would be inbound_sms's.
    .values({name: bindparam(f"reply_{name}") for name in _REPLY_COLUMNS})
    .returning(_outgoing.c.id)
)
_SET_REPLY = (
    update(_inbound)
    .where(_inbound.c.id == bindparam("inbound_id"))
    .values(reply_id=bindparam("reply_id"))
)


@functools.cache
def _reply_and_link():
    """PostgreSQL: the reply's INSERT and the inbound row's link to it in one round trip
    (``WITH reply AS (INSERT … RETURNING id) UPDATE inbound_sms SET reply_id = …``).
    SQLite takes no INSERT inside WITH: there, the two statements above."""
    reply = _INSERT_REPLY.cte("reply")
    return (
        update(_inbound)
        .where(_inbound.c.id == bindparam("inbound_id"))
        .values(reply_id=select(reply.c.id).scalar_subquery())
    )
