"""Seats by reply: a volunteer texted by a call-out answers yes or no.

Yes takes a seat through the sign-up core (``signups.services.sign_up``: the conditional
seat claim under the shift row's lock, so capacity is never exceeded; beyond it the
waitlist, with the true position). No records a decline, and gives back a seat taken
earlier; a later yes is then handled like a first one. Every answer says what happened,
with the place and the time.

The words (CONTRACTS.md, to be added there with the SMS parser): ``1``, ``Y``, ``是``,
``到``, ``报名`` say yes; ``2``, ``不能``, ``N`` say no; each optionally followed by the
call-out's code, needed only when the person has several open call-outs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, select

from volunteer_hub.callouts import rings, texts
from volunteer_hub.callouts.models import (
    OPEN_STATUSES,
    Answer,
    Callout,
    CalloutRecipient,
    CalloutStatus,
)
from volunteer_hub.db import in_constants, utcnow
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import ACTIVE_STATUSES, Signup, SignupSource
from volunteer_hub.sms.commands import answer_form
from volunteer_hub.sms.templates import Rendered

ACCEPT_WORDS = ("1", "Y", "是", "到", "报名", "可以", "能去", "我去", "参加")
DECLINE_WORDS = ("2", "不能", "N", "不能去", "不能参加", "去不了", "来不了", "不去", "没空", "不行")
#: a digit word needs a space before its code ("1 2345"): "12345" is a code, not "1 2345"
_DIGIT_REPLY = re.compile(r"(?P<word>[12])(?: (?P<code>\d{3,8}))?")
#: longest first, so that "不能去" is not read as "不能" and a stray "去"
_WORDS = sorted((w for w in (*ACCEPT_WORDS, *DECLINE_WORDS) if not w.isdigit()), key=len)[::-1]
_WORD_REPLY = re.compile(rf"(?P<word>{'|'.join(_WORDS)}) ?(?P<code>\d{{3,8}})?")


def named_by(code):
    """The call-outs a reply with ``code`` (a value or a bound parameter) answers: those
    with the code, but not an ended one whose code a current shift has taken since
    (an ended call-out's code is free again), so "报名 CODE" signs up for that shift."""
    callout, shift = Callout.__table__, Shift.__table__
    shift_has_it = exists().where(shift.c.code == code, shift.c.code_is_current.is_(True))
    return (callout.c.code == code) & (
        in_constants(callout.c.status, OPEN_STATUSES) | ~shift_has_it
    )


@dataclass(frozen=True)
class Reply:
    rendered: Rendered
    #: the signup taken: an entity, or the values a sign-up just wrote (no load)
    signup: Signup | signups.PlacedSignup | None = None
    waitlist_position: int | None = None

    @property
    def text(self) -> str:
        """The words as the phone shows them (after the signature)."""
        return self.rendered.text


def parse_reply(words: str) -> tuple[bool, str | None] | None:
    """(accept, code or None) when the text is a call-out answer, else None. Read as
    commands are: "报名：1234 谢谢" is "报名 1234", "是，1234" is "是 1234"."""
    text = answer_form(words)
    match = _DIGIT_REPLY.fullmatch(text) or _WORD_REPLY.fullmatch(text)
    if match is None:
        return None
    return match["word"] in ACCEPT_WORDS, match["code"]


def handle_callout_reply(
    from_person_id: int, words: str, now: datetime | None = None
) -> Rendered | None:
    """What the SMS inbound handler asks first: the reply to a call-out answer, or None
    when the text is no answer to a call-out of this person (the other commands then
    read it: "报名 1234" for a shift, "Y" for a reminder)."""
    parsed = parse_reply(words)
    if parsed is None:
        return None
    accept, code = parsed
    result = answer(from_person_id, code, accept, now)
    return result.rendered if result is not None else None


def answer(
    person_id: int,
    code: str | None,
    accept: bool,
    now: datetime | None = None,
    source: SignupSource = SignupSource.SMS,
) -> Reply | None:
    """Take a seat (``accept``) or decline, for the call-out with this code, or the
    person's only open one when ``code`` is None. None when the person has no such
    call-out. The caller commits."""
    now = now or utcnow()
    found = db.session.execute(
        select(CalloutRecipient, Callout)
        .join(Callout, Callout.id == CalloutRecipient.callout_id)
        .join(Event, Event.id == Callout.event_id)
        .where(
            CalloutRecipient.person_id == person_id,
            named_by(code) if code is not None else Callout.status.in_(OPEN_STATUSES),
        )
        # When they must choose and not all fit in the text: the most pressing first,
        # urgent ones, then the soonest.
        .order_by(Callout.is_urgent.desc(), Event.starts_at, Callout.id.desc())
    ).all()
    if code is not None:
        # An ended call-out's code may be reused; the open one with it comes first.
        found = sorted(found, key=lambda row: row[1].status not in OPEN_STATUSES)[:1]
    if not found:
        return None
    if len(found) > 1:
        titles = _titles(callout.event_id for _r, callout in found)
        return Reply(texts.choose([(c.code, titles[c.event_id]) for _r, c in found]))
    recipient, callout = found[0]
    event = db.session.get(Event, callout.event_id)
    shifts = rings.callout_shifts(callout.id)
    if callout.status not in OPEN_STATUSES or not shifts or shifts[0].starts_at <= now:
        return Reply(texts.closed(event.title))
    if not accept:
        return _decline(recipient, event, now)
    return _accept(recipient, callout, event, shifts, source, now)


def _accept(
    recipient: CalloutRecipient,
    callout: Callout,
    event: Event,
    shifts: list[Shift],
    source: SignupSource,
    now: datetime,
) -> Reply:
    shift = _shift_with_a_seat(shifts) if len(shifts) > 1 else shifts[0]
    current = db.session.scalar(
        select(Signup).where(
            Signup.person_id == recipient.person_id,
            Signup.shift_id.in_([s.id for s in shifts]),
            Signup.status.in_(ACTIVE_STATUSES),
        )
    )
    result = None
    if current is None:
        try:
            # The call-out is the caller's invitation: anyone texted may take a seat,
            # member of the event's team or not (overseer, as when a coordinator signs
            # someone up).
            result = signups.sign_up(shift.id, recipient.person_id, source, now=now, overseer=True)
        except signups.AlreadySignedUp:  # the same person's second reply, at the same moment
            current = signups.active_signup(shift.id, recipient.person_id)
        except (signups.ShiftStarted, signups.EventNotOpen):
            return Reply(texts.closed(event.title))
    if current is not None:
        _record(recipient, Answer.ACCEPTED, current.id, now)
        on = db.session.get(Shift, current.shift_id)
        return Reply(
            texts.already_on(texts.Duty.of(event, on)),
            signup=current,
            waitlist_position=signups.waitlist_position(current),
        )
    if result is None:  # signed up and off again meanwhile: let them reply once more
        return Reply(texts.closed(event.title))
    _record(recipient, Answer.ACCEPTED, result.placed.id, now)
    if result.confirmed:
        if callout.status == CalloutStatus.ACTIVE and rings.is_full(callout.id):
            rings.end_callout(callout.id, CalloutStatus.FULL, now)
        text = texts.seated(texts.Duty.of(event, shift))
    else:
        text = texts.waitlisted(texts.Duty.of(event, shift), result.waitlist_position)
    return Reply(text, signup=result.placed, waitlist_position=result.waitlist_position)


def _decline(recipient: CalloutRecipient, event: Event, now: datetime) -> Reply:
    if recipient.signup_id is not None:
        taken = db.session.get(Signup, recipient.signup_id)
        if taken is not None and taken.is_active:
            signups.cancel(taken.id, now=now)  # the seat goes to the head of the waitlist
    _record(recipient, Answer.DECLINED, None, now)
    return Reply(texts.declined(event.title))


def _record(
    recipient: CalloutRecipient, answer_: Answer, signup_id: int | None, now: datetime
) -> None:
    recipient.answer = answer_
    recipient.answered_at = now
    recipient.signup_id = signup_id
    db.session.flush()


def _shift_with_a_seat(shifts: list[Shift]) -> Shift:
    """The soonest of the shifts with a free seat, read under their row locks (so not a
    stale count), or the first shift, whose waitlist the person then joins."""
    free = db.session.scalar(
        select(Shift.id)
        .where(Shift.id.in_([s.id for s in shifts]), Shift.filled < Shift.capacity)
        .order_by(Shift.starts_at, Shift.id)
        .limit(1)
        .with_for_update()
    )
    return next((s for s in shifts if s.id == free), shifts[0])


def _titles(event_ids) -> dict[int, str]:
    ids = set(event_ids)
    return dict(db.session.execute(select(Event.id, Event.title).where(Event.id.in_(ids))).all())
