"""The conformance scenario (volunteer_hub.devtools.feed_scenario), version by version,
read back with icalendar and recurring-ical-events: what the external checker run by
.ci/run looks at, checked here with the project's own tools."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
import recurring_ical_events
from icalendar import Calendar

from volunteer_hub.devtools.feed_scenario import FEEDS, Scenario, run_scenario

HOST = "localhost"  # feed_origin() in tests: SERVER_NAME
#: what a client must see change with a SEQUENCE bump (RFC 5546 2.1.4, and the text
#: people read in their calendar)
SIGNIFICANT = ("DTSTART", "DTEND", "RRULE", "EXDATE", "STATUS", "SUMMARY", "LOCATION")


@pytest.fixture(scope="module")
def scenario(app, tmp_path_factory) -> Scenario:
    """Played once for the module (the bodies are plain bytes); the rows it wrote go
    with the first test's cleanup, like any test's."""
    from volunteer_hub.extensions import db

    with app.app_context():
        played = run_scenario(tmp_path_factory.mktemp("feeds"))
        db.session.remove()
    return played


def entries(body: bytes) -> dict[tuple[str, str], object]:
    """VEVENTs by (UID, RECURRENCE-ID or "")."""
    out = {}
    for event in Calendar.from_ical(body).walk("VEVENT"):
        rid = event.get("RECURRENCE-ID")
        out[(str(event["UID"]), rid.to_ical().decode() if rid else "")] = event
    return out


def values(event, name: str) -> list[bytes]:
    found = event.get(name)
    if found is None:
        return []
    return [v.to_ical() for v in (found if isinstance(found, list) else [found])]


def _content(event) -> list[bytes]:
    """An entry's lines without those that say when and how often it changed."""
    stamps = (b"DTSTAMP", b"LAST-MODIFIED", b"SEQUENCE")
    return [line for line in event.to_ical().splitlines() if not line.startswith(stamps)]


def event_uid(scenario: Scenario, role: str) -> str:
    return f"event-{scenario.events[role]}@{HOST}"


def test_writes_every_version_of_every_feed(scenario: Scenario):
    steps = [step for step, _body in scenario.versions["team"]]
    assert steps == [
        "00-empty",
        "01-created",
        "02-time-changed",
        "03-place-changed",
        "04-shift-cancelled",
        "05-event-cancelled",
        "06-patrol-created",
        "07-week-skipped",
        "08-week-moved",
    ]
    for name in FEEDS:
        assert [step for step, _ in scenario.versions[name]] == steps
        for step, body in scenario.versions[name]:
            assert (scenario.outdir / name / f"{step}.ics").read_bytes() == body


def test_every_version_is_crlf_folded_at_75_octets_and_parses(scenario: Scenario):
    folded_inside_chinese = 0
    for name in FEEDS:
        for step, body in scenario.versions[name]:
            where = f"{name}/{step}"
            assert body.endswith(b"\r\n"), where
            lines = body.split(b"\r\n")[:-1]
            assert not any(b"\n" in line or b"\r" in line for line in lines), where
            for line in lines:
                assert line, f"{where}: empty line"
                assert len(line) <= 75, (where, line)
                text = line.decode("utf-8")  # a split character would not decode
                if line.startswith(b" ") and "\u4e00" <= text[1:2] <= "\u9fff":
                    folded_inside_chinese += 1
            calendar = Calendar.from_ical(body)
            assert str(calendar["METHOD"]) == "PUBLISH"
            assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["Asia/Shanghai"]
            recurring_ical_events.of(calendar).between(
                datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
            )
    assert folded_inside_chinese > 0, "the scenario has long Chinese text; nothing was folded"


def test_an_empty_feed_is_a_valid_calendar(scenario: Scenario):
    for name in FEEDS:
        step, body = scenario.versions[name][0]
        calendar = Calendar.from_ical(body)
        assert step == "00-empty"
        assert calendar.walk("VEVENT") == []
        assert str(calendar["VERSION"]) == "2.0" and calendar["PRODID"]
        assert calendar.walk("VTIMEZONE")  # one component at least


