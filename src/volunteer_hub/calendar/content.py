"""What a calendar feed shows, and the entries it is made of.

A person feed shows the shifts the person is on (and, for CANCELLED_KEPT, those the
organizer called off under them); a team feed the events of the team, a unit feed those
of every team in the unit's subtree, each published or cancelled within CANCELLED_KEPT,
and each through the feed's category filter. :func:`build_body` turns that into bytes
with :mod:`ics`; the one-event downloads (:func:`single_event_ics`,
:func:`single_shift_ics`) use the very entries the feeds have. Creating feeds, their
stale marks and storing built bodies are in :mod:`volunteer_hub.calendar.services`.

What a feed shows is loaded in a fixed number of queries whatever the number of events
(columns, not ORM objects: a city's feed has thousands of rows). The body is a pure
function of the data: no clock in it, so a rebuild with nothing changed gives the same
bytes, the same ETag, and keeps ``body_changed_at`` (Last-Modified).

Links inside bodies (the event page, UIDs) use :func:`feed_origin`: PUBLIC_BASE_URL,
else ``PREFERRED_URL_SCHEME://SERVER_NAME``, else ``http://localhost`` (with a warning).
Never the requesting host: a body built by a request and one built by a worker must
be the same bytes, and UIDs must not change with the name a client used.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import Select, and_, func, or_, select

from volunteer_hub.calendar import ics
from volunteer_hub.calendar.models import Feed, FeedScope
from volunteer_hub.db import utcnow
from volunteer_hub.errors import NotFound
from volunteer_hub.events.models import Category, Event, EventStatus, Shift
from volunteer_hub.extensions import db
from volunteer_hub.i18n import to_local
from volunteer_hub.people.models import Person
from volunteer_hub.signups.models import ACTIVE_STATUSES, Signup, SignupStatus
from volunteer_hub.teams.models import Team
from volunteer_hub.units.models import Unit
from volunteer_hub.units.services import subtree_condition

log = logging.getLogger(__name__)

#: cancelled events stay in team and unit feeds this long, as STATUS:CANCELLED
CANCELLED_KEPT = timedelta(days=30)
#: events that ended longer ago than this are left out (feeds would grow for ever)
HISTORY_KEPT = timedelta(days=90)
#: what clients are told about polling (REFRESH-INTERVAL, X-PUBLISHED-TTL)
REFRESH_INTERVAL = timedelta(hours=1)


# URLs ------------------------------------------------------------------------------------


def feed_origin() -> str:
    """The origin written into feed bodies (links, UID host); see the module docstring."""
    config = current_app.config
    if config.get("PUBLIC_BASE_URL"):
        return config["PUBLIC_BASE_URL"].rstrip("/")
    if config.get("SERVER_NAME"):
        return f"{config.get('PREFERRED_URL_SCHEME') or 'http'}://{config['SERVER_NAME']}"
    if not config.get("_FEED_ORIGIN_WARNED"):
        config["_FEED_ORIGIN_WARNED"] = True
        log.warning("PUBLIC_BASE_URL is not set: feed bodies link to http://localhost")
    return "http://localhost"


@dataclass(frozen=True)
class _Links:
    origin: str
    host: str

    @classmethod
    def current(cls) -> _Links:
        origin = feed_origin()
        return cls(origin=origin, host=urlsplit(origin).hostname or "localhost")

    def event_uid(self, event_id: int) -> str:
        return f"event-{event_id}@{self.host}"

    def shift_uid(self, shift_id: int) -> str:
        return f"shift-{shift_id}@{self.host}"

    def event_page(self, event_id: int) -> str:
        return f"{self.origin}/events/{event_id}"

    def my_page(self) -> str:
        return f"{self.origin}/me"


def _body_locale():
    # Bodies are shared by every subscriber and built by workers: the site's language,
    # never a requester's.
    return force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE") or "zh")


# A feed's body ---------------------------------------------------------------------------


def build_body(feed_id: int, now: datetime | None = None) -> bytes:
    """The iCalendar bytes of a feed as the data stands (revoked or not)."""
    now = now or utcnow()
    feed = db.session.get(Feed, feed_id)
    if feed is None:
        raise NotFound(_("日历订阅不存在"))
    category_ids = [c.id for c in feed.categories]
    with _body_locale():
        links = _Links.current()
        if feed.scope == FeedScope.PERSON:
            name = db.session.scalar(select(Person.name).where(Person.id == feed.person_id))
            events = person_events(feed.person_id, category_ids, now, links)
            title = _("%(name)s的志愿服务班次", name=name or "")
        else:
            if feed.scope == FeedScope.TEAM:
                name = db.session.scalar(select(Team.name).where(Team.id == feed.team_id))
                scope_filter = Event.team_id == feed.team_id
            else:
                unit = db.session.execute(
                    select(Unit.name, Unit.path).where(Unit.id == feed.unit_id)
                ).one()
                name = unit.name
                scope_filter = Event.team_id.in_(
                    select(Team.id).where(
                        Team.unit_id.in_(select(Unit.id).where(subtree_condition(unit.path)))
                    )
                )
            events = team_events(scope_filter, category_ids, now, links)
            title = _("%(name)s志愿服务活动", name=name or "")
        if feed.categories:
            title += "（" + "、".join(_(c.name) for c in feed.categories) + "）"
        return ics.build_feed(
            ics.FeedInput(
                name=title,
                events=events,
                description=_("退役军人志愿服务"),
                refresh_interval=REFRESH_INTERVAL,
                zone=current_app.config.get("TIMEZONE") or ics.DEFAULT_ZONE,
            )
        )


# A person's shifts -----------------------------------------------------------------------


def shown_in_person_feeds(now: datetime):
    """SQL condition on Signup: the signups whose shifts a person feed shows. Active
    signups, and those that ended with their shift (the organizer called it off; the
    person did not choose to leave) for CANCELLED_KEPT: a volunteer's calendar then
    shows the shift as cancelled instead of losing it without a word."""
    return or_(
        Signup.status.in_(ACTIVE_STATUSES),
        and_(Signup.cancelled_with_shift.is_(True), Signup.cancelled_at > now - CANCELLED_KEPT),
    )


def _shift_rows() -> Select:
    """Shifts with what their entries show of the event, its category and team."""
    query = (
        select(
            Shift.id.label("shift_id"),
            Shift.title.label("shift_title"),
            Shift.starts_at,
            Shift.ends_at,
            Shift.code,
            Shift.is_cancelled,
            Shift.revision,
            Shift.changed_at,
            Event.title,
            Event.description,
            Event.location,
            Event.status.label("event_status"),
        )
        .select_from(Shift)
        .join(Event, Event.id == Shift.event_id)
    )
    return _with_names(query)


def _with_names(query: Select) -> Select:
    """``query`` (joined to Event) with the names every entry shows besides the event's:
    its category's and its team's (columns ``category`` and ``team``)."""
    return (
        query.add_columns(Category.name.label("category"), Team.name.label("team"))
        .join(Category, Category.id == Event.category_id)
        .join(Team, Team.id == Event.team_id)
    )


def shift_entry(
    row, links: _Links, signup_status: SignupStatus | None, last_modified: datetime
) -> ics.FeedEvent:
    """A shift's entry (a row of :func:`_shift_rows`), the same UID wherever it appears:
    in the person feed of someone with ``signup_status`` on it, or downloaded on its own
    (``signup_status`` None). In a person feed the entry is cancelled with the person's
    signup; on its own, with the shift or its event."""
    if signup_status is None:
        lines = [_("短信编号：%(code)s", code=row.code)]
        cancelled = row.is_cancelled or row.event_status == EventStatus.CANCELLED
    elif signup_status == SignupStatus.CANCELLED:  # its code is freed: no use texting it
        lines = [_("报名状态：组织方已取消此班次")]
        cancelled = True
    else:
        confirmed = signup_status == SignupStatus.CONFIRMED
        status = _("报名状态：已确认") if confirmed else _("报名状态：候补")
        lines = [status, _("短信编号：%(code)s", code=row.code)]
        cancelled = False
    lines.append(_("服务队：%(team)s", team=row.team))
    if row.description:
        lines += ["", row.description]
    return ics.FeedEvent(
        uid=links.shift_uid(row.shift_id),
        title=row.title + (f" · {row.shift_title}" if row.shift_title else ""),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        last_modified=last_modified,
        sequence=row.revision,
        description="\n".join(lines),
        location=row.location,
        url=links.my_page(),
        cancelled=cancelled,
        categories=(_(row.category),),
    )


def person_events(
    person_id: int, category_ids: Sequence[int], now: datetime, links: _Links | None = None
) -> list[ics.FeedEvent]:
    """One VEVENT per shift the person is confirmed or waitlisted on, and per shift called
    off under them in the last CANCELLED_KEPT, marked cancelled (one query)."""
    links = links or _Links.current()
    query = (
        _shift_rows()
        .add_columns(
            Signup.status.label("signup_status"),
            Signup.created_at.label("signed_at"),
            Signup.confirmed_at,
            Signup.cancelled_at,
        )
        .join(Signup, Signup.shift_id == Shift.id)
        .where(
            Signup.person_id == person_id,
            shown_in_person_feeds(now),
            Shift.ends_at > now - HISTORY_KEPT,
        )
    )
    if category_ids:
        query = query.where(Event.category_id.in_(category_ids))
    out = []
    for row in db.session.execute(query):
        # The signup's own changes (a seat from the waitlist) are changes of this entry.
        stamps = (row.changed_at, row.signed_at, row.confirmed_at, row.cancelled_at)
        changed = max(d for d in stamps if d)
        out.append(shift_entry(row, links, row.signup_status, changed))
    return out


# The events of teams ---------------------------------------------------------------------


def team_events(
    scope_filter, category_ids: Sequence[int], now: datetime | None, links: _Links | None = None
) -> list[ics.FeedEvent]:
    """One VEVENT (or one series) per published event, and per event cancelled within
    CANCELLED_KEPT, of the teams ``scope_filter`` selects; three queries in all."""
    links = links or _Links.current()
    event_ids = _team_event_ids(scope_filter, category_ids, now)
    columns = (
        Event.id,
        Event.title,
        Event.description,
        Event.location,
        Event.starts_at,
        Event.ends_at,
        Event.status,
        Event.revision,
        Event.updated_at,
        Event.recurrence_rule,
    )
    rows = db.session.execute(_with_names(select(*columns)).where(Event.id.in_(event_ids))).all()
    shifts_by_event = _shifts_by_event(event_ids)
    signup_changes = _signup_changes(event_ids)
    texts = _description_texts()
    category_names: dict[str, str] = {}
    out = []
    for row in rows:
        shifts = shifts_by_event.get(row.id, [])
        changed = max(row.updated_at, signup_changes.get(row.id, row.updated_at))
        if row.category not in category_names:
            category_names[row.category] = _(row.category)
        common = dict(
            uid=links.event_uid(row.id),
            title=row.title,
            last_modified=changed,
            sequence=row.revision,
            description=_event_description(row, shifts, texts),
            location=row.location,
            url=links.event_page(row.id),
            cancelled=row.status == EventStatus.CANCELLED,
            categories=(category_names[row.category],),
        )
        series = _series(row, shifts) if row.recurrence_rule else None
        if series is not None:
            starts_at, ends_at, recurrence = series
            out.append(
                ics.FeedEvent(starts_at=starts_at, ends_at=ends_at, recurrence=recurrence, **common)
            )
        else:
            out.append(ics.FeedEvent(starts_at=row.starts_at, ends_at=row.ends_at, **common))
    return out


def _team_event_ids(scope_filter, category_ids: Sequence[int], now: datetime | None) -> Select:
    if now is None:  # one event asked for by id: whatever its state
        return select(Event.id).where(scope_filter)
    query = select(Event.id).where(
        scope_filter,
        Event.ends_at > now - HISTORY_KEPT,
        or_(
            Event.status == EventStatus.PUBLISHED,
            and_(
                Event.status == EventStatus.CANCELLED,
                Event.cancelled_at > now - CANCELLED_KEPT,
            ),
        ),
    )
    if category_ids:
        query = query.where(Event.category_id.in_(category_ids))
    return query


def _shifts_by_event(event_ids: Select) -> dict[int, list]:
    """The events' shifts in time order, by event id (one query)."""
    shifts_by_event: dict[int, list] = defaultdict(list)
    for shift in db.session.execute(
        select(
            Shift.id,
            Shift.event_id,
            Shift.title,
            Shift.starts_at,
            Shift.ends_at,
            Shift.capacity,
            Shift.filled,
            Shift.code,
            Shift.is_cancelled,
            Shift.series_starts_at,
        )
        .where(Shift.event_id.in_(event_ids))
        .order_by(Shift.starts_at, Shift.id)
    ):
        shifts_by_event[shift.event_id].append(shift)
    return shifts_by_event


