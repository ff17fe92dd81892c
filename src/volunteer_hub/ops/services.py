"""The figures of the operations page, each from one or two queries (or one Redis round
trip), with plain arguments so a test or a shell can ask for them too.

Nothing here changes data, except ``record_tick``: the scheduler notes when its tick
last finished, in Redis when there is one (every web process reads the same value), in
the app otherwise (embedded mode: scheduler and web are one process).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from flask import current_app
from sqlalchemy import and_, case, func, or_, select

from volunteer_hub.calendar.changes import FeedChange
from volunteer_hub.calendar.models import Feed
from volunteer_hub.calendar.services import REBUILD_OVERDUE_AFTER
from volunteer_hub.extensions import db
from volunteer_hub.hours.marks import RollupMark
from volunteer_hub.people.services import mask_phone
from volunteer_hub.sms import pauses
from volunteer_hub.sms.backends import backends_in_use
from volunteer_hub.sms.limits import CAP_CODE
from volunteer_hub.sms.models import OutgoingSms, SmsStatus
from volunteer_hub.sms.services import STUCK_QUEUED_AFTER, STUCK_SENDING_AFTER

#: the window of the outbox counts and the failed texts
OUTBOX_WINDOW = timedelta(hours=24)
#: failed texts listed at most
FAILED_SHOWN = 20
#: the tick runs every minute; older than this and the page says the scheduler is late
TICK_LATE_AFTER = timedelta(minutes=3)
#: where the embedded scheduler leaves its last tick (no Redis: one process)
_TICK_EXTENSION = "volunteer_hub.last_tick"
_FAILED = (SmsStatus.FAILED, SmsStatus.UNDELIVERED)


@dataclass(frozen=True)
class QueueDepth:
    name: str
    #: messages waiting for a worker
    waiting: int
    #: messages with a delay (retries with backoff), not yet due or held by a worker
    delayed: int
    #: messages that failed every retry (Dramatiq's dead-letter queue)
    dead: int


def queue_depths(broker: dramatiq.Broker) -> list[QueueDepth]:
    """Every declared queue with its delay and dead-letter queues; one Redis round trip."""
    names = sorted(
        {dramatiq.common.q_name(name) for name in broker.get_declared_queues()}
        - {""}  # defensive: a queue name is never empty
    )
    if isinstance(broker, RedisBroker):
        pipe = broker.client.pipeline(transaction=False)
        for name in names:
            key = f"{broker.namespace}:{name}"
            pipe.llen(key)
            pipe.hlen(f"{broker.namespace}:{dramatiq.common.dq_name(name)}.msgs")
            pipe.zcard(f"{key}.XQ")
        counts = pipe.execute()
        return [
            QueueDepth(name, int(counts[3 * i]), int(counts[3 * i + 1]), int(counts[3 * i + 2]))
            for i, name in enumerate(names)
        ]
    depths = []
    for name in names:
        queues = broker.queues  # StubBroker: in-process queues
        delay_queue = queues.get(dramatiq.common.dq_name(name))
        depths.append(
            QueueDepth(
                name,
                queues[name].qsize() if name in queues else 0,
                delay_queue.qsize() if delay_queue is not None else 0,
                len(broker.dead_letters_by_queue.get(name, ())),
            )
        )
    return depths


#: why a held text waits, in the order the page lists them
HELD_REASONS = ("quiet_hours", CAP_CODE, pauses.PAUSED_CODE)


def outbox_counts(since: datetime, now: datetime) -> dict[str, int]:
    """Texts created since ``since`` by status, every status present (zeros included);
    "held" (see ``held_texts``) apart from "queued", which then counts only texts due
    for a worker."""
    held = _held(now)
    status = case((held, "held"), else_=OutgoingSms.status)
    rows = db.session.execute(
        select(status, func.count()).where(OutgoingSms.created_at >= since).group_by(status)
    )
    counts = {str(status): 0 for status in SmsStatus} | {"held": 0}
    for name, count in rows:
        counts[str(name)] = count
    return counts


@dataclass(frozen=True)
class Held:
    #: quiet_hours (a call-out written at night), recipient-cap, provider-paused
    reason: str
    count: int
    #: when the first and the last of them go out (None while their backend is paused)
    first_out: datetime | None
    last_out: datetime | None


def held_texts(now: datetime) -> list[Held]:
    """Queued texts that are not due for a worker, by why they wait and when they go out;
    one query. Reasons without texts are left out."""
    reason = case(
        (OutgoingSms.error_code == pauses.PAUSED_CODE, pauses.PAUSED_CODE),
        (OutgoingSms.error_code == CAP_CODE, CAP_CODE),
        else_="quiet_hours",
    )
    out_at = case(
        (OutgoingSms.error_code == pauses.PAUSED_CODE, None), else_=OutgoingSms.send_after
    )
    rows = db.session.execute(
        select(reason, func.count(), func.min(out_at), func.max(out_at))
        .where(_held(now))
        .group_by(reason)
    ).all()
    found = {row[0]: Held(row[0], row[1], _aware(row[2]), _aware(row[3])) for row in rows}
    return [found[name] for name in HELD_REASONS if name in found]


def _held(now: datetime):
    """A queued text not due for a worker at ``now``: held until later, or paused."""
    return and_(
        OutgoingSms.status == SmsStatus.QUEUED,
        or_(OutgoingSms.send_after > now, OutgoingSms.error_code == pauses.PAUSED_CODE),
    )


@dataclass(frozen=True)
class BackendState:
    name: str
    #: None while it sends
    pause: pauses.Pause | None


def backend_states() -> list[BackendState]:
    """Every backend SMS_BACKEND and SMS_ROUTES use, sending or paused (Redis: one
    round trip each)."""
    names = sorted(backends_in_use(current_app.config))
    return [BackendState(name, pauses.current(name)) for name in names]


@dataclass(frozen=True)
class FailedText:
    id: int
    at: datetime
    kind: str
    status: str
    #: 138****8000: the page is for operators, who need the error, not the number
    to: str
    error_code: str | None
    error_message: str | None


def failed_texts(since: datetime, limit: int = FAILED_SHOWN) -> list[FailedText]:
    """The latest texts that failed or were not delivered, with the provider's error."""
    changed = func.coalesce(OutgoingSms.status_changed_at, OutgoingSms.created_at)
    rows = db.session.execute(
        select(
            OutgoingSms.id,
            changed,
            OutgoingSms.kind,
            OutgoingSms.status,
            OutgoingSms.to_phone,
            OutgoingSms.error_code,
            OutgoingSms.error_message,
        )
        .where(OutgoingSms.status.in_(_FAILED), changed >= since)
        .order_by(changed.desc(), OutgoingSms.id.desc())
        .limit(limit)
    )
    return [
        FailedText(id_, at, str(kind), str(status), _masked(phone), code, message)
        for id_, at, kind, status, phone, code, message in rows
    ]


