"""Calendar feeds as things people hold: who may create which, revoking and reissuing
them, and keeping each one's stored body up to date.

A feed's URL carries a secret token (``secrets.token_urlsafe(32)``: 256 bits) that is
shown once and stored only as its SHA-256. A change marks stale (``stale_since``) every
live feed that shows it (:func:`mark_stale`); a rebuild claims the feed
(:func:`claim_stale`) and stores the body and its ETag (:func:`rebuild_feed`), and the
minute tick re-sends rebuilds whose message was lost (:func:`requeue_overdue_rebuilds`).
The web process serves the stored bytes. What a body holds is built in
:mod:`volunteer_hub.calendar.content`.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, exists, or_, select, true, update
from sqlalchemy.orm import aliased

from volunteer_hub import after_commit, queries
from volunteer_hub.auth.permissions import Viewer, staff_viewer
from volunteer_hub.calendar import content
from volunteer_hub.calendar.models import Feed, FeedScope, feed_category
from volunteer_hub.db import utcnow
from volunteer_hub.errors import NotFound, ValidationFailed
from volunteer_hub.events.models import Category, Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.signups.models import Signup
from volunteer_hub.teams.models import Team
from volunteer_hub.units.models import Unit

log = logging.getLogger(__name__)

#: bytes of randomness in a token: 256 bits, well over the 128 the issue asks
TOKEN_BYTES = 32
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


def revoke_feeds_out_of_reach(person_id: int, now: datetime | None = None) -> int:
    """Revoke the live feeds ``person_id`` made that show what they may no longer see: a
    team or unit feed once they no longer lead or oversee it, every feed once their
    account is switched off. A feed's URL is a bearer secret, so it must not outlast its
    maker's right to what it shows. For each change that narrows someone's reach (the
    caller flushes it first). Returns how many were revoked."""
    maker = db.session.get(Person, person_id)
    viewer = staff_viewer(maker) if maker is not None and maker.is_active else None
    out_of_reach = true()
    if viewer is not None:
        seen_team = select(Team.id).where(Team.id == Feed.team_id, viewer.team_condition())
        seen_unit = select(Unit.id).where(Unit.id == Feed.unit_id, viewer.unit_condition())
        out_of_reach = or_(  # one's own shifts' feed is never out of reach
            and_(Feed.scope == FeedScope.TEAM, ~exists(seen_team)),
            and_(Feed.scope == FeedScope.UNIT, ~exists(seen_unit)),
        )
    return db.session.execute(
        update(Feed)
        .where(Feed.created_by_id == person_id, Feed.revoked_at.is_(None), out_of_reach)
        .values(revoked_at=now or utcnow(), stale_since=None)
        .execution_options(synchronize_session=False)
    ).rowcount


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


def subscribe_urls(token: str, request_origin: str | None = None) -> tuple[str, str]:
    """(https URL, webcal:// URL) of a feed: PUBLIC_BASE_URL, else the request's origin."""
    base = current_app.config.get("PUBLIC_BASE_URL") or request_origin or content.feed_origin()
    url = f"{base.rstrip('/')}/feeds/{token}.ics"
    return url, "webcal://" + url.split("://", 1)[1]


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
    body = content.build_body(feed_id, now)
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
        .join(Event.team)
        .join(Team.unit)
        .where(Event.id == event_id)
    ).first()
    if row is None:
        return []
    unit_ids = [int(part) for part in row.path.strip("/").split("/") if part]
    category_ids = sorted({row.category_id, *extra_category_ids})
    people = (
        select(Signup.person_id)
        .join(Shift, Shift.id == Signup.shift_id)
        .where(Shift.event_id == event_id, content.shown_in_person_feeds(now))
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
