"""What each feed kind shows, read back with icalendar and recurring-ical-events."""

# ruff: noqa: F811  (pytest fixtures imported from feeds_support are parameters here)

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import recurring_ical_events
from sqlalchemy import update

from tests.calendar.feeds_support import World, issue, parse, uids, unfolded, vevents, world  # noqa: F401
from tests.conftest import login
from tests.volunteers.conftest import me_login
from volunteer_hub.calendar import content, services
from volunteer_hub.calendar.models import Feed
from volunteer_hub.events import services as events
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import Signup, SignupSource


def body_of(feed_id: int) -> bytes:
    services.rebuild_feed(feed_id)
    db.session.commit()
    return db.session.get(Feed, feed_id).body


def test_team_feed_lists_events_with_shift_codes_and_fill(world: World, make):
    event = make.event(
        world.team_a,
        shifts=2,
        capacity=3,
        title="护苗护学",
        description="集合时联系张队长 13912345678",
        location="凤凰小学门口",
    )
    first = make.shifts_of(event)[0]
    signups.sign_up(first.id, world.member_a.id, SignupSource.WEB)
    db.session.commit()
    make.event(world.team_a, shifts=1, title="草稿活动", status="draft")
    make.event(world.team_b, shifts=1, title="别队活动")
    feed_id, _token = issue(world.leader_a, "team", world.team_a.id)

    body = body_of(feed_id)
    (entry,) = vevents(body)
    assert str(entry["UID"]) == f"event-{event.id}@localhost"
    assert str(entry["URL"]) == f"http://localhost/events/{event.id}"
    assert str(entry["STATUS"]) == "CONFIRMED"
    description = str(entry["DESCRIPTION"])
    assert f"编号 {first.code} 已报 1/3 人" in description
    assert "凤凰小学门口" in str(entry["LOCATION"])
    text = unfolded(body)
    assert "13912345678" not in text and world.member_a.phone not in text
    assert "+86" not in text
    # From the last change (the signup here), not from the clock of the build.
    stamp = entry["DTSTAMP"].dt
    assert stamp == entry["LAST-MODIFIED"].dt
    assert stamp <= datetime.now(UTC)
    (again,) = vevents(body_of(feed_id))
    assert again["DTSTAMP"].dt == stamp
    assert "草稿活动" not in text and "别队活动" not in text


def test_cancelled_events_stay_30_days_as_cancelled(world: World, make):
    kept = make.event(world.team_a, shifts=1, title="暴雨取消的巡堤")
    old = make.event(world.team_a, shifts=1, title="早已取消")
    for event_id in (kept.id, old.id):
        events.cancel_event(event_id, "暴雨红色预警")
    db.session.commit()
    db.session.execute(
        update(Event)
        .where(Event.id == old.id)
        .values(cancelled_at=datetime.now(UTC) - timedelta(days=31))
    )
    db.session.commit()
    feed_id, _token = issue(world.coordinator_a, "unit", world.district_a.id)
    (entry,) = vevents(body_of(feed_id))
    assert str(entry["UID"]) == f"event-{kept.id}@localhost"
    assert str(entry["STATUS"]) == "CANCELLED"
    assert int(entry["SEQUENCE"]) == 1


def test_unit_feed_covers_its_subtree_only_and_filters_categories(world: World, make):
    in_street = make.event(world.team_a, shifts=1, title="街道巡堤")  # 防汛抗旱
    school = make.event(world.team_a, shifts=1, title="护学", category_name="护苗护学")
    elsewhere = make.event(world.team_b, shifts=1, title="华容巡堤")
    district, _ = issue(world.coordinator_a, "unit", world.district_a.id)
    flood_only, _ = issue(
        world.coordinator_city, "unit", world.city.id, [make.category("防汛抗旱").id]
    )
    host = "localhost"
    assert uids(body_of(district)) == {f"event-{in_street.id}@{host}", f"event-{school.id}@{host}"}
    assert uids(body_of(flood_only)) == {
        f"event-{in_street.id}@{host}",
        f"event-{elsewhere.id}@{host}",
    }
    assert "（防汛抗旱）" in unfolded(db.session.get(Feed, flood_only).body)