def test_uids_are_stable_and_sequence_goes_up_with_every_change(scenario: Scenario):
    for name in FEEDS:
        versions = scenario.versions[name]
        for (old_step, old_body), (step, body) in pairwise(versions):
            old, new = entries(old_body), entries(body)
            # Nothing the volunteer had goes without a word: what is called off stays,
            # marked cancelled (nobody in the scenario cancels their own signup).
            assert set(old) <= set(new), (name, step, set(old) - set(new))
            for key in set(old) & set(new):
                before, after = int(old[key]["SEQUENCE"]), int(new[key]["SEQUENCE"])
                assert after >= before, (name, step, key)
                if _content(old[key]) == _content(new[key]):  # nothing it shows changed
                    assert old[key].to_ical() == new[key].to_ical(), (name, step, key)
                changed = [p for p in SIGNIFICANT if values(old[key], p) != values(new[key], p)]
                if changed:
                    assert after > before, (name, f"{old_step} → {step}", key, changed)
                    assert new[key]["LAST-MODIFIED"].dt >= old[key]["LAST-MODIFIED"].dt

    last = {name: {uid for uid, _rid in entries(scenario.versions[name][-1][1])} for name in FEEDS}
    lecture, river, school, patrol = (
        event_uid(scenario, role) for role in ("lecture", "river", "school", "patrol")
    )
    assert last["team"] == {lecture, school, patrol}
    assert last["unit"] == {lecture, river, school, patrol}
    assert last["unit-flood"] == {river, patrol}
    assert all(uid.startswith("shift-") and uid.endswith(f"@{HOST}") for uid in last["person"])


def test_each_step_shows_its_change(scenario: Scenario):
    team = dict(scenario.versions["team"])
    lecture = (event_uid(scenario, "lecture"), "")

    def entry(step: str):
        return entries(team[step])[lecture]

    assert entry("02-time-changed")["DTSTART"].dt - entry("01-created")["DTSTART"].dt == (
        timedelta(days=1)
    )
    assert str(entry("03-place-changed")["LOCATION"]) == "凤凰街道退役军人服务站（凤凰路 18 号）"
    assert "（已取消）" in str(entry("04-shift-cancelled")["DESCRIPTION"])
    assert "（已取消）" not in str(entry("03-place-changed")["DESCRIPTION"])
    person = [entries(body) for _step, body in scenario.versions["person"]]
    # the volunteer's afternoon shift was called off: still there, marked cancelled
    assert set(person[4]) == set(person[3])
    (called_off,) = [e for e in person[4].values() if str(e["STATUS"]) == "CANCELLED"]
    assert str(called_off["SUMMARY"]).startswith("【已取消】")


def test_a_cancelled_event_stays_as_cancelled(scenario: Scenario):
    school = (event_uid(scenario, "school"), "")
    for name in ("team", "unit"):
        versions = dict(scenario.versions[name])
        before = entries(versions["04-shift-cancelled"])[school]
        assert str(before["STATUS"]) == "CONFIRMED"
        for step in ("05-event-cancelled", "06-patrol-created", "08-week-moved"):
            after = entries(versions[step])[school]
            assert str(after["STATUS"]) == "CANCELLED", (name, step)
            assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
            assert str(after["SUMMARY"]).startswith("【已取消】")
    for _step, body in scenario.versions["unit-flood"]:
        assert school not in entries(body)  # 护苗护学 is not 防汛抗旱


def test_the_patrol_expands_without_the_skipped_week_and_with_the_moved_one(
    scenario: Scenario,
):
    patrol = event_uid(scenario, "patrol")
    skipped = scenario.patrol_skipped
    rule_start, moved_to = scenario.patrol_moved
    window = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))
    expected = sorted(scenario.patrol_occurrences)
    assert len(expected) == 5
    assert moved_to in [start for start, _end in expected]
    assert skipped not in [start for start, _end in expected]
    assert rule_start not in [start for start, _end in expected]

    def expand(body: bytes) -> list[tuple[datetime, datetime]]:
        occurrences = recurring_ical_events.of(Calendar.from_ical(body)).between(*window)
        return sorted(
            (o["DTSTART"].dt.astimezone(UTC), o["DTEND"].dt.astimezone(UTC))
            for o in occurrences
            if str(o["UID"]) == patrol
        )

    for name in ("team", "unit", "unit-flood"):
        versions = dict(scenario.versions[name])
        assert len(expand(versions["06-patrol-created"])) == 6
        skipped_week = expand(versions["07-week-skipped"])
        assert len(skipped_week) == 5 and skipped not in [s for s, _e in skipped_week]
        assert expand(versions["08-week-moved"]) == expected, name
        series = [
            e for (uid, _rid), e in entries(versions["08-week-moved"]).items() if uid == patrol
        ]
        assert sum(1 for e in series if "RRULE" in e) == 1  # one series, not six events

    # The volunteer's own feed: weeks 3 and 4, week 4 at its new time; week 2, skipped,
    # stays as cancelled.
    person = entries(scenario.versions["person"][-1][1]).values()
    starts = {e["DTSTART"].dt.astimezone(UTC) for e in person if str(e["STATUS"]) != "CANCELLED"}
    assert moved_to in starts and skipped not in starts and rule_start not in starts
    called_off = [
        e["DTSTART"].dt.astimezone(UTC) for e in person if str(e["STATUS"]) == "CANCELLED"
    ]
    assert skipped in called_off
