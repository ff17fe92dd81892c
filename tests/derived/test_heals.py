"""Derived data heals itself: a change whose after-commit message is lost leaves a mark
in its own transaction, and one scheduler tick, once the mark is older than a minute,
hands the work to a worker again.

For each kind of derived data (the hour roll-ups; person, team, unit and unit+category
feeds) a change is committed while the broker is unreachable, or its messages are
dropped after the commit; the derived data is then shown wrong, a tick within the minute
shown to leave it so, and a tick after it to repair it.
"""

# ruff: noqa: F811  (the messages fixture imported from support is a parameter here)

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests import factories as make
from tests.calendar.feeds_support import edit_event
from tests.derived.support import (  # noqa: F401
    build_world,
    later,
    marks_left,
    messages,
    rollups_current,
    stale_feeds,
)
from tests.hours.support import AFTER, shift_with_people, viewer
from volunteer_hub import scheduler
from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance, marks, records, verification
from volunteer_hub.hours.models import ServiceRecord
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import Signup, SignupSource


def _first_shift(event_id: int) -> int:
    return db.session.scalar(select(Shift.id).where(Shift.event_id == event_id))


def _member_leaves(world, event_id: int) -> None:
    """Only the member's own feed still names the shift they left."""
    signup_id = db.session.scalar(
        select(Signup.id).where(
            Signup.shift_id == _first_shift(event_id), Signup.person_id == world.members[0].id
        )
    )
    signups.cancel(signup_id)
    db.session.commit()


def _retitled(world, event_id: int) -> None:
    edit_event(event_id, title="汛期夜间巡堤")


def _new_event(world, event_id: int) -> None:
    make.event(world.team, shifts=1, title="护堤宣讲")


def _recategorized(world, event_id: int) -> None:
    # Only the category it left says the city's 防汛抗旱 feed must drop the event.
    edit_event(event_id, category_id=world.school)


#: per feed kind, a change that feed must show
CHANGES = {
    "person": _member_leaves,
    "team": _retitled,
    "unit": _new_event,
    "unit+category": _recategorized,
}


@pytest.mark.parametrize("way", ["unreachable", "dropped"])
@pytest.mark.parametrize("kind", list(CHANGES))
def test_a_feed_whose_change_message_was_lost_is_repaired_by_one_tick(messages, kind, way):
    world = build_world(messages)
    feed_id = world.feeds[kind]
    event_id = make.event(world.team, shifts=1, title="汛期巡堤").id  # 防汛抗旱
    signups.sign_up(_first_shift(event_id), world.members[0].id, SignupSource.WEB)
    db.session.commit()
    messages.deliver()
    assert stale_feeds(world.feeds.values()) == []

    if way == "unreachable":
        with messages.unreachable():
            CHANGES[kind](world, event_id)
    else:
        CHANGES[kind](world, event_id)
        assert messages.lose() >= 1
    assert feed_id in stale_feeds([feed_id])
    assert marks_left()[0] >= 1

    early = scheduler.tick(now=later(0.5))
    messages.deliver()
    assert early.resent.feed_changes == 0  # its message may simply be on its way
    assert feed_id in stale_feeds([feed_id])

    repaired = scheduler.tick(now=later(1.5))
    messages.deliver()
    assert repaired.resent.feed_changes >= 1
    assert stale_feeds(world.feeds.values()) == []
    assert marks_left()[0] == 0


@pytest.mark.parametrize("way", ["unreachable", "dropped"])
def test_a_roll_up_whose_recompute_message_was_lost_is_repaired_by_one_tick(make, messages, way):
    team, shift, _people = shift_with_people(people=2)
    leader = viewer(make.leader(team))
    attendance.mark_all_attended(shift.id, viewer=leader, now=AFTER)
    db.session.commit()
    messages.deliver()
    records = db.session.scalars(select(ServiceRecord.id)).all()

    if way == "unreachable":
        with messages.unreachable():
            verification.verify(records, viewer=leader, now=AFTER)
            db.session.commit()
    else:
        verification.verify(records, viewer=leader, now=AFTER)
        db.session.commit()
        assert messages.lose() >= 1
    assert not rollups_current()
    assert marks_left()[1] == 2  # one key per person

    early = scheduler.tick(now=later(0.5))
    messages.deliver()
    assert early.resent.rollup_keys == 0
    assert not rollups_current()

    repaired = scheduler.tick(now=later(1.5))
    messages.deliver()
    assert repaired.resent.rollup_keys == 2
    assert rollups_current()
    assert marks_left()[1] == 0


