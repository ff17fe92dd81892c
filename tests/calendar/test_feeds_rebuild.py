"""Changes reach exactly the feeds that show them, through the worker, coalesced."""

# ruff: noqa: F811  (pytest fixtures imported from feeds_support are parameters here)

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.calendar.feeds_support import (  # noqa: F401
    World,
    edit_event,
    fetch,
    issue,
    stale_ids,
    uids,
    unfolded,
    vevents,
    world,
)
from tests.conftest import stop_worker
from volunteer_hub.calendar import services
from volunteer_hub.calendar.cli import feeds as feeds_cli
from volunteer_hub.calendar.models import Feed
from volunteer_hub.events.models import Category, Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import SignupSource

QUEUE = "feeds"


def run_worker(broker, worker):
    # SQLite: the test's own open transaction would hold the write lock the worker needs.
    db.session.rollback()
    broker.join(QUEUE)
    worker.join()


def builds(caplog, feed_id: int) -> int:
    return sum(
        1
        for r in caplog.records
        if r.name == "volunteer_hub.calendar.services"
        and r.getMessage().startswith(f"feed {feed_id} rebuilt")
    )


@pytest.fixture
def feeds(world: World, make):
    """Feeds over both teams, every unit level, two category filters, and a person."""
    flood = make.category("防汛抗旱").id
    school = make.category("护苗护学").id
    ids = {
        "team_a": issue(world.leader_a, "team", world.team_a.id)[0],
        "team_b": issue(world.leader_b, "team", world.team_b.id)[0],
        "street_a": issue(world.coordinator_a, "unit", world.street_a.id)[0],
        "district_a": issue(world.coordinator_a, "unit", world.district_a.id)[0],
        "district_b": issue(world.coordinator_city, "unit", world.district_b.id)[0],
        "city": issue(world.coordinator_city, "unit", world.city.id)[0],
        "city_flood": issue(world.coordinator_city, "unit", world.city.id, [flood])[0],
        "city_school": issue(world.coordinator_city, "unit", world.city.id, [school])[0],
        "member_a": issue(world.member_a, "person", world.member_a.id)[0],
        "leader_a": issue(world.leader_a, "person", world.leader_a.id)[0],
    }
    # Creating a feed queues its first build: start from built, fresh feeds.
    for feed_id in ids.values():
        services.rebuild_feed(feed_id)
    db.session.execute(update(Feed).values(stale_since=None))
    db.session.commit()
    return ids


def test_a_change_marks_exactly_the_feeds_that_show_it(world: World, make, feeds):
    event = make.event(world.team_a, shifts=1, title="汛期巡堤")  # 防汛抗旱
    shift = make.shifts_of(event)[0]
    signups.sign_up(shift.id, world.member_a.id, SignupSource.WEB)
    db.session.commit()
    db.session.execute(update(Feed).values(stale_since=None))
    db.session.commit()

    owed = services.mark_stale(event.id)
    db.session.commit()
    expected = {"team_a", "street_a", "district_a", "city", "city_flood", "member_a"}
    assert set(owed) == {feeds[name] for name in expected}
    assert stale_ids() == {feeds[name] for name in expected}
    # Marked already: a second change of the same burst sends nothing more.
    assert services.mark_stale(event.id) == []


def test_after_an_edit_the_worker_rebuilds_and_the_etag_changes(
    client, world: World, make, feeds, broker, worker
):
    event = make.event(world.team_a, shifts=1, title="汛期巡堤")
    run_worker(broker, worker)
    token = issue(world.leader_a, "team", world.team_a.id)[1]
    run_worker(broker, worker)
    before = fetch(client, token)
    assert "汛期巡堤" in unfolded(before.data)

    edit_event(event.id, title="汛期夜间巡堤", location="鄂州市鄂城区滨江堤段")
    run_worker(broker, worker)

    after = fetch(client, token)
    text = unfolded(after.data)
    assert "汛期夜间巡堤" in text and "滨江堤段" in text
    assert after.headers["ETag"] != before.headers["ETag"]
    (entry,) = vevents(after.data)
    assert int(entry["SEQUENCE"]) == 1
    assert (
        fetch(client, token, headers={"If-None-Match": before.headers["ETag"]}).status_code == 200
    )
    # Team B's feed and the sibling district's were left alone.
    db.session.rollback()
    untouched = db.session.scalars(
        select(Feed.built_at).where(Feed.id.in_([feeds["team_b"], feeds["district_b"]]))
    ).all()
    touched = db.session.get(Feed, feeds["team_a"]).built_at
    assert all(built < touched for built in untouched)
    assert stale_ids() == set()


