"""iCalendar bytes for feeds and one-event downloads: a pure function of plain data.

Nothing here touches the database, Flask or a request: workers load what a feed shows,
turn it into :class:`FeedEvent` values and call :func:`build_feed`; the web process
serves the stored bytes (ARCHITECTURE.md rule 5). The same input always gives the same
bytes, so a rebuild with no change keeps the ETag, and clients polling every few
minutes see nothing new:

- no clock and no random values: DTSTAMP and LAST-MODIFIED come from the event's last
  change, UIDs from the caller, and the calendar has no UID of its own;
- events are written in (start, UID) order whatever order they were loaded in.

What real clients need (../shared/tools/ical_conformance/REQUIREMENTS.md) and how it is
met: ``METHOD:PUBLISH``; ``X-WR-CALNAME``; ``REFRESH-INTERVAL;VALUE=DURATION`` and
``X-PUBLISHED-TTL`` as proper durations; one VTIMEZONE per zone used, Asia/Shanghai as a
single ``STANDARD +0800`` block (no 1986–91 RDATE lists, which Outlook misreads); every
time with a TZID, never floating; RRULE ``UNTIL`` in UTC; EXDATE and RECURRENCE-ID in the
series' zone; an override's SEQUENCE never below its master's; cancelled events kept
with ``STATUS:CANCELLED``. icalendar 7 writes CRLF and folds at 75 octets without
splitting a UTF-8 character.

Free text (titles, places, descriptions, categories, the calendar's name) has runs of
digits that could be a phone number masked (rule 8: a phone number never goes into a
feed body, and leaders do type them into descriptions), and control characters removed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    # icalendar is imported where a feed is built: processes that never build one (a
    # worker sending texts, most web requests) do not hold it (about 3 MB).
    from icalendar import Event, Timezone, vRecur

__all__ = [
    "DEFAULT_ZONE",
    "PRODID",
    "FeedEvent",
    "FeedInput",
    "Override",
    "Recurrence",
    "build_feed",
    "build_single_event",
    "mask_phone_like",
]

DEFAULT_ZONE = "Asia/Shanghai"
PRODID = "-//volunteer-hub//Volunteer Hub calendar feed//ZH"
#: put in front of a cancelled event's title, for the clients that show
#: STATUS:CANCELLED like any other event (Outlook's subscribed calendars)
CANCELLED_PREFIX = "【已取消】"
#: the observances of each VTIMEZONE start here; China has kept +0800 without DST since
#: 1991, so Asia/Shanghai comes out as one STANDARD block
_ZONE_FIRST_DATE = date(2000, 1, 1)

# Same rule as the SMS replies (sms/replies.py): 7 or more digits, possibly split by
# single spaces or dashes ("138 0013 8000", "027-8888888"), ASCII or full-width. The
# first alternative keeps ISO dates such as "2026-07-01" (and the hour that may follow
# them) from being taken for a phone number: the regex tries it first at each position,
# and a match of it is written back unchanged.
_PHONE_OR_DATE = re.compile(
    r"(?P<date>(?:19|20)[0-9]{2}-[01]?[0-9]-[0-3]?[0-9](?![0-9]))"
    r"|[0-9０-９](?:[ \t\-－]?[0-9０-９]){6,}"
)
_SEPARATORS = re.compile(r"[ \t\-－]")
_SPACE = re.compile(r"\s")
# C0 controls and DEL are not allowed in TEXT values (RFC 5545 3.3.11) and some parsers
# reject the feed over them; a tab becomes a space, the Unicode line and paragraph
# separators become line breaks, and CR was turned into LF before.
_CONTROL = {c: None for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F)}
_CONTROL |= {0x09: " ", 0x0D: "\n", 0x2028: "\n", 0x2029: "\n"}


def mask_phone_like(text: str) -> str:
    """``text`` with anything that could be a phone number masked ("138****8000")."""

    def mask(match: re.Match[str]) -> str:
        if match.group("date"):
            return match.group()
        digits = _SEPARATORS.sub("", match.group())
        return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 11 else "****"

    return _PHONE_OR_DATE.sub(mask, text)


def _clean(text: str) -> str:
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return mask_phone_like(text.translate(_CONTROL)).strip()


# ----------------------------------------------------------------------------- input


@dataclass(frozen=True, slots=True, kw_only=True)
class Override:
    """One occurrence of a series that differs from the rule: a moved week.

    ``recurrence_id`` is the start the rule gave the occurrence (``Shift.series_starts_at``);
    it must be an occurrence of the rule, or clients show both. Fields left at None take
    the series' value.
    """

    recurrence_id: datetime
    starts_at: datetime
    ends_at: datetime
    title: str | None = None
    description: str | None = None
    location: str | None = None
    cancelled: bool = False
    #: raised to the series' sequence if lower (clients ignore an override below it)
    sequence: int | None = None
    last_modified: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Recurrence:
    """How a series repeats: an RFC 5545 rule, the weeks skipped and the weeks moved.

    ``rule`` is an RRULE value such as ``"FREQ=WEEKLY;UNTIL=20260930T160000Z"`` or
    ``"FREQ=WEEKLY;COUNT=12"`` (what ``Event.recurrence_rule`` stores). An UNTIL that is
    not in UTC is read in the series' zone and written in UTC, as RFC 5545 requires for a
    zoned DTSTART. ``excluded`` are the starts the rule gives to occurrences that do not
    take place (EXDATE), aware datetimes in any zone.
    """

    rule: str
    excluded: Sequence[datetime] = ()
    overrides: Sequence[Override] = ()

    @classmethod
    def weekly(
        cls,
        *,
        until: datetime | None = None,
        count: int | None = None,
        interval: int = 1,
        excluded: Sequence[datetime] = (),
        overrides: Sequence[Override] = (),
    ) -> Recurrence:
        """A weekly series on DTSTART's weekday, ending at ``until`` or after ``count``."""
        if until is not None and count is not None:
            raise ValueError("a rule ends at UNTIL or after COUNT, not both")
        parts = ["FREQ=WEEKLY"]
        if interval != 1:
            parts.append(f"INTERVAL={int(interval)}")
        if until is not None:
            if until.tzinfo is None:
                raise ValueError("until must be timezone-aware")
            parts.append(f"UNTIL={until.astimezone(UTC):%Y%m%dT%H%M%SZ}")
        if count is not None:
            parts.append(f"COUNT={int(count)}")
        return cls(rule=";".join(parts), excluded=excluded, overrides=overrides)


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedEvent:
    """One VEVENT (a series' master when ``recurrence`` is set).

    Times are aware (UTC in the database); they are written in ``zone`` (None: the
    feed's zone). ``uid`` is chosen by the caller and must stay the same for the life of
    the event ("shift-41@volunteer-hub"); ``sequence`` is the event's revision and
    ``last_modified`` its last change, which also gives DTSTAMP.
    """

    uid: str
    title: str
    starts_at: datetime
    ends_at: datetime
    last_modified: datetime
    sequence: int = 0
    description: str = ""
    #: the place ("东港社区党群服务中心"); ``address`` follows it in LOCATION
    location: str = ""
    address: str = ""
    #: the event's page; also appended to DESCRIPTION, since Google shows no URL property
    url: str | None = None
    cancelled: bool = False
    categories: Sequence[str] = ()
    recurrence: Recurrence | None = None
    zone: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedInput:
    """A whole calendar: its name and description as clients show them, and its events."""

    name: str
    events: Iterable[FeedEvent] = ()
    description: str = ""
    refresh_interval: timedelta = field(default=timedelta(hours=1))
    zone: str = DEFAULT_ZONE