def test_a_recompute_keeps_a_mark_made_after_it_read_the_mark(make, messages):
    """The conditional clear: a change marked again while the recompute ran (its
    version moved on) keeps its mark, so its own recompute is still owed."""
    team, shift, (person, _other) = shift_with_people(people=2)
    leader = viewer(make.leader(team))
    attendance.mark_all_attended(shift.id, viewer=leader, now=AFTER)
    verification.verify(
        db.session.scalars(select(ServiceRecord.id)).all(), viewer=leader, now=AFTER
    )
    db.session.commit()
    record = db.session.scalar(select(ServiceRecord).where(ServiceRecord.person_id == person.id))
    key = (record.person_id, record.team_id, record.category_id, record.month)

    read = marks.version_of(key)
    marks.mark(key)  # a change commits meanwhile
    db.session.commit()
    marks.clear(key, read)  # what recompute_key does at its end
    db.session.commit()
    assert marks.version_of(key) == read + 1

    marks.clear(key, marks.version_of(key))
    db.session.commit()
    assert marks.version_of(key) is None


def test_one_transaction_writes_one_mark_per_thing_it_changed(messages):
    """A cancel that promotes someone changes one event's feeds: one feed change row.
    An edit names its record's key before and after: one mark (version 1)."""
    world = build_world(messages)
    event = make.event(world.team, shifts=1, capacity=1)
    shift_id = _first_shift(event.id)
    first = signups.sign_up(shift_id, world.members[0].id, SignupSource.WEB).signup.id
    signups.sign_up(shift_id, world.members[1].id, SignupSource.WEB)  # waitlisted
    db.session.commit()
    messages.deliver()

    signups.cancel(first)
    db.session.commit()
    assert marks_left() == (1, 0)
    messages.deliver()
    assert marks_left() == (0, 0)
    assert stale_feeds(world.feeds.values()) == []

    team, shift, (person,) = shift_with_people(people=1)
    leader = viewer(make.leader(team))
    attendance.mark_all_attended(shift.id, viewer=leader, now=AFTER)
    verification.verify(
        db.session.scalars(select(ServiceRecord.id)).all(), viewer=leader, now=AFTER
    )
    db.session.commit()
    messages.deliver()
    record = db.session.scalar(select(ServiceRecord).where(ServiceRecord.person_id == person.id))
    records.edit_record(record.id, viewer=leader, reason="更正", content="巡堤（夜）", now=AFTER)
    db.session.commit()
    key = (record.person_id, record.team_id, record.category_id, record.month)
    assert marks.version_of(key) == 1


def test_the_ops_page_shows_changes_and_keys_waiting(app, make, messages):
    from tests.conftest import login

    team, shift, _people = shift_with_people(people=1)
    leader = viewer(make.leader(team))
    attendance.mark_all_attended(shift.id, viewer=leader, now=AFTER)
    verification.verify(
        db.session.scalars(select(ServiceRecord.id)).all(), viewer=leader, now=AFTER
    )
    db.session.commit()
    make.event(team, shifts=1)
    messages.lose()
    admin = make.admin()
    client = app.test_client()
    login(client, admin)

    page = client.get("/ops").get_data(as_text=True)
    assert "尚未处理的活动变更：" in page
    assert "待重算：1 项" in page

    scheduler.tick(now=later(1.5))
    messages.deliver()
    page = client.get("/ops").get_data(as_text=True)
    assert "尚未处理的活动变更" not in page and "待重算" not in page
    assert "所有订阅都是最新的" in page