def test_signups_reach_the_persons_feed_and_the_teams_fill(
    client, world: World, make, feeds, broker, worker
):
    event = make.event(world.team_a, shifts=1, capacity=1, title="护学岗")
    shift = make.shifts_of(event)[0]
    run_worker(broker, worker)
    member_body = db.session.get(Feed, feeds["member_a"]).body
    assert f"shift-{shift.id}@" not in member_body.decode()

    signups.sign_up(shift.id, world.member_a.id, SignupSource.WEB)
    waiting = signups.sign_up(shift.id, world.leader_a.id, SignupSource.WEB)
    db.session.commit()
    run_worker(broker, worker)
    db.session.rollback()
    member_text = unfolded(db.session.get(Feed, feeds["member_a"]).body)
    leader_text = unfolded(db.session.get(Feed, feeds["leader_a"]).body)
    assert f"shift-{shift.id}@" in member_text and "已确认" in member_text
    assert f"shift-{shift.id}@" in leader_text and "候补" in leader_text
    assert "已报 1/1 人" in unfolded(db.session.get(Feed, feeds["team_a"]).body)

    # The confirmed one cancels: the waitlisted leader moves up, both feeds follow.
    first = db.session.scalar(
        select(signups.Signup.id).where(signups.Signup.person_id == world.member_a.id)
    )
    signups.cancel(first)
    db.session.commit()
    run_worker(broker, worker)
    db.session.rollback()
    assert f"shift-{shift.id}@" not in db.session.get(Feed, feeds["member_a"]).body.decode()
    assert "已确认" in unfolded(db.session.get(Feed, feeds["leader_a"]).body)
    assert waiting.signup.id  # the promoted signup is the leader's


def test_fifty_edits_in_a_burst_cost_a_rebuild_or_two(world: World, make, feeds, broker, caplog):
    import dramatiq

    event = make.event(world.team_a, shifts=1, title="巡堤")
    caplog.set_level(logging.INFO, logger="volunteer_hub.calendar.services")
    for n in range(50):  # no worker running yet: the messages of the burst pile up
        edit_event(event.id, title=f"巡堤第{n}次修改")
    db.session.rollback()
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    try:
        run_worker(broker, worker)
    finally:
        stop_worker(broker, worker)
    assert 1 <= builds(caplog, feeds["team_a"]) <= 2
    assert 1 <= builds(caplog, feeds["city"]) <= 2
    assert builds(caplog, feeds["team_b"]) == 0
    db.session.rollback()
    assert "巡堤第49次修改" in unfolded(db.session.get(Feed, feeds["team_a"]).body)
    assert stale_ids() == set()


def test_a_rebuild_message_delivered_twice_builds_once(world: World, make, feeds, caplog):
    from volunteer_hub.calendar.tasks import rebuild_feed

    make.event(world.team_a, shifts=1)
    db.session.execute(
        update(Feed).where(Feed.id == feeds["team_a"]).values(stale_since=services.utcnow())
    )
    db.session.commit()
    caplog.set_level(logging.INFO, logger="volunteer_hub.calendar.services")
    rebuild_feed(feeds["team_a"])
    rebuild_feed(feeds["team_a"])
    assert builds(caplog, feeds["team_a"]) == 1


def test_moving_an_event_to_another_category_updates_both_filtered_feeds(
    world: World, make, feeds, broker, worker
):
    event = make.event(world.team_a, shifts=1, title="巡堤")  # 防汛抗旱
    run_worker(broker, worker)
    uid = f"event-{event.id}@localhost"
    assert uid in uids(db.session.get(Feed, feeds["city_flood"]).body)

    school = db.session.scalar(select(Category.id).where(Category.name == "护苗护学"))
    edit_event(event.id, category_id=school)
    run_worker(broker, worker)
    db.session.rollback()
    assert uid not in uids(db.session.get(Feed, feeds["city_flood"]).body)
    assert uid in uids(db.session.get(Feed, feeds["city_school"]).body)


