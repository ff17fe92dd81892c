"""Calendar feeds: who may create which, what each one shows, and building its body.

A feed's URL carries a secret token (``secrets.token_urlsafe(32)``: 256 bits) that is
shown once and stored only as its SHA-256. Bodies are built here (by workers, or on the
first request of a feed never built) and stored; the web process serves the bytes.

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

import hashlib
import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import Select, and_, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from volunteer_hub import after_commit, queries
from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.calendar import ics
from volunteer_hub.calendar.models import Feed, FeedScope, feed_category
from volunteer_hub.db import utcnow
from volunteer_hub.errors import NotFound, ValidationFailed
from volunteer_hub.events.models import Category, Event, EventStatus, Shift
from volunteer_hub.extensions import db
from volunteer_hub.i18n import to_local
from volunteer_hub.people.models import Person
from volunteer_hub.signups.models import ACTIVE_STATUSES, Signup, SignupStatus
from volunteer_hub.teams.models import Team
from volunteer_hub.units.models import Unit
from volunteer_hub.units.services import subtree_condition

log = logging.getLogger(__name__)

#: bytes of randomness in a token: 256 bits, well over the 128 the issue asks
TOKEN_BYTES = 32
#: cancelled events stay in team and unit feeds this long, as STATUS:CANCELLED
CANCELLED_KEPT = timedelta(days=30)
#: events that ended longer ago than this are left out (feeds would grow for ever)
HISTORY_KEPT = timedelta(days=90)
#: what clients are told about polling (REFRESH-INTERVAL, X-PUBLISHED-TTL)
REFRESH_INTERVAL = timedelta(hours=1)
MAX_CATEGORIES = 50


@dataclass(frozen=True)
class IssuedFeed:
    """A new feed and its token, which exists only here: it is never stored."""

    feed: Feed
    token: str


@dataclass(frozen=True)
class BuildResult:
    feed_id: int
    changed: bool
    size: int
    etag: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


# Creating and revoking ------------------------------------------------------------------


def create_feed(
    scope: str,
    target_id: int,
    category_ids: Iterable[int] = (),
    created_by: Viewer | None = None,
) -> IssuedFeed:
    """A new feed of ``scope`` over ``target_id``, if ``created_by`` may see it.

    A person feed is for oneself only; a team feed for whoever may see the team; a unit
    feed for coordinators of the unit's subtree and admins. Anything else is NotFound,
    as everywhere: a feed request reveals nothing about ids one may not see.
    """
    if created_by is None:
        raise NotFound(_("订阅对象不存在"))
    try:
        scope = FeedScope(scope)
    except ValueError:
        raise ValidationFailed({"scope": _("订阅范围应为 person、team 或 unit")}) from None
    target = {"person_id": None, "team_id": None, "unit_id": None}
    if scope == FeedScope.PERSON:
        if target_id != created_by.person_id:
            raise NotFound(_("只能订阅自己的班次"), field="id")
        target["person_id"] = target_id
    elif scope == FeedScope.TEAM:
        target["team_id"] = _visible(queries.visible_team, created_by, target_id).id
    else:
        target["unit_id"] = _visible(queries.visible_unit, created_by, target_id).id
    categories = _categories(category_ids)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    feed = Feed(
        scope=scope,
        token_hash=hash_token(token),
        created_by_id=created_by.person_id,
        created_at=utcnow(),
        categories=categories,
        **target,
    )
    db.session.add(feed)
    db.session.flush()
    _build_soon(feed)
    return IssuedFeed(feed=feed, token=token)


def _build_soon(feed: Feed) -> None:
    # Built by a worker right after the commit, so the first fetch finds it ready.
    from volunteer_hub.calendar import tasks

    feed.stale_since = utcnow()
    after_commit.enqueue(tasks.rebuild_feed.send, feed.id)


#: a feed owed a rebuild this long is assumed to have lost its message
REBUILD_OVERDUE_AFTER = timedelta(minutes=10)


def requeue_overdue_rebuilds(now: datetime | None = None) -> int:
    """The feeds half of the minute tick: send the rebuild again for live feeds stale
    longer than REBUILD_OVERDUE_AFTER (a lost message, a worker that died). The rebuild
    claims the feed, so a duplicate costs nothing."""
    from volunteer_hub.calendar import tasks

    now = now or utcnow()
    overdue = list(
        db.session.scalars(
            select(Feed.id).where(
                Feed.revoked_at.is_(None),
                Feed.stale_since.is_not(None),
                Feed.stale_since < now - REBUILD_OVERDUE_AFTER,
            )
        )
    )
    for feed_id in overdue:
        after_commit.enqueue(tasks.rebuild_feed.send, feed_id)
    return len(overdue)


def own_feeds(viewer: Viewer) -> list[Feed]:
    """The viewer's live feeds, newest first (two queries: feeds, their categories)."""
    return list(
        db.session.scalars(
            select(Feed)
            .where(Feed.created_by_id == viewer.person_id, Feed.revoked_at.is_(None))
            .order_by(Feed.created_at.desc(), Feed.id.desc())
        )
    )


