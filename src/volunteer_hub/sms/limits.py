"""Per-recipient caps: how many texts one number gets in an hour and in a day.

Mainland providers refuse a number's texts past their own per-number flow control (by
default a handful an hour and about ten a day, set in their console). We stop short of
that ourselves, so a text is held rather than refused: SMS_RECIPIENT_HOURLY_CAP texts in
any 60 minutes and SMS_RECIPIENT_DAILY_CAP texts on one local day (the providers count
calendar days in Beijing time), 0 switching either off.

- **Counted**: every text to the number a provider has, or may have, taken: claimed for
  the hand-over and not since put back (sending, sent, delivered, undelivered, review),
  by the time it was claimed. Login and verification codes are not counted: providers
  meter them apart, and LOGIN_CODE_RATE_LIMIT already limits them per phone.
- **Never held**: urgent texts (flood duty, rescue call-outs), login and verification
  codes (useless once late) and the opt-out confirmation (owed at once). Urgent texts
  still count towards the caps of the texts after them.
- **Held**: any other text over a cap waits until the window frees (the oldest text of
  the hour turns an hour old, or the next local day begins). A text whose ``expires_at``
  comes first is finished as failed with the code ``recipient-cap``, never dropped
  silently.

Two workers screening texts to one number at the same instant may both see room for one
more; that overshoots a cap by at most one text per concurrent worker, rarely, and the
provider's own limit still stands behind ours.

The local day is the same one ``sms.broadcast.at_daily_cap`` counts call-outs by
(``local_day``): one definition of "a day" for every texting limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import select

from volunteer_hub.extensions import db
from volunteer_hub.sms.models import OutgoingSms, SmsKind, SmsStatus

#: the error code of a text held by a cap, and of one that expired while held
CAP_CODE = "recipient-cap"
HOUR = timedelta(hours=1)
#: statuses of a text the provider has or may have: what its flow control counts
HANDED_OVER = (
    SmsStatus.SENDING,
    SmsStatus.SENT,
    SmsStatus.DELIVERED,
    SmsStatus.UNDELIVERED,
    SmsStatus.REVIEW,
)
#: kinds the caps never hold
EXEMPT_KINDS = frozenset({SmsKind.LOGIN_CODE, SmsKind.OPT_OUT_CONFIRMATION})


def local_day(at: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """The local day ``at`` falls on, as [start, end) in UTC."""
    day = at.astimezone(zone).date()
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


@dataclass(frozen=True)
class Caps:
    hourly: int
    daily: int

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Caps:
        return cls(
            hourly=int(config.get("SMS_RECIPIENT_HOURLY_CAP") or 0),
            daily=int(config.get("SMS_RECIPIENT_DAILY_CAP") or 0),
        )

    @property
    def off(self) -> bool:
        return not self.hourly and not self.daily


def exempt(row: OutgoingSms) -> bool:
    """Whether the caps never hold this text."""
    return bool(row.is_urgent) or SmsKind(row.kind) in EXEMPT_KINDS


def capped_until(
    caps: Caps, to_phone: str, now: datetime, zone: tzinfo, *, leave_out: int | None = None
) -> datetime | None:
    """When the next text to ``to_phone`` may go out under ``caps``: None if now, else
    the moment a window frees (the caller screens again then). ``leave_out``: the row
    being screened, whose own claim is not one of the texts before it. One query."""
    if caps.off:
        return None
    day_start, day_end = local_day(now, zone)
    since = min(day_start, now - HOUR) if caps.daily else now - HOUR
    claimed = select(OutgoingSms.claimed_at).where(
        OutgoingSms.to_phone == to_phone,
        OutgoingSms.claimed_at >= since,
        OutgoingSms.status.in_(HANDED_OVER),
        OutgoingSms.kind != SmsKind.LOGIN_CODE,
    )
    if leave_out is not None:
        claimed = claimed.where(OutgoingSms.id != leave_out)
    times = sorted(_aware(at) for at in db.session.scalars(claimed))
    until = None
    if caps.daily and sum(1 for at in times if at >= day_start) >= caps.daily:
        until = day_end
    in_hour = [at for at in times if at > now - HOUR]
    if caps.hourly and len(in_hour) >= caps.hourly:
        # Below the cap once all but cap - 1 of them are an hour old.
        frees = in_hour[len(in_hour) - caps.hourly] + HOUR
        until = max(until, frees) if until else frees
    return until


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
