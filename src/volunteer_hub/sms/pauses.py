"""A provider that cannot send anything (empty balance, arrears, the account's daily
quota) pauses its backend: no text goes through it until an operator resumes it on /ops.

The pause is kept where every worker process sees it: in Redis beside the broker when
there is one, in the app otherwise (embedded mode is one process). One record per
backend: when it began, the provider's code and words. Texts wait in the outbox,
"queued" and marked ``provider-paused``; none is failed or lost, and resuming sends
actors for them at once.

A pause is set only by what the provider answered (``sms.services.deliver`` on
``ProviderPaused``) and lifted by a person (``resume``), logged with who did it: a
provider that is still empty simply pauses the backend again on the next text. A pause
for the account's own daily or monthly quota also ends by itself: the provider resets
the quota at midnight Beijing time, and the first scheduler tick after that resumes the
backend (``resume_reset_quotas``), so a call-out at half past midnight is not held until
someone opens /ops.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta, timezone

from dramatiq.brokers.redis import RedisBroker
from flask import current_app
from sqlalchemy import select, update

from volunteer_hub import after_commit
from volunteer_hub import broker as broker_state
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.sms.models import OutgoingSms

log = logging.getLogger(__name__)

#: the error code of a text waiting for its backend to be resumed
PAUSED_CODE = "provider-paused"
#: the providers' clock: Aliyun and Tencent reset an account's quotas at its midnight
PROVIDER_CLOCK = timezone(timedelta(hours=8), "Asia/Shanghai")
_EXTENSION = "volunteer_hub.sms_pauses"
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Pause:
    backend: str
    since: datetime
    #: the provider's error code (isv.AMOUNT_NOT_ENOUGH, FailedOperation.Insufficient…)
    code: str | None
    #: the provider's words, as the backend put them
    reason: str
    #: when the provider resets the quota that stopped the account (the tick resumes
    #: the backend then); None: a person must resume it
    until: datetime | None = None

    def to_json(self) -> str:
        times = {"since": self.since.isoformat(), "until": _iso(self.until)}
        return json.dumps({**asdict(self), **times}, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: bytes | str) -> Pause:
        fields = json.loads(raw)
        until = fields.get("until")  # a pause written before quotas reset by themselves has none
        return cls(
            **{
                **fields,
                "since": datetime.fromisoformat(fields["since"]),
                "until": datetime.fromisoformat(until) if until else None,
            }
        )


def pause(
    backend: str, *, code: str | None, reason: str, at: datetime, resets: str | None = None
) -> bool:
    """Pause ``backend``; True if it was sending until now. A pause already in place is
    kept as it is: its start is when sending stopped. ``resets``: "day" or "month" when
    the account's own quota stopped it (``ProviderPaused.resets``), which ends the pause
    at the provider's next midnight or first of the month."""
    until = quota_reset_after(at, resets) if resets else None
    record = Pause(backend, at, code, reason[:300], until)
    redis = _redis()
    if redis is not None:
        started = bool(redis.set(_key(backend), record.to_json(), nx=True))
    else:
        with _LOCK:
            pauses = current_app.extensions.setdefault(_EXTENSION, {})
            started = backend not in pauses
            pauses.setdefault(backend, record)
    if started:
        log.error("sms backend %s paused: %s (%s); texts wait until resumed", backend, code, reason)
    return started


def current(backend: str) -> Pause | None:
    """The pause of ``backend``, None while it sends."""
    redis = _redis()
    if redis is not None:
        raw = redis.get(_key(backend))
        return Pause.from_json(raw) if raw else None
    return current_app.extensions.get(_EXTENSION, {}).get(backend)


def lift(backend: str) -> Pause | None:
    """Remove the pause of ``backend``; the pause there was, or None. ``resume`` also
    sends the waiting texts."""
    redis = _redis()
    if redis is not None:
        raw = redis.getdel(_key(backend))
        return Pause.from_json(raw) if raw else None
    with _LOCK:
        return current_app.extensions.get(_EXTENSION, {}).pop(backend, None)