def _masked(phone: str) -> str:
    try:
        return mask_phone(phone)
    except Exception:  # a reply to a number phonenumbers cannot read: show nothing of it
        return "****"


@dataclass(frozen=True)
class StuckTexts:
    #: due, still "queued" after STUCK_QUEUED_AFTER (the tick sends them again)
    queued: int
    oldest_queued: datetime | None
    #: claimed by a worker longer than STUCK_SENDING_AFTER ago (the tick flags them)
    sending: int
    oldest_sending: datetime | None
    #: flagged for review: a person decides whether they went out
    review: int

    @property
    def total(self) -> int:
        return self.queued + self.sending + self.review


def stuck_texts(now: datetime) -> StuckTexts:
    """Rows stuck in the outbox, by the same limits the tick uses; one query."""
    due_before = now - STUCK_QUEUED_AFTER
    queued = and_(
        OutgoingSms.status == SmsStatus.QUEUED,
        or_(
            and_(OutgoingSms.send_after.is_(None), OutgoingSms.created_at < due_before),
            OutgoingSms.send_after < due_before,
        ),
        # a text being retried with backoff is not stuck
        or_(OutgoingSms.status_changed_at.is_(None), OutgoingSms.status_changed_at < due_before),
        # nor one waiting for its paused backend (shown apart, with the backend)
        or_(OutgoingSms.error_code.is_(None), OutgoingSms.error_code != pauses.PAUSED_CODE),
    )
    sending = and_(
        OutgoingSms.status == SmsStatus.SENDING,
        OutgoingSms.claimed_at < now - STUCK_SENDING_AFTER,
    )
    review = OutgoingSms.status == SmsStatus.REVIEW
    row = db.session.execute(
        select(
            func.count(case((queued, 1))),
            func.min(case((queued, func.coalesce(OutgoingSms.send_after, OutgoingSms.created_at)))),
            func.count(case((sending, 1))),
            func.min(case((sending, OutgoingSms.claimed_at))),
            func.count(case((review, 1))),
        ).where(OutgoingSms.status.in_((SmsStatus.QUEUED, SmsStatus.SENDING, SmsStatus.REVIEW)))
    ).one()
    return StuckTexts(
        queued=row[0],
        oldest_queued=_aware(row[1]),
        sending=row[2],
        oldest_sending=_aware(row[3]),
        review=row[4],
    )