def own_feed(viewer: Viewer, feed_id: int) -> Feed:
    """A live feed the viewer made; NotFound for anyone else's, revoked or missing."""
    feed = db.session.scalar(
        select(Feed).where(
            Feed.id == feed_id,
            Feed.created_by_id == viewer.person_id,
            Feed.revoked_at.is_(None),
        )
    )
    if feed is None:
        raise NotFound(_("日历订阅不存在"))
    return feed


def revoke_feed(feed_id: int, viewer: Viewer) -> Feed:
    """Revoke one of the viewer's feeds; its URL answers 404 from the next request."""
    feed = own_feed(viewer, feed_id)
    feed.revoked_at = utcnow()
    feed.stale_since = None
    db.session.flush()
    return feed


def reissue_feed(feed_id: int, viewer: Viewer) -> IssuedFeed:
    """Revoke the feed and issue a new token for the same scope and categories (for a
    URL that leaked). Permissions are checked again: they may have changed since."""
    old = own_feed(viewer, feed_id)
    target = old.person_id or old.team_id or old.unit_id
    issued = create_feed(old.scope, target, [c.id for c in old.categories], viewer)
    old.revoked_at = utcnow()
    old.stale_since = None
    # The content is the same, so the new URL answers at once without a build.
    previous = aliased(Feed)
    db.session.execute(
        update(Feed)
        .where(Feed.id == issued.feed.id)
        .values(
            body=select(previous.body).where(previous.id == old.id).scalar_subquery(),
            etag=old.etag,
            body_changed_at=old.body_changed_at,
            built_at=old.built_at,
        )
        .execution_options(synchronize_session=False)
    )
    db.session.expire(issued.feed)
    return issued


def _visible(lookup, viewer: Viewer, target_id: int):
    try:
        return lookup(viewer, target_id)
    except NotFound as exc:
        raise NotFound(exc.message, field="id") from None


def _categories(category_ids: Iterable[int]) -> list[Category]:
    ids = sorted({int(i) for i in category_ids})
    if not ids:
        return []
    if len(ids) > MAX_CATEGORIES:
        raise ValidationFailed({"categories": _("服务类别太多")})
    found = list(db.session.scalars(select(Category).where(Category.id.in_(ids))))
    if len(found) != len(ids) or not all(c.is_active for c in found):
        raise ValidationFailed({"categories": _("请选择有效的服务类别")})
    return sorted(found, key=lambda c: c.id)


def find_categories(refs: Sequence[str | int]) -> list[int]:
    """Category ids from names or ids (the API accepts both); ValidationFailed naming the
    first that is no active category."""
    ids: list[int] = []
    names = [str(r).strip() for r in refs if isinstance(r, str) and not str(r).isdigit()]
    by_name = {}
    if names:
        by_name = {
            c.name: c
            for c in db.session.scalars(
                select(Category).where(Category.name.in_(names), Category.is_active.is_(True))
            )
        }
    for index, ref in enumerate(refs):
        if isinstance(ref, int) or (isinstance(ref, str) and ref.strip().isdigit()):
            ids.append(int(ref))
            continue
        category = by_name.get(str(ref).strip())
        if category is None:
            raise ValidationFailed(
                {f"categories.{index}": _("没有这个服务类别：%(name)s", name=ref)}
            )
        ids.append(category.id)
    return ids


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