def lift_all() -> None:
    """Remove every backend's pause, sending nothing (tests start from here)."""
    redis = _redis()
    if redis is not None:
        for key in redis.scan_iter(_key("*")):
            redis.delete(key)
    else:
        with _LOCK:
            current_app.extensions.pop(_EXTENSION, None)


def some_backend_paused() -> bool:
    """Whether a backend in use (SMS_BACKEND, SMS_ROUTES) is paused; False when the
    pauses cannot be read (Redis away: nothing can be sent to the queue either)."""
    from volunteer_hub.sms.backends import backends_in_use

    try:
        return any(current(name) for name in backends_in_use(current_app.config))
    except Exception:
        log.warning("sms: cannot read the backends' pauses", exc_info=True)
        return False


def resume(backend: str, *, by: str, now: datetime | None = None):
    """An operator has topped up the account: lift ``backend``'s pause and send actors
    (after commit) for every due text that waited for it. Returns (the pause lifted,
    texts sent again), or None when the backend was not paused. ``by``: who resumed it
    ("person 12 on /ops", "flask sms resume"), logged with the pause it ended: there is
    no audit table for this, the log is the record. The caller commits."""
    from volunteer_hub.sms.backends import backend_for
    from volunteer_hub.sms.services import claimable
    from volunteer_hub.sms.tasks import send_sms

    now = now or utcnow()
    lifted = lift(backend)
    if lifted is None:
        return None
    # the rows marked while paused, and those the provider's own answer left its code on
    codes = [PAUSED_CODE, (lifted.code or "")[: OutgoingSms.error_code.type.length]]
    waiting = db.session.execute(
        select(OutgoingSms.id, OutgoingSms.to_phone).where(
            claimable(now), OutgoingSms.error_code.in_(codes)
        )
    )
    config = current_app.config
    ids = [id_ for id_, phone in waiting if backend_for(config, phone) == backend]
    # No longer waiting for anyone: plain queued texts again, for /ops and the sweep.
    db.session.execute(
        update(OutgoingSms)
        .where(OutgoingSms.id.in_(ids), OutgoingSms.error_code == PAUSED_CODE)
        .values(error_code=None, error_message=None)
        .execution_options(synchronize_session=False)
    )
    for outgoing_id in ids:
        after_commit.enqueue(send_sms.send, outgoing_id)
    log.warning(
        "sms backend %s resumed by %s (paused since %s: %s); %d texts sent again",
        backend,
        by,
        lifted.since.isoformat(),
        lifted.code,
        len(ids),
    )
    return lifted, len(ids)


def quota_reset_after(at: datetime, period: str) -> datetime:
    """The provider's next midnight ("day") or first of the month ("month") after
    ``at``, in UTC."""
    local = at.astimezone(PROVIDER_CLOCK)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "month":
        reset = (midnight.replace(day=1) + timedelta(days=32)).replace(day=1)
    elif period == "day":
        reset = midnight + timedelta(days=1)
    else:
        raise ValueError(f"unknown quota period {period!r}")
    return reset.astimezone(UTC)


def resume_reset_quotas(now: datetime) -> list[str]:
    """Resume every backend in use whose quota pause has reached the provider's reset
    (``resume``: its waiting texts are sent after commit). The backends resumed. The
    caller commits."""
    from volunteer_hub.sms.backends import backends_in_use

    resumed = []
    for backend in sorted(backends_in_use(current_app.config)):
        try:
            paused = current(backend)
        except Exception:  # Redis away: nothing can be queued either; the next tick will
            log.warning("sms: cannot read %s's pause", backend, exc_info=True)
            continue
        if paused is None or paused.until is None or paused.until > now:
            continue
        if resume(backend, by=f"the provider's quota reset at {paused.until.isoformat()}"):
            resumed.append(backend)
    return resumed


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _redis():
    broker = broker_state.state().broker
    return broker.client if isinstance(broker, RedisBroker) else None


def _key(backend: str) -> str:
    return f"{current_app.config['DRAMATIQ_NAMESPACE']}:sms:paused:{backend}"