@dataclass(frozen=True)
class FeedLag:
    #: live feeds owing a rebuild
    stale: int
    #: of those, stale longer than the tick's REBUILD_OVERDUE_AFTER
    overdue: int
    #: how long the oldest has waited; None when every feed is current
    lag: timedelta | None
    #: live feeds never built yet
    never_built: int
    #: when a worker last finished a rebuild
    last_built: datetime | None
    #: changes not yet applied to the feeds (calendar.changes): which feeds they make
    #: stale is not known until a worker applies them
    changes: int = 0
    #: how long the oldest of those has waited
    changes_lag: timedelta | None = None


def feed_lag(now: datetime) -> FeedLag:
    """How far the calendar feeds are behind the events; one query over live feeds."""
    overdue = and_(Feed.stale_since.is_not(None), Feed.stale_since < now - REBUILD_OVERDUE_AFTER)
    row = db.session.execute(
        select(
            func.count(Feed.stale_since),
            func.count(case((overdue, 1))),
            func.min(Feed.stale_since),
            func.count(case((Feed.built_at.is_(None), 1))),
            func.max(Feed.built_at),
            select(func.count()).select_from(FeedChange).scalar_subquery(),
            select(func.min(FeedChange.created_at)).scalar_subquery(),
        ).where(Feed.revoked_at.is_(None))
    ).one()
    return FeedLag(
        stale=row[0],
        overdue=row[1],
        lag=_waited(now, row[2]),
        never_built=row[3],
        last_built=_aware(row[4]),
        changes=row[5],
        changes_lag=_waited(now, row[6]),
    )


@dataclass(frozen=True)
class RollupLag:
    #: roll-up keys marked owed a recompute (hours.marks)
    waiting: int
    #: how long the oldest has waited; None when every roll-up is current
    lag: timedelta | None


def rollup_lag(now: datetime) -> RollupLag:
    """How far the hour roll-ups are behind the records; one query."""
    count, oldest = db.session.execute(
        select(func.count(), func.min(RollupMark.marked_at)).select_from(RollupMark)
    ).one()
    return RollupLag(waiting=count, lag=_waited(now, oldest))


def _waited(now: datetime, since: datetime | str | None) -> timedelta | None:
    since = _aware(since)
    return max(now - since, timedelta(0)) if since is not None else None


def _aware(value: datetime | str | None) -> datetime | None:
    """An aggregate over a UTC column comes back without the column's type on SQLite."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Limits:
    queued: int
    sending: int
    feeds: int


def limits_in_minutes() -> Limits:
    """The limits behind "stuck" and "overdue", as the page states them."""
    return Limits(
        queued=STUCK_QUEUED_AFTER // timedelta(minutes=1),
        sending=STUCK_SENDING_AFTER // timedelta(minutes=1),
        feeds=REBUILD_OVERDUE_AFTER // timedelta(minutes=1),
    )


# The scheduler's tick -----------------------------------------------------------------


def record_tick(at: datetime, broker: dramatiq.Broker) -> None:
    """Note that a tick finished at ``at`` (where every web process can read it)."""
    if isinstance(broker, RedisBroker):
        broker.client.set(_tick_key(broker), at.isoformat())
    else:
        current_app.extensions[_TICK_EXTENSION] = at


def last_tick(broker: dramatiq.Broker) -> datetime | None:
    if isinstance(broker, RedisBroker):
        raw = broker.client.get(_tick_key(broker))
        return datetime.fromisoformat(raw.decode()) if raw else None
    return current_app.extensions.get(_TICK_EXTENSION)


def _tick_key(broker: RedisBroker) -> str:
    return f"{broker.namespace}:scheduler:last_tick"
