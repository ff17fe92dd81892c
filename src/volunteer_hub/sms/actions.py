"""What a texted command does and what we answer: opting out and back in, and for a person
we know who takes texts 报名, 取消, 确认 and the acknowledgements, 我的, 签到 / 签退, 工时,
更正, 加入 / 不加入, 帮助.

Apart from ``sms.inbound`` (the webhook's plumbing: who wrote, whether the text answers a
call-out, the inbound row, the reply's row) because this is the conversation itself: each
command asks the same services as the web and chooses the words of its answer, and none
needs to know how the text came in or how its reply is recorded. ``sms.inbound`` calls
``answer`` with what it read; nothing here imports it back, which is why the sender
(``Texter``) and the ``NOT_READ`` sentinel, used on both sides, live here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import contains_eager

from volunteer_hub.errors import DomainError, ValidationFailed
from volunteer_hub.events.models import Event, EventStatus, Shift
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance, personal, records
from volunteer_hub.hours.models import ServiceRecord
from volunteer_hub.i18n import to_local
from volunteer_hub.signups import one_read
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import ACTIVE_STATUSES, Signup, SignupSource, SignupStatus
from volunteer_hub.sms import number_opt_outs, replies
from volunteer_hub.sms import services as outbox
from volunteer_hub.sms.catalogue import MAX_CODES
from volunteer_hub.sms.commands import Command, CommandKind
from volunteer_hub.sms.models import OutgoingSms, SmsKind
from volunteer_hub.sms.templates import Rendered
from volunteer_hub.teams.models import Team

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


#: ``sms.inbound._Sender.shift`` of a text whose shift was not read with the sender
NOT_READ = object()


def answer(
    command: Command, person: Texter | None, now: datetime, shift: object, *, sender: str
) -> tuple[Rendered | None, SmsKind]:
    """What the text does and the reply (None: no reply). ``sender``: the number it came
    from, as normalised, which is what a number nobody has is known by."""
    kind = command.kind
    if person is None:
        return _from_unknown_number(command, sender, now)
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
    if shift is not NOT_READ:  # 报名 with one code: its shift came with the sender
        if shift is None:
            return _unknown_code(person, command.code), SmsKind.REPLY
        return _sign_up_as_read(person, shift, command.code, now), SmsKind.REPLY
    act = _ACTIONS.get(kind)
    return (act(person, command, now) if act else replies.unknown_command()), SmsKind.REPLY


def _from_unknown_number(
    command: Command, sender: str, now: datetime
) -> tuple[Rendered | None, SmsKind]:
    """A number no person has: an opt-out is remembered for the number and honoured once
    someone has it (``sms.number_opt_outs``), and confirmed as a person's is (the one
    text it still gets, and what carriers expect in answer to 退订 / STOP); an opt-in
    forgets it. Anything else gets the way to join, unless the number opted out."""
    kind = command.kind
    if kind == CommandKind.OPT_OUT:
        number_opt_outs.remember(sender, channel="sms", keyword=command.keyword, now=now)
        return replies.opted_out(), SmsKind.OPT_OUT_CONFIRMATION
    if kind == CommandKind.OPT_IN:
        if number_opt_outs.forget([sender]):
            return replies.opted_in(), SmsKind.REPLY
    elif number_opt_outs.opted_out(sender):
        return None, SmsKind.REPLY
    return replies.unknown_number(), SmsKind.REPLY


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
    """报名 with one code, on what ``sms.inbound._sender`` read."""
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
    if attendance.has_checked_in(shift.id, person.id):
        return replies.checked_in_stays(title=event.title, code=code)
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
    ``sms.inbound`` docstring for why a call-out answer comes first)."""
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


#: on the table's columns, not the entity's: ``inbound._sender`` puts it in a Core
#: statement, which an ORM attribute would send through the ORM's execution path
_shift_table = Shift.__table__
IS_CURRENT_SHIFT = (_shift_table.c.code == bindparam("code")) & _shift_table.c.code_is_current.is_(
    True
)
# Of the team, its name for the answer and whether it is archived (ensure_open); not its
# unit, which a team otherwise brings along (a join and a row more).
_SHIFT_TEAM_COLUMNS = (
    contains_eager(Event.team).load_only(Team.id, Team.name, Team.archived_at).lazyload(Team.unit)
)
_CURRENT_SHIFT = (
    select(Shift, Event)
    .join(Event, Event.id == Shift.event_id)
    .join(Team, Team.id == Event.team_id)
    .where(IS_CURRENT_SHIFT)
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