def subscribe_urls(token: str, request_origin: str | None = None) -> tuple[str, str]:
    """(https URL, webcal:// URL) of a feed: PUBLIC_BASE_URL, else the request's origin."""
    base = current_app.config.get("PUBLIC_BASE_URL") or request_origin or feed_origin()
    url = f"{base.rstrip('/')}/feeds/{token}.ics"
    return url, "webcal://" + url.split("://", 1)[1]


# What a feed shows -----------------------------------------------------------------------


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


def build_body(feed_id: int, now: datetime | None = None) -> bytes:
    """The iCalendar bytes of a feed as the data stands (revoked or not)."""
    now = now or utcnow()
    feed = db.session.get(Feed, feed_id)
    if feed is None:
        raise NotFound(_("日历订阅不存在"))
    category_ids = [c.id for c in feed.categories]
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE") or "zh"):
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


def person_events(
    person_id: int, category_ids: Sequence[int], now: datetime, links: _Links | None = None
) -> list[ics.FeedEvent]:
    """One VEVENT per shift the person is confirmed or waitlisted on, and per shift called
    off under them in the last CANCELLED_KEPT, marked cancelled (one query)."""
    links = links or _Links.current()
    query = (
        select(
            Signup.status,
            Signup.created_at.label("signed_at"),
            Signup.confirmed_at,
            Signup.cancelled_at,
            Shift.id.label("shift_id"),
            Shift.title.label("shift_title"),
            Shift.starts_at,
            Shift.ends_at,
            Shift.code,
            Event.id.label("event_id"),
            Event.title,
            Event.description,
            Event.location,
            Shift.revision,
            Shift.changed_at,
            Category.name.label("category"),
            Team.name.label("team"),
        )
        .join(Shift, Shift.id == Signup.shift_id)
        .join(Event, Event.id == Shift.event_id)
        .join(Category, Category.id == Event.category_id)
        .join(Team, Team.id == Event.team_id)
        .where(
            Signup.person_id == person_id,
            _shown_in_person_feeds(now),
            Shift.ends_at > now - HISTORY_KEPT,
        )
    )
    if category_ids:
        query = query.where(Event.category_id.in_(category_ids))
    out = []
    for row in db.session.execute(query):
        title = row.title + (f" · {row.shift_title}" if row.shift_title else "")
        cancelled = row.status == SignupStatus.CANCELLED
        if cancelled:  # its code is freed: no use texting it
            lines = [_("报名状态：组织方已取消此班次")]
        else:
            confirmed = row.status == SignupStatus.CONFIRMED
            status = _("报名状态：已确认") if confirmed else _("报名状态：候补")
            lines = [status, _("短信代码：%(code)s", code=row.code)]
        lines.append(_("服务队：%(team)s", team=row.team))
        if row.description:
            lines += ["", row.description]
        # The signup's own changes (a seat from the waitlist) are changes of this entry.
        stamps = (row.changed_at, row.signed_at, row.confirmed_at, row.cancelled_at)
        changed = max(d for d in stamps if d)
        out.append(
            ics.FeedEvent(
                uid=links.shift_uid(row.shift_id),
                title=title,
                starts_at=row.starts_at,
                ends_at=row.ends_at,
                last_modified=changed,
                sequence=row.revision,
                description="\n".join(lines),
                location=row.location,
                url=links.my_page(),
                cancelled=cancelled,
                categories=(_(row.category),),
            )
        )
    return out


def _shown_in_person_feeds(now: datetime):
    """Active signups, and those that ended with their shift (the organizer called it
    off; the person did not choose to leave) for CANCELLED_KEPT: a volunteer's calendar
    then shows the shift as cancelled instead of losing it without a word."""
    return or_(
        Signup.status.in_(ACTIVE_STATUSES),
        and_(Signup.cancelled_with_shift.is_(True), Signup.cancelled_at > now - CANCELLED_KEPT),
    )