# ---------------------------------------------------------------------------- output


def build_feed(feed: FeedInput) -> bytes:
    """The feed as iCalendar bytes (UTF-8, CRLF, folded), the same for the same input.

    Raises ValueError on input no client could use: naive datetimes, an end before its
    start, a UID used twice, a malformed rule, an override on an excluded occurrence.
    """
    if feed.refresh_interval <= timedelta(0):
        raise ValueError("refresh_interval must be positive")
    from icalendar import Calendar, vDuration

    cal = Calendar()
    cal.add("PRODID", PRODID)
    cal.add("VERSION", "2.0")
    cal.add("CALSCALE", "GREGORIAN")
    cal.add("METHOD", "PUBLISH")
    cal.add("X-WR-CALNAME", _clean(feed.name))
    if feed.description:
        cal.add("X-WR-CALDESC", _clean(feed.description))
    cal.add("X-WR-TIMEZONE", feed.zone)
    # icalendar's refresh_interval property leaves out VALUE=DURATION, and a bare
    # timedelta would be written as "1:00:00": both built by hand here
    refresh = vDuration(feed.refresh_interval)
    cal.add("REFRESH-INTERVAL", refresh, parameters={"VALUE": "DURATION"})
    cal.add("X-PUBLISHED-TTL", vDuration(feed.refresh_interval))

    events = sorted(feed.events, key=_order)
    zones = {feed.zone} | {e.zone for e in events if e.zone}
    # VTIMEZONEs first, the feed's own zone before any other, so that parsers meet each
    # TZID's definition before its use; an empty feed still has one component
    for name in sorted(zones, key=lambda z: (z != feed.zone, z)):
        try:
            cal.add_component(_vtimezone(name))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r}") from exc

    seen: set[str] = set()
    for event in events:
        if event.uid in seen:
            raise ValueError(f"UID {event.uid!r} appears twice in the feed")
        seen.add(event.uid)
        for component in _vevents(event, ZoneInfo(event.zone or feed.zone)):
            cal.add_component(component)
    return cal.to_ical()


