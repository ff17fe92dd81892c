"""Helpers for the derived-data tests: a broker of the test's own whose messages are lost
or delivered when the test says, a small world with one feed of each kind, and what
"current" means for a feed and for the roll-ups."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import dramatiq
import pytest
from dramatiq.brokers.stub import StubBroker
from sqlalchemy import select

from tests import factories as make
from tests.hours.support import (
    expected_rollup_rows,
    expected_team_rows,
    rollup_rows,
    team_rollup_rows,
)
from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.broker import bind_actors
from volunteer_hub.calendar import services as feeds
from volunteer_hub.calendar.changes import FeedChange
from volunteer_hub.calendar.content import build_body
from volunteer_hub.calendar.models import Feed
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.hours.marks import RollupMark

#: the queues of derived data; texts are not what these tests are about
DERIVED_QUEUES = ("feeds", "hours")


class FlakyBroker(StubBroker):
    """Dramatiq's in-process broker, which can be made unreachable: every send fails
    as a Redis that is down fails it."""

    reachable = True

    def enqueue(self, message, *, delay=None):
        if not self.reachable:
            raise dramatiq.errors.ConnectionFailed("broker unreachable (test)")
        return super().enqueue(message, delay=delay)


@dataclass
class Messages:
    """The actors' messages in a broker of the test's own. ``deliver`` runs those of the
    derived-data queues in this thread, each actor called with its message's
    arguments (Dramatiq's advice for tests), delays ignored, until none is left."""

    broker: FlakyBroker
    delivered: list[str] = field(default_factory=list)

    def lose(self) -> int:
        """Drop everything queued: a worker that died with its messages, say."""
        lost = sum(queue.qsize() for queue in self.broker.queues.values())
        self.broker.flush_all()
        return lost

    @contextmanager
    def unreachable(self):
        """Every send inside fails (the after-commit queue logs it and goes on)."""
        self.broker.reachable = False
        try:
            yield
        finally:
            self.broker.reachable = True

    def deliver(self, limit: int | None = None) -> int:
        db.session.rollback()  # the actors commit in this session: start clean
        count = 0
        while (limit is None or count < limit) and (message := self._next()):
            actor = self.broker.get_actor(message.actor_name)
            actor(*message.args, **message.kwargs)
            self.delivered.append(message.actor_name)
            count += 1
        db.session.rollback()
        return count

    def _next(self) -> dramatiq.Message | None:
        for name, queue in self.broker.queues.items():
            if dramatiq.common.q_name(name) not in DERIVED_QUEUES or queue.empty():
                continue
            data = queue.get_nowait()
            queue.task_done()
            return dramatiq.Message.decode(data)
        return None


@pytest.fixture
def messages(app):
    """Actors bound to a broker of this test (whatever the app's is: in-process or
    Redis), put back on the app's afterwards."""
    own = FlakyBroker()
    bind_actors(own)
    try:
        yield Messages(own)
    finally:
        bind_actors(app.extensions["dramatiq"].broker)


@dataclass
class World:
    """鄂州市 › 鄂城区 › 凤凰街道 with one team, its leader and two members, and a feed
    of each kind: a member's own, the team's, the district's, and the city's filtered
    on 防汛抗旱."""

    team: object
    leader: object
    members: list
    flood: int
    school: int
    feeds: dict[str, int]


def build_world(messages: Messages) -> World:
    city = make.unit("鄂州市", level="city")
    district = make.unit("鄂城区", parent=city)
    street = make.unit("凤凰街道", parent=district)
    team = make.team(street)
    leader = make.leader(team)
    members = [make.member(team), make.member(team)]
    coordinator = make.coordinator(city)
    flood, school = make.category("防汛抗旱").id, make.category("护苗护学").id
    issued = {
        "person": (members[0], "person", members[0].id, []),
        "team": (leader, "team", team.id, []),
        "unit": (coordinator, "unit", district.id, []),
        "unit+category": (coordinator, "unit", city.id, [flood]),
    }
    ids = {}
    for kind, (owner, scope, target, categories) in issued.items():
        ids[kind] = feeds.create_feed(scope, target, categories, viewer_for(owner)).feed.id
    db.session.commit()
    messages.deliver()  # their first builds
    return World(team, leader, members, flood, school, ids)


def stale_feeds(feed_ids) -> list[int]:
    """The feeds whose stored body is not what a fresh build gives now."""
    db.session.rollback()
    stale = []
    for feed_id in feed_ids:
        stored = db.session.scalar(select(Feed.body).where(Feed.id == feed_id))
        if stored != build_body(feed_id):
            stale.append(feed_id)
    db.session.rollback()
    return stale


def rollups_current() -> bool:
    db.session.rollback()
    return rollup_rows() == expected_rollup_rows() and team_rollup_rows() == (expected_team_rows())


def marks_left() -> tuple[int, int]:
    """(feed changes not applied, roll-up keys still marked)."""
    db.session.rollback()
    return (
        db.session.scalar(select(db.func.count()).select_from(FeedChange)),
        db.session.scalar(select(db.func.count()).select_from(RollupMark)),
    )


def later(minutes: float) -> object:
    """A tick's ``now``, this many minutes from the wall clock (marks use the clock)."""
    return utcnow() + timedelta(minutes=minutes)