def _bulk_events(team, count: int, category_id: int) -> None:
    start = services.utcnow() + timedelta(days=2)
    events = [
        Event(
            team_id=team.id,
            category_id=category_id,
            title=f"活动{i}",
            location="江堤",
            starts_at=start + timedelta(hours=i),
            ends_at=start + timedelta(hours=i + 2),
            status="published",
        )
        for i in range(count)
    ]
    db.session.add_all(events)
    db.session.flush()
    db.session.add_all(
        Shift(
            event_id=e.id,
            starts_at=e.starts_at,
            ends_at=e.ends_at,
            capacity=5,
            code=f"{100000 + e.id}",
            code_is_current=False,
        )
        for e in events
    )
    db.session.commit()


@pytest.mark.parametrize("scope", ["team", "unit", "person"])
def test_building_takes_the_same_queries_for_10_or_1000_events(
    world: World, make, count_queries, scope
):
    category_id = make.category().id
    counts = []
    for size in (10, 1000):
        team = make.team(world.street_a)
        _bulk_events(team, size, category_id)
        if scope == "person":
            for shift_id in db.session.scalars(
                select(Shift.id).join(Event).where(Event.team_id == team.id)
            ):
                db.session.add(
                    signups.Signup(
                        shift_id=shift_id,
                        person_id=world.member_a.id,
                        status="confirmed",
                        source="web",
                    )
                )
            db.session.commit()
            feed_id = issue(world.member_a, "person", world.member_a.id)[0]
        elif scope == "team":
            feed_id = issue(world.admin, "team", team.id)[0]
        else:
            feed_id = issue(world.admin, "unit", world.street_a.id)[0]
        db.session.expire_all()
        with count_queries() as counter:
            services.rebuild_feed(feed_id)
        db.session.commit()
        body = db.session.get(Feed, feed_id).body
        assert len(vevents(body)) >= size
        counts.append(counter.count)
        db.session.execute(update(signups.Signup).values(status="cancelled"))
        db.session.commit()
    assert counts[0] == counts[1], counts


def test_feeds_rebuild_command(app, world: World, make, feeds):
    make.event(world.team_a, shifts=1, title="巡堤")
    runner = app.test_cli_runner()
    result = runner.invoke(feeds_cli, ["rebuild"])
    assert result.exit_code == 0, result.output
    assert "feeds rebuilt: 10" in result.output
    assert "changed 5" in result.output  # team A, its three units, the city 防汛抗旱 filter
    again = runner.invoke(feeds_cli, ["rebuild"])
    assert "changed 0, unchanged 10" in again.output


def test_the_tick_rebuilds_a_feed_whose_rebuild_message_was_lost(
    client, world: World, make, feeds, broker
):
    import dramatiq

    from volunteer_hub import scheduler
    from volunteer_hub.calendar import tasks
    from volunteer_hub.db import utcnow

    event = make.event(world.team_a, shifts=1, title="汛期巡堤")
    broker.flush_all()
    # What the worker does on the change: mark the feeds stale and send their rebuilds;
    # then those rebuild messages are lost.
    tasks.feeds_touched(event.id)
    db.session.commit()
    broker.flush_all()
    assert feeds["team_a"] in stale_ids()

    early = scheduler.tick(now=utcnow() + timedelta(minutes=1))
    assert early.requeued_feeds == 0  # a rebuild may simply be on its way
    later = scheduler.tick(now=utcnow() + timedelta(minutes=11))
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=50)
    worker.start()
    try:
        run_worker(broker, worker)
    finally:
        stop_worker(broker, worker)

    assert later.requeued_feeds >= 1
    assert feeds["team_a"] not in stale_ids()
    team_feed = db.session.get(Feed, feeds["team_a"])
    assert "汛期巡堤" in unfolded(team_feed.body)