def team_events(
    scope_filter, category_ids: Sequence[int], now: datetime | None, links: _Links | None = None
) -> list[ics.FeedEvent]:
    """One VEVENT (or one series) per published event, and per event cancelled within
    CANCELLED_KEPT, of the teams ``scope_filter`` selects; three queries in all."""
    links = links or _Links.current()
    event_ids = _team_event_ids(scope_filter, category_ids, now)
    rows = db.session.execute(
        select(
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
            Category.name.label("category"),
            Team.name.label("team"),
        )
        .join(Category, Category.id == Event.category_id)
        .join(Team, Team.id == Event.team_id)
        .where(Event.id.in_(event_ids))
    ).all()
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
    # Fill counts are in the description: a signup is a change of its event's entry.
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

    texts = _description_texts()
    category_names: dict[str, str] = {}
    out = []
    for row in rows:
        shifts = shifts_by_event.get(row.id, [])
        changed = max(row.updated_at, signup_changes.get(row.id, row.updated_at))
        if row.category not in category_names:
            category_names[row.category] = _(row.category)
        cancelled = row.status == EventStatus.CANCELLED
        common = dict(
            uid=links.event_uid(row.id),
            title=row.title,
            last_modified=changed,
            sequence=row.revision,
            description=_event_description(row, shifts, texts),
            location=row.location,
            url=links.event_page(row.id),
            cancelled=cancelled,
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


def _description_texts() -> dict[str, str]:
    """The description's phrases, translated once per build: gettext for every shift
    line was a good part of rebuilding a 1,000-event feed (bench/feed_serve.py)."""
    return {
        "team": _("服务队：%(team)s"),
        "intro": _("班次（短信“报名 代码”即可报名）："),
        "nth": _("第 %(n)s 班"),
        "cancelled": _("· %(name)s %(when)s（已取消）"),
        "open": _("· %(name)s %(when)s 代码 %(code)s 已报 %(filled)d/%(capacity)d 人"),
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
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE") or "zh"):
        entries = team_events(Event.id == event_id, (), None)
        if not entries:
            raise NotFound(_("活动不存在"))
        return ics.build_single_event(entries[0], _("退役军人志愿服务"))


def single_shift_ics(shift_id: int) -> bytes:
    """One shift as a one-event .ics, with the same UID as in person feeds."""
    links = _Links.current()
    with force_locale(current_app.config.get("BABEL_DEFAULT_LOCALE") or "zh"):
        row = db.session.execute(
            select(
                Shift.id,
                Shift.title.label("shift_title"),
                Shift.starts_at,
                Shift.ends_at,
                Shift.code,
                Shift.is_cancelled,
                Event.title,
                Event.description,
                Event.location,
                Shift.revision,
                Shift.changed_at,
                Event.status,
                Category.name.label("category"),
                Team.name.label("team"),
            )
            .join(Event, Event.id == Shift.event_id)
            .join(Category, Category.id == Event.category_id)
            .join(Team, Team.id == Event.team_id)
            .where(Shift.id == shift_id)
        ).first()
        if row is None:
            raise NotFound(_("班次不存在"))
        lines = [_("短信代码：%(code)s", code=row.code), _("服务队：%(team)s", team=row.team)]
        if row.description:
            lines += ["", row.description]
        entry = ics.FeedEvent(
            uid=links.shift_uid(row.id),
            title=row.title + (f" · {row.shift_title}" if row.shift_title else ""),
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            last_modified=row.changed_at,
            sequence=row.revision,
            description="\n".join(lines),
            location=row.location,
            url=links.my_page(),
            cancelled=row.is_cancelled or row.status == EventStatus.CANCELLED,
            categories=(_(row.category),),
        )
        return ics.build_single_event(entry, _("退役军人志愿服务"))


# Building and storing --------------------------------------------------------------------


def rebuild_feed(feed_id: int, now: datetime | None = None) -> BuildResult | None:
    """Build and store a live feed's body; None if it is revoked or gone.

    The ETag is the body's SHA-256. Identical bytes keep ``body_changed_at``, so the
    ETag and Last-Modified a client holds stay valid until something really changed.
    """
    now = now or utcnow()
    current = db.session.execute(
        select(Feed.etag).where(Feed.id == feed_id, Feed.revoked_at.is_(None))
    ).first()
    if current is None:
        return None
    started = time.perf_counter()
    body = build_body(feed_id, now)
    etag = hashlib.sha256(body).hexdigest()
    changed = etag != current.etag
    values: dict = {"built_at": now}
    if changed:
        values.update(body=body, etag=etag, body_changed_at=now)
    db.session.execute(
        update(Feed)
        .where(Feed.id == feed_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    log.info(
        "feed %d rebuilt: %d bytes, %s, %.1f ms",
        feed_id,
        len(body),
        "changed" if changed else "unchanged",
        (time.perf_counter() - started) * 1000,
    )
    return BuildResult(feed_id=feed_id, changed=changed, size=len(body), etag=etag)


def claim_stale(feed_id: int) -> bool:
    """Take the rebuild a feed is owed (``stale_since`` → NULL); False when nothing is
    owed (another message of the same burst got there first), or it was revoked."""
    claimed = db.session.execute(
        update(Feed)
        .where(Feed.id == feed_id, Feed.stale_since.is_not(None), Feed.revoked_at.is_(None))
        .values(stale_since=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    return claimed == 1


#: a feed stale for longer than this had its rebuild message lost: send another
STALE_RESEND_AFTER = timedelta(minutes=10)


def mark_stale(
    event_id: int,
    person_ids: Iterable[int] = (),
    extra_category_ids: Iterable[int] = (),
    now: datetime | None = None,
) -> list[int]:
    """Mark stale every live feed that shows the event: its team's, those of each unit
    above the team, the person feeds of people on its shifts (and of ``person_ids``),
    each only if its category filter lets the event in. Returns the ids that were not
    stale yet, which need a rebuild sent; feeds already stale have one on the way.

    ``extra_category_ids``: categories the event had before this change, so a filtered
    feed it has just left is rebuilt too.
    """
    now = now or utcnow()
    row = db.session.execute(
        select(Event.team_id, Event.category_id, Unit.path)
        .join(Team, Team.id == Event.team_id)
        .join(Unit, Unit.id == Team.unit_id)
        .where(Event.id == event_id)
    ).first()
    if row is None:
        return []
    unit_ids = [int(part) for part in row.path.strip("/").split("/") if part]
    category_ids = sorted({row.category_id, *extra_category_ids})
    people = (
        select(Signup.person_id)
        .join(Shift, Shift.id == Signup.shift_id)
        .where(Shift.event_id == event_id, _shown_in_person_feeds(now))
    )
    person_ids = sorted(set(person_ids))
    person_match = Feed.person_id.in_(people)
    if person_ids:
        person_match = or_(person_match, Feed.person_id.in_(person_ids))
    unfiltered = ~exists().where(feed_category.c.feed_id == Feed.id)
    filtered_in = exists().where(
        feed_category.c.feed_id == Feed.id, feed_category.c.category_id.in_(category_ids)
    )
    statement = (
        update(Feed)
        .where(
            Feed.revoked_at.is_(None),
            or_(
                and_(Feed.scope == FeedScope.TEAM, Feed.team_id == row.team_id),
                and_(Feed.scope == FeedScope.UNIT, Feed.unit_id.in_(unit_ids)),
                and_(Feed.scope == FeedScope.PERSON, person_match),
            ),
            or_(unfiltered, filtered_in),
            or_(Feed.stale_since.is_(None), Feed.stale_since < now - STALE_RESEND_AFTER),
        )
        .values(stale_since=now)
        .returning(Feed.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(db.session.scalars(statement))


def live_feed_ids() -> list[int]:
    return list(
        db.session.scalars(select(Feed.id).where(Feed.revoked_at.is_(None)).order_by(Feed.id))
    )