def _signup_changes(event_ids: Select) -> dict[int, datetime]:
    """The last signup change on each event's shifts, by event id (one query). Fill
    counts are in the description: a signup is a change of its event's entry."""
    signup_changes: dict[int, datetime] = {}
    for event_id, *times in db.session.execute(
        select(
            Shift.event_id,
            func.max(Signup.created_at),
            func.max(Signup.confirmed_at),
            func.max(Signup.cancelled_at),
        )
        .join(Shift, Shift.id == Signup.shift_id)
        .where(Shift.event_id.in_(event_ids))
        .group_by(Shift.event_id)
    ):
        known = [t for t in times if t is not None]
        if known:
            signup_changes[event_id] = max(known)
    return signup_changes


def _description_texts() -> dict[str, str]:
    """The description's phrases, translated once per build: gettext for every shift
    line was a good part of rebuilding a 1,000-event feed (bench/feed_serve.py)."""
    return {
        "team": _("服务队：%(team)s"),
        "intro": _("班次（短信“报名 编号”即可报名）："),
        "nth": _("第 %(n)s 班"),
        "cancelled": _("· %(name)s %(when)s（已取消）"),
        "open": _("· %(name)s %(when)s 编号 %(code)s 已报 %(filled)d/%(capacity)d 人"),
    }