def test_person_feed_has_one_entry_per_active_signup(world: World, make):
    event = make.event(world.team_a, shifts=3, capacity=1, title="护学岗")
    a, b, c = make.shifts_of(event)
    signups.sign_up(a.id, world.leader_a.id, SignupSource.WEB)
    for shift in (a, b, c):
        signups.sign_up(shift.id, world.member_a.id, SignupSource.WEB)
    db.session.commit()
    cancelled = signups.cancel(
        db.session.scalar(
            db.select(signups.Signup.id).where(
                signups.Signup.shift_id == c.id, signups.Signup.person_id == world.member_a.id
            )
        )
    )
    assert cancelled.signup.status == "cancelled"
    db.session.commit()
    feed_id, _ = issue(world.member_a, "person", world.member_a.id)
    body = body_of(feed_id)
    by_uid = {str(e["UID"]): e for e in vevents(body)}
    assert set(by_uid) == {f"shift-{a.id}@localhost", f"shift-{b.id}@localhost"}
    assert "候补" in str(by_uid[f"shift-{a.id}@localhost"]["DESCRIPTION"])
    assert "已确认" in str(by_uid[f"shift-{b.id}@localhost"]["DESCRIPTION"])
    assert world.member_a.phone not in unfolded(body)


def test_a_downloaded_shift_is_the_person_feed_entry_without_the_signup(world: World, make):
    """One builder for a shift's entry: the .ics download and the person feed agree on
    everything but what the person's signup adds (its status line, its own times)."""
    event = make.event(world.team_a, shifts=1, title="护学岗", description="带好雨具")
    (shift,) = make.shifts_of(event)
    signups.sign_up(shift.id, world.member_a.id, SignupSource.WEB)
    db.session.commit()
    feed_id, _ = issue(world.member_a, "person", world.member_a.id)
    (in_feed,) = vevents(body_of(feed_id))
    (alone,) = vevents(content.single_shift_ics(shift.id))

    same = ("UID", "SUMMARY", "DTSTART", "DTEND", "SEQUENCE", "LOCATION", "URL", "STATUS")
    assert {k: in_feed[k].to_ical() for k in same} == {k: alone[k].to_ical() for k in same}
    assert in_feed["CATEGORIES"].to_ical() == alone["CATEGORIES"].to_ical()
    feed_lines = str(in_feed["DESCRIPTION"]).splitlines()
    assert feed_lines[0].startswith("报名状态")
    assert str(alone["DESCRIPTION"]).splitlines() == feed_lines[1:]


def test_a_shift_called_off_stays_in_the_person_feed_as_cancelled_for_30_days(world: World, make):
    """The organizer called it off: the volunteer's calendar says so instead of losing
    the entry; a shift the volunteer had left of their own accord goes."""
    event = make.event(world.team_a, shifts=2, title="护学岗")
    called_off, left = make.shifts_of(event)
    old = make.shifts_of(make.event(world.team_a, shifts=1, title="早已取消的巡堤"))[0]
    for shift in (called_off, left, old):
        signups.sign_up(shift.id, world.member_a.id, SignupSource.WEB)
    db.session.commit()
    feed_id, _ = issue(world.member_a, "person", world.member_a.id)
    before = {str(e["UID"]): e for e in vevents(body_of(feed_id))}

    signups.cancel(
        db.session.scalar(
            db.select(Signup.id).where(
                Signup.shift_id == left.id, Signup.person_id == world.member_a.id
            )
        )
    )
    events.cancel_event(event.id, "暴雨红色预警")
    events.cancel_event(old.event_id)
    db.session.commit()
    db.session.execute(
        update(Signup)
        .where(Signup.shift_id == old.id)
        .values(cancelled_at=datetime.now(UTC) - timedelta(days=31))
    )
    db.session.commit()

    (entry,) = vevents(body_of(feed_id))
    uid = f"shift-{called_off.id}@localhost"
    assert str(entry["UID"]) == uid
    assert str(entry["STATUS"]) == "CANCELLED"
    assert str(entry["SUMMARY"]).startswith("【已取消】")
    assert "组织方已取消此班次" in str(entry["DESCRIPTION"])
    assert called_off.code not in str(entry["DESCRIPTION"])  # the code no longer works
    assert int(entry["SEQUENCE"]) > int(before[uid]["SEQUENCE"])
    assert entry["LAST-MODIFIED"].dt >= before[uid]["LAST-MODIFIED"].dt  # seconds


