"""Helpers for the feed tests (tests/calendar/test_feeds_*.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from icalendar import Calendar
from sqlalchemy import select

from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.calendar import services
from volunteer_hub.calendar.models import Feed
from volunteer_hub.extensions import db


def issue(person, scope: str, target_id: int, categories=()) -> tuple[int, str]:
    """A feed made by ``person``; (feed id, token). Committed."""
    issued = services.create_feed(scope, target_id, categories, viewer_for(person))
    feed_id = issued.feed.id
    db.session.commit()
    return feed_id, issued.token


def feed_url(token: str) -> str:
    return f"/feeds/{token}.ics"


def fetch(client, token: str, **kwargs):
    return client.get(feed_url(token), **kwargs)


def parse(body: bytes) -> Calendar:
    return Calendar.from_ical(body)


def vevents(body: bytes) -> list:
    return [c for c in parse(body).walk("VEVENT")]


def uids(body: bytes) -> set[str]:
    return {str(e["UID"]) for e in vevents(body)}


def stale_ids() -> set[int]:
    db.session.rollback()
    return set(db.session.scalars(select(Feed.id).where(Feed.stale_since.is_not(None))))


def unfolded(body: bytes) -> str:
    return re.sub(r"\r\n[ \t]", "", body.decode("utf-8"))


# A small world: 鄂州市 › 鄂城区 › 凤凰街道 (team A), 华容区 (team B) -------------------------


@dataclass
class World:
    city: object
    district_a: object
    street_a: object
    district_b: object
    team_a: object
    team_b: object
    leader_a: object
    leader_b: object
    member_a: object
    coordinator_a: object
    coordinator_city: object
    admin: object


@pytest.fixture
def world(make) -> World:
    city = make.unit("鄂州市", level="city")
    district_a = make.unit("鄂城区", parent=city)
    street_a = make.unit("凤凰街道", parent=district_a)
    district_b = make.unit("华容区", parent=city)
    team_a = make.team(street_a, name="凤凰街道退役军人志愿服务队")
    team_b = make.team(district_b, name="华容区长江卫士服务队")
    return World(
        city=city,
        district_a=district_a,
        street_a=street_a,
        district_b=district_b,
        team_a=team_a,
        team_b=team_b,
        leader_a=make.leader(team_a, name="张队长"),
        leader_b=make.leader(team_b, name="李队长"),
        member_a=make.member(team_a, name="王建国", phone="+8613800138000"),
        coordinator_a=make.coordinator(district_a, name="鄂城区协调员"),
        coordinator_city=make.coordinator(city, name="鄂州市协调员"),
        admin=make.admin(name="管理员"),
    )


def edit_event(event_id: int, **changes) -> None:
    """Change an event through the service, as the pages and the API do; committed."""
    from volunteer_hub.events import services as events
    from volunteer_hub.events.models import Event, Shift

    event = db.session.get(Event, event_id)
    shifts = list(
        db.session.scalars(
            select(Shift).where(Shift.event_id == event_id, Shift.is_cancelled.is_(False))
        )
    )
    data = events.EventInput(
        title=changes.get("title", event.title),
        category_id=changes.get("category_id", event.category_id),
        location=changes.get("location", event.location),
        description=changes.get("description", event.description),
        status=event.status,
    )
    delta = changes.get("move_by")
    shift_inputs = [
        events.ShiftInput(
            id=s.id,
            starts_at=s.starts_at + delta if delta else s.starts_at,
            ends_at=s.ends_at + delta if delta else s.ends_at,
            capacity=s.capacity,
            title=s.title,
        )
        for s in shifts
    ]
    events.update_event(event_id, data, shift_inputs)
    db.session.commit()