def _event_description(row, shifts: list, texts: dict[str, str]) -> str:
    lines = [texts["team"] % {"team": row.team}]
    if shifts:
        lines.append(texts["intro"])
    for index, shift in enumerate(shifts, start=1):
        name = shift.title or texts["nth"] % {"n": index}
        start, end = to_local(shift.starts_at), to_local(shift.ends_at)
        when = f"{start.month}月{start.day}日 {start:%H:%M}–{end:%H:%M}"
        if start.date() != end.date():
            when = (
                f"{start.month}月{start.day}日 {start:%H:%M}–{end.month}月{end.day}日 {end:%H:%M}"
            )
        if shift.is_cancelled:
            lines.append(texts["cancelled"] % {"name": name, "when": when})
        else:
            lines.append(
                texts["open"]
                % {
                    "name": name,
                    "when": when,
                    "code": shift.code,
                    "filled": shift.filled,
                    "capacity": shift.capacity,
                }
            )
    if row.description:
        lines += ["", row.description]
    return "\n".join(lines)


def _series(row, shifts: list):
    """(first start, first end, Recurrence) of a repeating event from its shifts: the
    rule's occurrences are the shifts' ``series_starts_at``; a cancelled shift is an
    EXDATE, a moved one (start or length changed) an override. None when the shifts
    carry no series information (the event is then written as one plain span)."""
    placed = [s for s in shifts if s.series_starts_at is not None]
    if not placed:
        return None
    first = min(s.series_starts_at for s in placed)
    on_rule = [s for s in placed if s.starts_at == s.series_starts_at and not s.is_cancelled]
    model = on_rule[0] if on_rule else placed[0]
    length = model.ends_at - model.starts_at
    excluded, overrides = [], []
    for shift in placed:
        if shift.is_cancelled:
            excluded.append(shift.series_starts_at)
        elif shift.starts_at != shift.series_starts_at or shift.ends_at - shift.starts_at != length:
            overrides.append(
                ics.Override(
                    recurrence_id=shift.series_starts_at,
                    starts_at=shift.starts_at,
                    ends_at=shift.ends_at,
                )
            )
    recurrence = ics.Recurrence(
        rule=row.recurrence_rule, excluded=tuple(excluded), overrides=tuple(overrides)
    )
    return first, first + length, recurrence


# One-event downloads ----------------------------------------------------------------------


def single_event_ics(event_id: int) -> bytes:
    """The event as a one-event .ics (the same VEVENT, or series, as in team feeds)."""
    with _body_locale():
        entries = team_events(Event.id == event_id, (), None)
        if not entries:
            raise NotFound(_("活动不存在"))
        return ics.build_single_event(entries[0], _("退役军人志愿服务"))


def single_shift_ics(shift_id: int) -> bytes:
    """One shift as a one-event .ics, with the same UID as in person feeds."""
    links = _Links.current()
    with _body_locale():
        row = db.session.execute(_shift_rows().where(Shift.id == shift_id)).first()
        if row is None:
            raise NotFound(_("班次不存在"))
        entry = shift_entry(row, links, None, row.changed_at)
        return ics.build_single_event(entry, _("退役军人志愿服务"))
