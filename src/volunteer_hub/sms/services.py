"""The outbox: queue a text (a row first), deliver it (claim, hand over, record), take in
the provider's delivery reports; and a person's consent to texts (opt out, opt in).

Rule 2 of ARCHITECTURE.md: a text is an ``OutgoingSms`` row with a unique dedupe key,
committed before any actor is sent; the actor gets the row id, claims it with a
conditional UPDATE (queued → sending) and only then calls the provider. A duplicate
delivery finds the row claimed and does nothing. Rule 4: opt-out is absolute.

Every text passes ``screen`` just before its hand-over (the single send here, and any
batch send): what must stop it for good (an opt-out, too late, a reminder gone stale)
and what makes it wait (the per-recipient caps of ``sms.limits``). A provider that can
send nothing at all pauses its backend (``sms.pauses``) until an operator resumes it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, bindparam, select, update

from volunteer_hub import after_commit
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.i18n import local_zone
from volunteer_hub.people.models import Person
from volunteer_hub.sms import limits, number_opt_outs, outbox_insert, pauses
from volunteer_hub.sms.gateway import (
    PermanentSmsError,
    ProviderPaused,
    RecipientOptedOut,
    SendResult,
    SmsGateway,
    TransientSmsError,
)
from volunteer_hub.sms.models import (
    STATUS_RANK,
    ConsentChange,
    InboundSms,
    OutgoingSms,
    SmsKind,
    SmsStatus,
)
from volunteer_hub.sms.segments import count_segments
from volunteer_hub.sms.templates import Rendered

log = logging.getLogger(__name__)

#: a row claimed this long ago and still "sending" is marked for review, never resent
STUCK_SENDING_AFTER = timedelta(minutes=10)
#: a row still "queued" this long after it became due gets its actor sent again
STUCK_QUEUED_AFTER = timedelta(minutes=2)


def queue_text(
    *,
    to_phone: str,
    text: Rendered,
    kind: SmsKind | str,
    dedupe_key: str,
    person_id: int | None = None,
    is_urgent: bool = False,
    send_after: datetime | None = None,
    expires_at: datetime | None = None,
    signup_id: int | None = None,
    shift_starts_at: datetime | None = None,
    id_only: bool = False,
    hold: bool = False,
) -> OutgoingSms | int | None:
    """Put a text in the outbox, to be sent after the current transaction commits: the
    rendered text behind the signature, and its template key and variables beside it.

    Returns the new row, or None when nothing is queued: the person opted out (only the
    opt-out confirmation still goes to them), or a text with this dedupe key exists.
    ``expires_at``: not to be handed over after this time. ``signup_id`` and
    ``shift_starts_at``: what a reminder is about, checked again by ``deliver``.
    ``id_only``: return the new row's id, not the row (the INSERT then returns the id
    alone and no entity is built).
    ``hold``: return None at once and write the row with the transaction's next statement
    (``held_writes``: a sign-up's notice goes with its feed change in one round trip);
    for a caller that needs neither the row nor its id.
    """
    kind = SmsKind(kind)
    full_body = current_app.config["SMS_SIGNATURE"] + text.text
    values = {
        "person_id": person_id,
        "to_phone": to_phone,
        "body": full_body,
        "template_key": text.key,
        "template_vars": text.variables,
        "kind": kind,
        "dedupe_key": dedupe_key,
        "status": SmsStatus.QUEUED,
        "is_urgent": is_urgent,
        "send_after": send_after,
        "expires_at": expires_at,
        "signup_id": signup_id,
        "shift_starts_at": shift_starts_at,
        "segments": count_segments(full_body),
        "attempts": 0,
        "created_at": utcnow(),
    }
    # Opt-out is absolute (rule 4): only the opt-out confirmation still goes to them, or
    # to a number that opted out before anyone had it (sms.number_opt_outs).
    screened = kind != SmsKind.OPT_OUT_CONFIRMATION
    unless_opted_out = person_id if screened else None
    if hold:
        due = send_after is None or send_after <= utcnow()
        outbox_insert.hold(
            unless_opted_out, values, _send_when_written if due else None, check_number=screened
        )
        return None
    row = outbox_insert.insert_unless_duplicate(
        id_only=id_only, unless_opted_out=unless_opted_out, check_number=screened, **values
    )
    if row is not None and (send_after is None or send_after <= utcnow()):
        from volunteer_hub.sms.tasks import send_sms

        after_commit.enqueue(send_sms.send, row if id_only else row.id)
    return row


def _send_when_written(row_id: int | None) -> None:
    """A held text's actor is sent after commit, as for a text written at once; no row
    (a duplicate, an opted-out person): nothing to send."""
    from volunteer_hub.sms.tasks import send_sms

    if row_id is not None:
        after_commit.enqueue(send_sms.send, row_id)


@dataclass(frozen=True)
class Delivery:
    """What ``deliver`` did, for the actor to act on (and tests to check)."""

    #: sent / skipped / cancelled / failed / retry / held (a cap: ``send_after`` moved)
    #: / paused (its backend is paused: the text waits for the resume)
    outcome: str
    retry: bool = False


@dataclass(frozen=True)
class Verdict:
    """Why ``screen`` keeps a claimed text from going out now, and what becomes of it."""

    #: "cancelled": never (opted out, expired, the reminder's signup or shift changed);
    #: "held": not before ``until``; "failed": it would be held past its ``expires_at``
    outcome: str
    #: for the operator, kept on the row
    message: str
    #: kept on the row: ``recipient-cap`` for held and failed texts
    code: str | None = None
    until: datetime | None = None


def screen(row: OutgoingSms, now: datetime) -> Verdict | None:
    """The checks every text passes just before its hand-over; None: send it now.

    For any send path, single or batched: call it per row after the row is claimed
    (queued → sending, not yet committed), so a change committed before the claim (an
    opt-out, a cancellation, a moved shift, a text to the same number) always wins;
    give each row that gets a Verdict to ``set_aside`` and hand the rest over. It only
    reads (a few small queries per row); ``row`` must be the claimed row as loaded in
    this session. The caps count claimed texts, so screen a batch's rows one by one
    after claiming them all, or the batch may go over a cap by its own size. Whether
    the backend is paused is not the row's business: ask ``pauses.current(backend)``
    before claiming a batch (as ``deliver`` does), and leave the rows queued if so."""
    reason = _why_not_send(row, now)
    if reason is not None:
        return Verdict("cancelled", reason)
    return _recipient_cap(row, now)


def set_aside(row: OutgoingSms, verdict: Verdict, now: datetime) -> None:
    """Record ``screen``'s verdict on a claimed row; the caller commits. A held text goes
    back to "queued" with ``send_after`` at ``verdict.until`` and its claim undone (the
    minute sweep sends it then); a cancelled or failed one is finished."""
    row.status_changed_at = now
    row.error_message = verdict.message[:500]
    if verdict.code is not None:
        row.error_code = _code(verdict.code)
    if verdict.outcome == "held":
        row.status, row.send_after, row.claimed_at = SmsStatus.QUEUED, verdict.until, None
        row.attempts = max(0, row.attempts - 1)
    else:
        row.status = SmsStatus(verdict.outcome)


def _recipient_cap(row: OutgoingSms, now: datetime) -> Verdict | None:
    caps = limits.Caps.from_config(current_app.config)
    if caps.off or limits.exempt(row):
        return None
    until = limits.capped_until(caps, row.to_phone, now, local_zone(), leave_out=row.id)
    if until is None:
        return None
    if row.expires_at is not None and until > row.expires_at:
        return Verdict(
            "failed",
            f"recipient cap reached until {until:%Y-%m-%d %H:%M} UTC, after the text expires",
            code=limits.CAP_CODE,
        )
    return Verdict(
        "held", f"recipient cap reached until {until:%Y-%m-%d %H:%M} UTC", limits.CAP_CODE, until
    )


def destination(outgoing_id: int) -> str | None:
    """The number an outbox row goes to (what picks its backend), None for no such row."""
    return db.session.scalar(select(OutgoingSms.to_phone).where(OutgoingSms.id == outgoing_id))


def deliver(
    outgoing_id: int,
    gateway: SmsGateway,
    now: datetime | None = None,
    *,
    pace: Callable[[], None] | None = None,
) -> Delivery:
    """Send one outbox row through ``gateway`` at most once.

    A row is "sending" only while the provider may have it, so the sweep flags for
    review only texts that may have gone out. Everything that can fail before the
    hand-over happens while the row is still "queued": ``pace`` (the wait for a slot of
    the shared send rate, in Redis) before the claim, and the claim commits together
    with the checks that decide to send. A failure there leaves the text queued for the
    actor's retry or the sweep. The claim is durable before the provider is called, so
    a crash during the call leaves "sending" for the sweep to flag, never a text sent
    twice.

    ``pace`` runs only for a row still queued and due, so texts already sent, claimed or
    cancelled take no slot."""
    now = now or utcnow()
    not_claimed = _claim(outgoing_id, now, pace, gateway.name)
    if not_claimed is not None:
        return not_claimed
    row = db.session.get(OutgoingSms, outgoing_id)
    verdict = screen(row, now)
    if verdict is not None:
        set_aside(row, verdict, now)
        db.session.commit()
        return Delivery(verdict.outcome)
    return _hand_over(row, gateway, now)


def _claim(
    outgoing_id: int, now: datetime, pace: Callable[[], None] | None, backend: str
) -> Delivery | None:
    """Claim a due row (queued → sending), after ``pace``, unless ``backend`` is paused;
    None when claimed, else what happened instead. Only the claim is left uncommitted,
    for ``deliver`` to commit with its decision to send."""
    due = db.session.scalar(
        select(OutgoingSms.id).where(OutgoingSms.id == outgoing_id, claimable(now))
    )
    # End the read before waiting for a slot: on SQLite it holds the write lock.
    db.session.commit()
    if due is None:
        return Delivery("skipped")  # already claimed, finished, cancelled or not yet due
    try:
        paused = pauses.current(backend)
        if paused is None and pace is not None:
            pace()
    except Exception as exc:  # nothing claimed: whatever went wrong, the text waits
        code = getattr(exc, "code", None) or type(exc).__name__
        postpone([outgoing_id], now, code, str(exc))
        log.warning("sms %s: no send slot (%s), stays queued, will retry", outgoing_id, code)
        return Delivery("retry", retry=True)
    if paused is not None:
        # No retry: the resume (or the minute sweep) sends it again.
        since = f"{paused.since:%Y-%m-%d %H:%M} UTC"
        postpone([outgoing_id], now, pauses.PAUSED_CODE, f"{backend} paused since {since}")
        return Delivery("paused")

    claimed = db.session.execute(
        update(OutgoingSms)
        .where(OutgoingSms.id == outgoing_id, claimable(now))
        .values(
            status=SmsStatus.SENDING,
            claimed_at=now,
            attempts=OutgoingSms.attempts + 1,
            status_changed_at=now,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.commit()
        return Delivery("skipped")  # another actor claimed it since
    return None


def _hand_over(row: OutgoingSms, gateway: SmsGateway, now: datetime) -> Delivery:
    """Commit the claim, call the provider, and record what it said."""
    outgoing_id = row.id
    send = _sender(row, gateway)
    # The claim becomes durable here, with the decision to send; a failure before this
    # commit rolls it back. Committing also ends the transaction before the provider
    # call: on SQLite it holds the write lock (BEGIN IMMEDIATE), and every other writer
    # would wait for the provider.
    db.session.commit()
    try:
        result = send()
    except TransientSmsError as exc:
        # Back in the queue for the actor's retry (with backoff); the claim is released.
        row.status = SmsStatus.QUEUED
        row.error_code, row.error_message = _code(exc.code), str(exc)[:500]
        row.status_changed_at = now
        db.session.commit()
        if isinstance(exc, ProviderPaused):
            # The whole account is stopped (balance, quota): every text of this backend
            # waits for an operator or the quota's reset, none is lost.
            pauses.pause(gateway.name, code=exc.code, reason=str(exc), at=now, resets=exc.resets)
            return Delivery("paused")
        log.warning("sms %s: transient failure (%s), will retry", outgoing_id, exc.code or "-")
        return Delivery("retry", retry=True)
    except RecipientOptedOut as exc:
        provider_opt_out(row, exc.code, now)
        _finish(row, SmsStatus.FAILED, now, error_code=_code(exc.code), error_message=str(exc))
        return Delivery("failed")
    except PermanentSmsError as exc:
        _finish(row, SmsStatus.FAILED, now, error_code=_code(exc.code), error_message=str(exc))
        log.warning("sms %s: permanent failure %s", outgoing_id, exc.code or "-")
        return Delivery("failed")

    row.provider = gateway.name
    row.provider_sid = result.provider_sid
    row.sent_at = now
    if result.segments:
        row.segments = result.segments
    _finish(row, SmsStatus(result.status), now)
    return Delivery("sent")


def _sender(row: OutgoingSms, gateway: SmsGateway) -> Callable[[], SendResult]:
    """How this row goes to this gateway: a template backend (a mainland provider) takes
    the template key and variables, never the rendered body; the others take the body."""
    to_phone, body, key = row.to_phone, row.body, row.template_key
    variables = dict(row.template_vars or {})
    send_template = getattr(gateway, "send_template", None)
    if send_template is None:
        return lambda: gateway.send(to_phone, body, status_callback=_status_callback_url())
    if not key:
        return _refuse(
            PermanentSmsError(f"{gateway.name} sends templates only", code="no_template")
        )
    return lambda: send_template(to_phone, key, variables)


def _refuse(error: PermanentSmsError) -> Callable[[], SendResult]:
    def send() -> SendResult:
        raise error

    return send


def send_reply_by_outbox(message_sid: str) -> int | None:
    """The reply to inbound ``message_sid`` goes out as an outbox text (a push from a
    mainland provider has no answer that could carry it, unlike Twilio's TwiML): the
    reply row ``handle_inbound`` recorded as answered in the webhook is queued instead,
    and its actor sent after commit. Its id; None when that message got no reply."""
    from volunteer_hub.sms.tasks import send_sms

    reply_id = db.session.scalar(_QUEUE_REPLY, {"message_sid": message_sid[:64], "now": utcnow()})
    if reply_id is not None:
        after_commit.enqueue(send_sms.send, reply_id)
    return reply_id


_outgoing = OutgoingSms.__table__
# One statement: the webhook wrote both rows with Core and holds neither.
_QUEUE_REPLY = (
    update(_outgoing)
    .where(
        _outgoing.c.id
        == select(InboundSms.reply_id)
        .where(InboundSms.message_sid == bindparam("message_sid"))
        .scalar_subquery()
    )
    .values(status=SmsStatus.QUEUED, provider=None, sent_at=None, attempts=0)
    .values(status_changed_at=bindparam("now"))
    .returning(_outgoing.c.id)
)


def record_delivery_report(provider_sid: str, status: str, error_code: str | None = None) -> bool:
    """A provider reports the fate of a text we handed over, in our words: ``status`` is
    sent / delivered / failed / undelivered (the backend translates the provider's word).
    Reports arrive out of order, so a row's status never moves backwards; a failure keeps
    the provider's ``error_code``. A report on a message we do not know changes nothing.
    True if the row changed. The caller commits."""
    row = db.session.scalar(select(OutgoingSms).where(OutgoingSms.provider_sid == provider_sid))
    new = SmsStatus(status)
    if row is None or STATUS_RANK[new] <= STATUS_RANK[SmsStatus(row.status)]:
        return False
    row.status = new
    row.status_changed_at = utcnow()
    if new in (SmsStatus.FAILED, SmsStatus.UNDELIVERED):
        row.error_code = _code(error_code)
    return True


def opt_out(person_id: int, *, channel: str, keyword: str | None = None, now=None) -> bool:
    """Stop all texts to the person. True if this changed anything."""
    now = now or utcnow()
    if not _change_consent(person_id, opted_in=False, channel=channel, keyword=keyword, now=now):
        return False
    cancel_queued(OutgoingSms.person_id == person_id, now)
    return True


def cancel_queued(to_whom: ColumnElement[bool], now: datetime) -> None:
    """Whatever still waits to go to ``to_whom`` (a person, a number) that has just opted
    out will not go out; the opt-out's own confirmation still does."""
    db.session.execute(
        update(OutgoingSms)
        .where(
            to_whom,
            OutgoingSms.status == SmsStatus.QUEUED,
            OutgoingSms.kind != SmsKind.OPT_OUT_CONFIRMATION,
        )
        .values(status=SmsStatus.CANCELLED, status_changed_at=now)
        .execution_options(synchronize_session=False)
    )


def provider_opt_out(row: OutgoingSms, code: str | None, now: datetime) -> None:
    """The provider refused the text: its recipient unsubscribed. The person opts out, or,
    for a text to a number no person has (a reply), the number."""
    if row.person_id is not None:
        opt_out(row.person_id, channel="provider", keyword=code, now=now)
    else:
        number_opt_outs.remember(row.to_phone, channel="provider", keyword=code, now=now)


def opt_in(person_id: int, *, channel: str, keyword: str | None = None, now=None) -> bool:
    """Texts to the person again, and to their number if it had opted out before they
    had it (``sms.number_opt_outs``). True if this changed anything."""
    now = now or utcnow()
    changed = _change_consent(person_id, opted_in=True, channel=channel, keyword=keyword, now=now)
    return number_opt_outs.forget_person_number(person_id) or changed


def _change_consent(
    person_id: int, *, opted_in: bool, channel: str, keyword: str | None, now: datetime
) -> bool:
    """Move the person's opt-out state and log the change with its channel and word;
    False, and nothing logged, when they were in that state already. A conditional
    UPDATE, so two opt-outs at once log one change."""
    opted_out = Person.sms_opted_out_at.is_not(None)
    changed = db.session.execute(
        update(Person)
        .where(Person.id == person_id, opted_out if opted_in else ~opted_out)
        .values(sms_opted_out_at=None if opted_in else now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed:
        db.session.add(
            ConsentChange(
                person_id=person_id,
                opted_in=opted_in,
                channel=channel,
                # A provider's refusal code stands for the word and may run long
                # (Tencent's FailedOperation.PhoneNumberInBlacklist): cut to the column.
                keyword=keyword[: ConsentChange.keyword.type.length] if keyword else None,
                changed_at=now,
            )
        )
    return bool(changed)


def requeue_stuck(now: datetime | None = None) -> tuple[int, int]:
    """The outbox half of the minute sweep: send actors again for rows left "queued" (a
    lost message, a worker that died before claiming), and flag rows stuck in "sending"
    for a person to look at. Returns (requeued, flagged). Safe to run twice at once: the
    claim in ``deliver`` lets only one actor through. The texts of a broadcast or call-out
    go again in batches, as they were queued (``batches.enqueue_sends``)."""
    from volunteer_hub.sms.batches import enqueue_sends

    now = now or utcnow()
    flagged = db.session.execute(
        update(OutgoingSms)
        .where(
            OutgoingSms.status == SmsStatus.SENDING,
            OutgoingSms.claimed_at < now - STUCK_SENDING_AFTER,
        )
        .values(status=SmsStatus.REVIEW, status_changed_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    due_before = now - STUCK_QUEUED_AFTER
    stuck = select(OutgoingSms.id, OutgoingSms.to_phone, OutgoingSms.template_key).where(
        OutgoingSms.status == SmsStatus.QUEUED,
        ((OutgoingSms.send_after.is_(None)) & (OutgoingSms.created_at < due_before))
        | (OutgoingSms.send_after <= now),
        # a row being retried with backoff has a fresh status_changed_at
        (OutgoingSms.status_changed_at.is_(None)) | (OutgoingSms.status_changed_at < due_before),
    )
    if pauses.some_backend_paused():
        # Texts waiting for a paused backend wait for its resume, which sends them; the
        # sweep takes them again only once no backend is paused (a pause that vanished).
        stuck = stuck.where(
            (OutgoingSms.error_code.is_(None)) | (OutgoingSms.error_code != pauses.PAUSED_CODE)
        )
    stuck_rows = [tuple(row) for row in db.session.execute(stuck)]
    enqueue_sends(stuck_rows)
    return len(stuck_rows), flagged


def claimable(now: datetime):
    """Where-clause of a row a send path may claim at ``now``: queued, and its time has
    come."""
    return (OutgoingSms.status == SmsStatus.QUEUED) & (
        (OutgoingSms.send_after.is_(None)) | (OutgoingSms.send_after <= now)
    )


def postpone(outgoing_ids: Sequence[int], now: datetime, code: str, message: str) -> None:
    """The texts could not be handed over and were never claimed (no send slot: the rate
    is used up, or Redis is away; their backend is paused). Say why on the rows, and keep
    the sweep off them a while, as after a provider's transient error. For one text or a
    batch's."""
    db.session.execute(
        update(OutgoingSms)
        .where(OutgoingSms.id.in_(outgoing_ids), OutgoingSms.status == SmsStatus.QUEUED)
        .values(error_code=_code(code), error_message=message[:500], status_changed_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()


def _code(code: str | None) -> str | None:
    """A provider's error code as the column holds it. Domestic codes run long
    ("FailedOperation.InsufficientBalanceInSmsPackage"); the whole code stays in the
    error message, which quotes it."""
    return code[: OutgoingSms.error_code.type.length] if code else None


def _finish(row: OutgoingSms, status: SmsStatus, now: datetime, **fields) -> None:
    row.status = status
    row.status_changed_at = now
    for name, value in fields.items():
        setattr(row, name, value[:500] if isinstance(value, str) else value)
    db.session.commit()


def _why_not_send(row: OutgoingSms, now: datetime) -> str | None:
    """Why a claimed text must not go out any more, or None if it still should."""
    if row.kind != SmsKind.OPT_OUT_CONFIRMATION and _opted_out(row.person_id, row.to_phone):
        return "recipient opted out"
    if row.expires_at is not None and now > row.expires_at:
        return "expired"
    if row.kind != SmsKind.REMINDER:
        return None
    if row.signup_id is None:
        return "signup gone"
    from volunteer_hub.events.models import Event, EventStatus, Shift
    from volunteer_hub.signups.models import Signup, SignupStatus

    found = db.session.execute(
        select(Signup.status, Shift.is_cancelled, Shift.starts_at, Event.status)
        .join(Shift, Shift.id == Signup.shift_id)
        .join(Event, Event.id == Shift.event_id)
        .where(Signup.id == row.signup_id)
    ).one_or_none()
    if found is None:
        return "signup gone"
    signup_status, shift_cancelled, starts_at, event_status = found
    if signup_status != SignupStatus.CONFIRMED:
        return f"signup {signup_status}"
    if shift_cancelled:
        return "shift cancelled"
    if event_status != EventStatus.PUBLISHED:
        return f"event {event_status}"
    if row.shift_starts_at is not None and starts_at != row.shift_starts_at:
        return "shift moved"
    return None


def _opted_out(person_id: int | None, phone: str) -> bool:
    """The person, or the number (an opt-out texted before anyone had it), opted out: one
    read, as before the number was asked too."""
    by_number = number_opt_outs.is_opted_out(phone)
    if person_id is None:
        return bool(db.session.scalar(select(by_number)))
    by_person = (
        select(Person.id).where(Person.id == person_id, Person.sms_opted_out_at.is_not(None))
    ).exists()
    return bool(db.session.scalar(select(by_person | by_number)))


def _status_callback_url() -> str | None:
    base = current_app.config.get("PUBLIC_BASE_URL")
    return f"{base}/sms/status" if base else None