def build_single_event(event: FeedEvent, calendar_name: str) -> bytes:
    """A one-event .ics for download ("add to my calendar"), shaped like a feed."""
    zone = event.zone or DEFAULT_ZONE
    return build_feed(FeedInput(name=calendar_name, events=(event,), zone=zone))


def _order(event: FeedEvent) -> tuple[datetime, str]:
    return (_aware(event.starts_at, "starts_at"), event.uid)


@lru_cache(maxsize=8)
def _vtimezone(name: str) -> Timezone:
    # Computing a VTIMEZONE walks the zone's history (milliseconds); built once per zone.
    # The component is only read afterwards, so sharing it between calendars is safe.
    from icalendar import Timezone

    vtz = Timezone.from_tzinfo(ZoneInfo(name), tzid=name, first_date=_ZONE_FIRST_DATE)
    # its "only works from 2000 to 2038" COMMENT is true of zones with DST rules only,
    # and Asia/Shanghai has none: left out rather than shown to people reading the file
    vtz.pop("COMMENT", None)
    return vtz


def _aware(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, got {value!r}")
    return value


def _utc(value: datetime, what: str) -> datetime:
    return _aware(value, what).astimezone(UTC)


def _span(starts_at: datetime, ends_at: datetime, zone: tzinfo, uid: str) -> tuple:
    start = _aware(starts_at, "starts_at").astimezone(zone)
    end = _aware(ends_at, "ends_at").astimezone(zone)
    if end < start:
        raise ValueError(f"{uid}: ends_at {ends_at} is before starts_at {starts_at}")
    return start, end


def _location(place: str, address: str) -> str:
    place, address = place.strip(), address.strip()
    if place and address and address not in place:
        return f"{place}，{address}"
    return place or address


def _description(text: str, url: str | None) -> str:
    text = _clean(text)
    if url:
        return f"{text}\n\n详情：{url}" if text else f"详情：{url}"
    return text


def _title(title: str, cancelled: bool) -> str:
    title = _clean(title) or "活动"
    if cancelled and not title.startswith(CANCELLED_PREFIX):
        return CANCELLED_PREFIX + title
    return title


def _vevents(event: FeedEvent, zone: ZoneInfo) -> list[Event]:
    uid = event.uid
    if not uid or not uid.isascii() or _SPACE.search(uid):
        raise ValueError(f"UID {uid!r}: use a short ASCII identifier without spaces")
    if event.sequence < 0:
        raise ValueError(f"{uid}: sequence must not be negative")
    start, end = _span(event.starts_at, event.ends_at, zone, uid)
    master = _Entry(
        uid=uid,
        stamp=_utc(event.last_modified, "last_modified"),
        sequence=event.sequence,
        start=start,
        end=end,
        title=event.title,
        description=_description(event.description, event.url),
        location=_clean(_location(event.location, event.address)),
        url=event.url,
        categories=tuple(c for c in (_clean(c) for c in event.categories) if c),
        cancelled=event.cancelled,
    )
    component = master.component()
    if event.recurrence is None:
        return [component]

    recurrence = event.recurrence
    component.add("RRULE", _rule(recurrence.rule, zone, uid))
    excluded = sorted({_aware(d, "excluded").astimezone(zone) for d in recurrence.excluded})
    for day in excluded:
        # one EXDATE line each, in DTSTART's zone and value type (Google and Android
        # ignore a UTC EXDATE on a zoned series)
        component.add("EXDATE", [day])

    components = [component]
    moved: set[datetime] = set()
    for override in sorted(
        recurrence.overrides, key=lambda o: _utc(o.recurrence_id, "recurrence_id")
    ):
        rid = _aware(override.recurrence_id, "recurrence_id").astimezone(zone)
        if rid in moved:
            raise ValueError(f"{uid}: two overrides of the occurrence {rid}")
        if rid in excluded:
            raise ValueError(f"{uid}: the occurrence {rid} is both excluded and overridden")
        moved.add(rid)
        components.append(_occurrence(master, override, rid, zone).component())
    return components


@dataclass(frozen=True, slots=True, kw_only=True)
class _Entry:
    """What one VEVENT says, cleaned and in its zone: a series' master or an occurrence
    (``recurrence_id`` set) that overrides it."""

    uid: str
    stamp: datetime
    sequence: int
    start: datetime
    end: datetime
    title: str
    description: str
    location: str
    url: str | None
    categories: tuple[str, ...]
    cancelled: bool
    recurrence_id: datetime | None = None

    def component(self) -> Event:
        from icalendar import Event

        vevent = Event()
        vevent.add("UID", self.uid)
        if self.recurrence_id is not None:
            vevent.add("RECURRENCE-ID", self.recurrence_id)
        vevent.add("DTSTAMP", self.stamp)
        vevent.add("LAST-MODIFIED", self.stamp)
        vevent.add("SEQUENCE", self.sequence)
        vevent.add("DTSTART", self.start)
        vevent.add("DTEND", self.end)
        vevent.add("SUMMARY", _title(self.title, self.cancelled))
        if self.description:
            vevent.add("DESCRIPTION", self.description)
        if self.location:
            vevent.add("LOCATION", self.location)
        if self.url:
            vevent.add("URL", self.url)
        if self.categories:
            vevent.add("CATEGORIES", list(self.categories))
        vevent.add("STATUS", "CANCELLED" if self.cancelled else "CONFIRMED")
        return vevent


def _occurrence(master: _Entry, override: Override, rid: datetime, zone: ZoneInfo) -> _Entry:
    """The master with what ``override`` changes; its stamp and sequence never below the
    master's (clients ignore an override older than its series)."""
    start, end = _span(override.starts_at, override.ends_at, zone, master.uid)
    stamp = master.stamp
    if override.last_modified is not None:
        stamp = max(stamp, _utc(override.last_modified, "last_modified"))
    description = master.description
    if override.description is not None:
        description = _description(override.description, master.url)
    return replace(
        master,
        recurrence_id=rid,
        stamp=stamp,
        sequence=max(master.sequence, override.sequence or 0),
        start=start,
        end=end,
        title=master.title if override.title is None else override.title,
        description=description,
        location=master.location if override.location is None else _clean(override.location),
        cancelled=master.cancelled or override.cancelled,
    )


def _rule(text: str, zone: ZoneInfo, uid: str) -> vRecur:
    from icalendar import vRecur

    try:
        rule = vRecur.from_ical(text.strip().removeprefix("RRULE:"))
    except ValueError as exc:
        raise ValueError(f"{uid}: bad recurrence rule {text!r}: {exc}") from exc
    if not rule.get("FREQ"):
        raise ValueError(f"{uid}: recurrence rule {text!r} has no FREQ")
    if rule.get("UNTIL") and rule.get("COUNT"):
        raise ValueError(f"{uid}: recurrence rule {text!r} has both UNTIL and COUNT")
    if rule.get("UNTIL"):
        rule["UNTIL"] = [_until_utc(until, zone) for until in rule["UNTIL"]]
    return rule


def _until_utc(until: date | datetime, zone: ZoneInfo) -> datetime:
    """UNTIL in UTC, as RFC 5545 3.3.10 requires when DTSTART has a TZID."""
    if not isinstance(until, datetime):
        # a date: the last day on which the series may still occur, read in its zone
        until = datetime.combine(until, time(23, 59, 59))
    if until.tzinfo is None:
        until = until.replace(tzinfo=zone)
    return until.astimezone(UTC)
