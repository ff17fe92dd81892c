"""Broadcasts and call-outs handed over in batches: one provider call for many texts.

A leader's call-out to a district is thousands of texts on the same template. A mainland
provider takes many numbers per call (Aliyun ``SendBatchSms``: 100; Tencent ``SendSms``:
200 sharing one parameter set), so the texts of one broadcast or call-out, going through
one backend on one template, travel together: one actor message carries their row ids,
and one claim, one provider call (or a few, as the backend splits them) and one commit
deliver them. ``SMS_BATCH_SIZE`` says how many texts at most (0: batching off, one text
per actor message and per call, as before). For a backend without batches (the console,
Twilio) a call-out's thousands of texts still reach the broker as a few messages, which
the worker turns into one ``send_sms`` message per text: starting a call-out to a
district costs the request a fraction of a second of broker time, not seconds.

The rules of a single text (``sms.services.deliver``) hold for each row of a batch:

- the send rate counts texts, not calls: a batch takes one slot of the shared rate per
  text, all before the claim, so what a provider sees still averages the configured rate
  (the actor lets one batch at a time take its slots: batches filling up side by side
  would all reach the provider at once);
- the claim is one conditional UPDATE (queued → sending) of the rows still queued and
  due; a redelivered message finds its rows claimed or finished and sends nothing twice;
- a paused backend (no balance) claims nothing: the rows wait for the operator's resume;
- every claimed row is screened again, one by one, after the claim (``services.screen``:
  opted out since, expired, a reminder's signup gone, a recipient's cap reached), and a
  row that must not go now is cancelled, failed or held for later;
- the claim is committed before the provider call, so a crash during it leaves "sending"
  for the sweep to flag, never a text sent twice;
- each number's outcome is recorded on its own row: sent with its provider id; a
  transient error puts that row back in the queue, and the actor's retry sends the
  rows left queued, nothing else.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from flask import current_app
from sqlalchemy import select, update

from volunteer_hub import after_commit
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.sms import pauses, services
from volunteer_hub.sms.backends import backend_for, gateway_named
from volunteer_hub.sms.gateway import (
    PermanentSmsError,
    ProviderPaused,
    RecipientOptedOut,
    SendResult,
    SmsError,
    SmsGateway,
    TransientSmsError,
)
from volunteer_hub.sms.models import OutgoingSms, SmsStatus

log = logging.getLogger(__name__)

#: texts for a backend without batches, from this many on, go to the worker in one
#: message per FAN_OUT, which sends their ``send_sms`` messages
FAN_OUT_FROM = 50
FAN_OUT = 500


#: a row just written to the outbox, as far as choosing its actor message goes:
#: (id, to_phone, template_key)
Due = tuple[int, str, str | None]


class BatchDelivery(NamedTuple):
    """What ``deliver_batch`` did, counted by row (for the actor, tests and benchmarks).
    ``waiting``: back in the queue for the actor's retry (a transient error, no send
    slot); ``skipped``: already claimed, finished or not due, so left alone, or held for
    later by a recipient cap (the minute sweep sends those); ``paused``: the backend is
    paused, and its resume sends the rows again (no retry)."""

    sent: int = 0
    failed: int = 0
    cancelled: int = 0
    waiting: int = 0
    skipped: int = 0
    paused: bool = False


def batch_size(gateway: SmsGateway) -> int:
    """How many texts one actor message hands to ``gateway``: SMS_BATCH_SIZE, at most
    the most the backend takes in one call; 0 when the backend has no batch send (the
    console, Twilio) or batching is off."""
    wanted = int(current_app.config.get("SMS_BATCH_SIZE") or 0)
    limit = getattr(gateway, "batch_limit", 0) if hasattr(gateway, "send_template_batch") else 0
    return min(wanted, limit) if wanted > 1 else 0


def enqueue_sends(rows: Iterable[Due]) -> None:
    """Queue, for after the commit, the actor messages that send ``rows``: rows going
    through one batching backend on one template travel together, ``batch_size`` at a
    time. Other rows get a ``send_sms`` message each; when there are many, the worker
    sends those (one ``send_sms_batch`` message per FAN_OUT rows): a request that
    starts a call-out to a district must not spend seconds talking to the broker."""
    from volunteer_hub.sms.tasks import send_sms, send_sms_batch

    config = current_app.config
    groups: dict[tuple[str, str | None], list[int]] = defaultdict(list)
    for outgoing_id, to_phone, template_key in rows:
        groups[backend_for(config, to_phone), template_key].append(outgoing_id)
    for (backend, template_key), ids in groups.items():
        size = _batch_size_of(backend) if template_key else 0
        if size == 0 and len(ids) < FAN_OUT_FROM:
            for outgoing_id in ids:
                after_commit.enqueue(send_sms.send, outgoing_id)
            continue
        size = size or FAN_OUT
        for start in range(0, len(ids), size):
            after_commit.enqueue(send_sms_batch.send, tuple(ids[start : start + size]))


def _batch_size_of(backend: str) -> int:
    """``batch_size`` of a backend by name; 0 when its settings are broken: the texts are
    written already, and the leader's call-out must not fail for it (each text's actor
    fails loudly instead, and the texts wait for the operator)."""
    try:
        return batch_size(gateway_named(backend))
    except RuntimeError as exc:
        log.error("sms backend %s cannot be built (%s): texts go one by one", backend, exc)
        return 0


def fan_out(outgoing_ids: Sequence[int]) -> None:
    """A ``send_sms`` message for each row, sent by the worker (see ``enqueue_sends``)."""
    from volunteer_hub.sms.tasks import send_sms

    for outgoing_id in outgoing_ids:
        send_sms.send(outgoing_id)


def destination(outgoing_ids: Sequence[int]) -> str | None:
    """The number of a batch's first row still there: every row of a batch goes through
    the same backend (``enqueue_sends`` grouped them by route)."""
    return db.session.scalar(
        select(OutgoingSms.to_phone).where(OutgoingSms.id.in_(outgoing_ids)).limit(1)
    )


def deliver_batch(
    outgoing_ids: Sequence[int],
    gateway: SmsGateway,
    now: datetime | None = None,
    *,
    pace: Callable[[int], None] | None = None,
) -> BatchDelivery:
    """Send the batch's rows through ``gateway``, each at most once (see the module
    docstring). ``pace(n)`` waits for n slots of the send rate, n the rows still queued
    and due."""
    now = now or utcnow()
    ids = sorted(set(outgoing_ids))
    due_ids = list(db.session.scalars(select(OutgoingSms.id).where(_due(ids, now))))
    # End the read before waiting for slots: on SQLite it holds the write lock.
    db.session.commit()
    skipped = len(ids) - len(due_ids)
    if not due_ids:
        return BatchDelivery(skipped=skipped)
    try:
        paused = pauses.current(gateway.name)
        if paused is None and pace is not None:
            pace(len(due_ids))
    except Exception as exc:  # nothing claimed yet: whatever went wrong, the texts wait
        _postpone(due_ids, now, getattr(exc, "code", None) or type(exc).__name__, str(exc))
        return BatchDelivery(waiting=len(due_ids), skipped=skipped)
    if paused is not None:
        since = f"{paused.since:%Y-%m-%d %H:%M} UTC"
        _postpone(due_ids, now, pauses.PAUSED_CODE, f"{gateway.name} paused since {since}")
        return BatchDelivery(skipped=skipped, paused=True)

    rows = _claim(due_ids, now)
    skipped += len(due_ids) - len(rows)
    verdicts = _screen(rows, now)
    sendable = [row for row in rows if row.status == SmsStatus.SENDING]
    # The claim becomes durable with the decision to send, before the provider call
    # (which holds no transaction: on SQLite that would block every other writer).
    db.session.commit()
    counts: dict[SmsStatus, int] = defaultdict(int)
    errors: dict[str, SmsError] = {}
    for row, outcome in _hand_over(sendable, gateway):
        counts[_record(row, outcome, gateway.name, now)] += 1
        if isinstance(outcome, TransientSmsError):
            errors[outcome.code or type(outcome).__name__] = outcome
    db.session.commit()
    paused_by = next((e for e in errors.values() if isinstance(e, ProviderPaused)), None)
    if paused_by is not None:
        # The whole account is stopped (balance, quota): every text of this backend waits
        # for an operator's resume or the quota's reset, none is lost.
        pauses.pause(
            gateway.name,
            code=paused_by.code,
            reason=str(paused_by),
            at=now,
            resets=paused_by.resets,
        )
    if errors:
        _log_waiting(gateway.name, counts[SmsStatus.QUEUED], errors)
    return BatchDelivery(
        sent=counts[SmsStatus.SENT] + counts[SmsStatus.DELIVERED],
        failed=counts[SmsStatus.FAILED] + verdicts["failed"],
        cancelled=verdicts["cancelled"],
        waiting=counts[SmsStatus.QUEUED],
        skipped=skipped + verdicts["held"],
        paused=paused_by is not None,
    )


def _log_waiting(provider: str, waiting: int, errors: dict[str, SmsError]) -> None:
    """One line per batch, not one per text; a paused provider (balance, quota) is an
    error an operator must act on."""
    paused = any(isinstance(error, ProviderPaused) for error in errors.values())
    log.log(
        logging.ERROR if paused else logging.WARNING,
        "sms batch via %s: %d texts wait for a retry (%s)",
        provider,
        waiting,
        ", ".join(sorted(errors)),
    )


def _due(ids: Sequence[int], now: datetime):
    return OutgoingSms.id.in_(ids) & services.claimable(now)


def _claim(due_ids: Sequence[int], now: datetime) -> list[OutgoingSms]:
    """Claim the rows still due (queued → sending) in one conditional UPDATE; the rows
    this claim won, fresh from the database. Left uncommitted for the screening."""
    claimed_ids = list(
        db.session.scalars(
            update(OutgoingSms)
            .where(_due(due_ids, now))
            .values(
                status=SmsStatus.SENDING,
                claimed_at=now,
                attempts=OutgoingSms.attempts + 1,
                status_changed_at=now,
            )
            .returning(OutgoingSms.id)
            .execution_options(synchronize_session=False)
        )
    )
    if not claimed_ids:
        return []
    return list(
        db.session.scalars(
            select(OutgoingSms)
            .where(OutgoingSms.id.in_(claimed_ids))
            .order_by(OutgoingSms.id)
            .execution_options(populate_existing=True)
        )
    )


def _screen(rows: Sequence[OutgoingSms], now: datetime) -> dict[str, int]:
    """The per-row checks of a single text (``services.screen``), after the claim, so a
    change committed before it (an opt-out, a cancellation) wins; a row kept back is
    cancelled, failed or held for later. Returns how many rows had each verdict."""
    verdicts: dict[str, int] = defaultdict(int)
    for row in rows:
        verdict = services.screen(row, now)
        if verdict is not None:
            services.set_aside(row, verdict, now)
            verdicts[verdict.outcome] += 1
    return verdicts


def _hand_over(
    rows: Sequence[OutgoingSms], gateway: SmsGateway
) -> Iterable[tuple[OutgoingSms, SendResult | SmsError]]:
    """Each row with what the provider said of it: one ``send_template_batch`` per
    template (the backend splits further by its own limits)."""
    by_template: dict[str | None, list[OutgoingSms]] = defaultdict(list)
    for row in rows:
        by_template[row.template_key].append(row)
    send_batch = getattr(gateway, "send_template_batch", None)
    for template_key, group in by_template.items():
        if send_batch is None or not template_key:
            refusal = PermanentSmsError(f"{gateway.name} sends no template batch", "no_template")
            yield from ((row, refusal) for row in group)
            continue
        recipients = [(row.to_phone, dict(row.template_vars or {})) for row in group]
        yield from zip(group, send_batch(recipients, template_key), strict=True)


def _record(row: OutgoingSms, outcome: SendResult | SmsError, provider: str, now: datetime):
    """Write one number's outcome on its row (uncommitted); returns the row's new status."""
    if isinstance(outcome, SendResult):
        row.provider, row.provider_sid, row.sent_at = provider, outcome.provider_sid, now
        if outcome.segments:
            row.segments = outcome.segments
        status = SmsStatus(outcome.status)
    elif isinstance(outcome, TransientSmsError):
        # Back in the queue for the actor's retry (with backoff); the claim is released.
        status = SmsStatus.QUEUED
    else:
        if isinstance(outcome, RecipientOptedOut):
            services.provider_opt_out(row, outcome.code, now)
        status = SmsStatus.FAILED
    errors = {}
    if isinstance(outcome, SmsError):
        errors = {"error_code": services._code(outcome.code), "error_message": str(outcome)}
    _settle(row, status, now, **errors)
    return status


def _settle(row: OutgoingSms, status: SmsStatus, now: datetime, **fields) -> None:
    row.status, row.status_changed_at = status, now
    for name, value in fields.items():
        setattr(row, name, value[:500] if isinstance(value, str) else value)


def _postpone(outgoing_ids: Sequence[int], now: datetime, code: str, message: str) -> None:
    services.postpone(outgoing_ids, now, code, message)
    log.warning("sms batch: %d texts stay queued (%s)", len(outgoing_ids), code)