def test_a_person_entry_changes_only_with_what_it_shows(world: World, make):
    """Moving one shift, or changing a capacity, leaves the entry of the event's other
    shift byte for byte as it was (DTSTAMP, LAST-MODIFIED, SEQUENCE); a new event title
    changes both."""
    event = make.event(world.team_a, shifts=2, title="护学岗")
    moved, other = make.shifts_of(event)
    for shift in (moved, other):
        signups.sign_up(shift.id, world.member_a.id, SignupSource.WEB)
    db.session.commit()
    feed_id, _ = issue(world.member_a, "person", world.member_a.id)

    def entry_lines() -> dict[str, list[bytes]]:
        return {str(e["UID"]): e.to_ical().splitlines() for e in vevents(body_of(feed_id))}

    def update(title: str, moved_by: timedelta, capacity: int) -> None:
        data = events.EventInput(
            title=title, category_id=event.category_id, location=event.location
        )
        rows = [
            events.ShiftInput(
                id=s.id,
                starts_at=s.starts_at + (moved_by if s.id == moved.id else timedelta()),
                ends_at=s.ends_at + (moved_by if s.id == moved.id else timedelta()),
                capacity=capacity,
                title=s.title,
            )
            for s in (moved, other)
        ]
        events.update_event(event.id, data, rows)
        db.session.commit()

    moved_uid, other_uid = f"shift-{moved.id}@localhost", f"shift-{other.id}@localhost"
    first = entry_lines()
    update("护学岗", timedelta(hours=1), capacity=12)
    second = entry_lines()
    assert second[other_uid] == first[other_uid]
    assert second[moved_uid] != first[moved_uid]
    sequence = {uid: int(vevent["SEQUENCE"]) for uid, vevent in _entries(feed_id).items()}
    assert sequence == {moved_uid: 1, other_uid: 0}

    update("护学岗（改期）", timedelta(), capacity=12)
    sequence = {uid: int(vevent["SEQUENCE"]) for uid, vevent in _entries(feed_id).items()}
    assert sequence == {moved_uid: 2, other_uid: 1}


def _entries(feed_id: int) -> dict:
    return {str(e["UID"]): e for e in vevents(body_of(feed_id))}


def test_a_weekly_patrol_is_one_series_with_a_skipped_and_a_moved_week(world: World, make):
    start = datetime(2027, 6, 7, 1, 0, tzinfo=UTC)  # Mondays 09:00 in Asia/Shanghai
    weeks = [start + timedelta(weeks=n) for n in range(4)]
    event = make.event(
        world.team_a,
        shifts=[
            {"starts_at": w, "ends_at": w + timedelta(hours=3), "capacity": 5, "title": "巡堤"}
            for w in weeks
        ],
        title="汛期每周巡堤",
    )
    shifts = make.shifts_of(event)
    db.session.execute(
        update(Event).where(Event.id == event.id).values(recurrence_rule="FREQ=WEEKLY;COUNT=4")
    )
    for shift in shifts:
        db.session.execute(
            update(Shift).where(Shift.id == shift.id).values(series_starts_at=shift.starts_at)
        )
    db.session.commit()
    signups.cancel_shift(shifts[1].id)  # week 2 skipped
    moved = weeks[2] + timedelta(days=1)  # week 3 on Tuesday
    db.session.execute(
        update(Shift)
        .where(Shift.id == shifts[2].id)
        .values(starts_at=moved, ends_at=moved + timedelta(hours=3))
    )
    db.session.commit()

    feed_id, _ = issue(world.leader_a, "team", world.team_a.id)
    body = body_of(feed_id)
    components = vevents(body)
    assert {str(c["UID"]) for c in components} == {f"event-{event.id}@localhost"}
    master = next(c for c in components if "RRULE" in c)
    assert "RECURRENCE-ID;TZID=Asia/Shanghai:20270621T090000" in unfolded(body)
    assert "EXDATE;TZID=Asia/Shanghai:20270614T090000" in unfolded(body)
    assert master["DTSTART"].dt.astimezone(UTC) == weeks[0]
    occurrences = recurring_ical_events.of(parse(body)).between(
        datetime(2027, 6, 1, tzinfo=UTC), datetime(2027, 7, 31, tzinfo=UTC)
    )
    starts = sorted(o["DTSTART"].dt.astimezone(UTC) for o in occurrences)
    assert starts == [weeks[0], moved, weeks[3]]


def test_one_event_ics_download(client, world: World, make):
    event = make.event(world.team_a, shifts=1, title="红色宣讲")
    shift = make.shifts_of(event)[0]
    login(client, world.leader_a)
    response = client.get(f"/events/{event.id}.ics")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    assert uids(response.data) == {f"event-{event.id}@localhost"}
    assert f"/events/{event.id}.ics" in client.get(f"/events/{event.id}").get_data(as_text=True)
    client.post("/logout")

    login(client, world.leader_b)
    assert client.get(f"/events/{event.id}.ics").status_code == 404
    client.post("/logout")

    result = signups.sign_up(shift.id, world.member_a.id, SignupSource.WEB)
    signup_id = result.signup.id
    db.session.commit()
    me_login(client, world.member_a)
    home = client.get("/me").get_data(as_text=True)
    assert f"/calendar/signups/{signup_id}.ics" in home
    mine = client.get(f"/calendar/signups/{signup_id}.ics")
    assert mine.status_code == 200
    assert uids(mine.data) == {f"shift-{shift.id}@localhost"}
    assert client.get(f"/events/{event.id}.ics").status_code == 200  # signed up to it
    other = signups.sign_up(shift.id, world.leader_a.id, SignupSource.WEB).signup.id
    db.session.commit()
    assert client.get(f"/calendar/signups/{other}.ics").status_code == 404
