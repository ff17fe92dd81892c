"""The feed builder: bytes that real calendar clients accept, and the same bytes each time.

Every output is parsed back with icalendar and expanded with recurring-ical-events; the
byte-level rules (CRLF, 75-octet folding, exact property lines) are checked on the raw
bytes, since parsers accept feeds that clients then mishandle.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from icalendar import Calendar

from volunteer_hub.calendar.ics import (
    FeedEvent,
    FeedInput,
    Override,
    Recurrence,
    build_feed,
    build_single_event,
    mask_phone_like,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHANGED = datetime(2026, 6, 20, 3, 4, 5, tzinfo=UTC)
LONG_TITLE = (
    "鄂州市梁子湖区退役军人志愿服务队2026年汛期长江堤防巡查暨江滩环境整治志愿服务活动（第三期）"
)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def event(**kw) -> FeedEvent:
    values = {
        "uid": "event-8@volunteer-hub",
        "title": "红色宣讲进校园",
        "starts_at": local(2026, 7, 10, 9, 30).astimezone(UTC),
        "ends_at": local(2026, 7, 10, 11, 0).astimezone(UTC),
        "last_modified": CHANGED,
        "sequence": 2,
        "description": "讲述抗洪抢险的故事",
        "location": "东港社区党群服务中心",
        "address": "鄂州市鄂城区东港路1号",
        "url": "https://vh.example.cn/events/8",
        "categories": ("红色宣讲",),
    }
    return FeedEvent(**(values | kw))


def patrol(**kw) -> FeedEvent:
    """Saturdays 08:00–12:00 in July 2026; the 18th skipped, the 25th moved to Sunday 09:00."""
    values = {
        "uid": "event-7@volunteer-hub",
        "title": "汛期长江堤防巡查",
        "starts_at": local(2026, 7, 4, 8).astimezone(UTC),
        "ends_at": local(2026, 7, 4, 12).astimezone(UTC),
        "last_modified": CHANGED,
        "sequence": 3,
        "location": "鄂城区长江堤防",
        "categories": ("防汛抗旱",),
        "recurrence": Recurrence.weekly(
            until=local(2026, 7, 31, 23, 59),
            excluded=[local(2026, 7, 18, 8).astimezone(UTC)],
            overrides=[
                Override(
                    recurrence_id=local(2026, 7, 25, 8).astimezone(UTC),
                    starts_at=local(2026, 7, 26, 9).astimezone(UTC),
                    ends_at=local(2026, 7, 26, 13).astimezone(UTC),
                    sequence=1,
                    last_modified=CHANGED + timedelta(days=2),
                )
            ],
        ),
    }
    return FeedEvent(**(values | kw))


def feed(*events: FeedEvent, **kw) -> bytes:
    return build_feed(FeedInput(name="鄂城区 · 防汛抗旱", events=events, **kw))


def lines(body: bytes) -> list[bytes]:
    assert body.endswith(b"\r\n")
    return body[:-2].split(b"\r\n")


def unfolded(body: bytes) -> list[str]:
    return body.decode().replace("\r\n ", "").split("\r\n")[:-1]


def vevents(body: bytes) -> list:
    return list(Calendar.from_ical(body).walk("VEVENT"))


def occurrences(body: bytes, start: date, end: date) -> list[tuple]:
    found = recurring_ical_events.of(Calendar.from_ical(body)).between(start, end)
    return sorted(
        (o["DTSTART"].dt, o["DTEND"].dt, str(o["UID"]), str(o.get("STATUS", ""))) for o in found
    )


# ------------------------------------------------------------------ framing


def test_crlf_only_no_blank_lines_and_lines_of_at_most_75_octets():
    body = feed(event(title=LONG_TITLE, description=LONG_TITLE * 5), patrol())

    assert body.count(b"\n") == body.count(b"\r\n")
    assert body.count(b"\r") == body.count(b"\r\n")
    physical = lines(body)
    assert all(physical), "a blank line"
    assert max(len(line) for line in physical) <= 75
    assert body.startswith(b"BEGIN:VCALENDAR\r\n")
    assert body.endswith(b"END:VCALENDAR\r\n")


def test_long_chinese_title_folds_without_splitting_a_character():
    body = feed(event(title=LONG_TITLE, description=LONG_TITLE * 3))

    physical = lines(body)
    folded = [line for line in physical if line.startswith(b" ")]
    assert len(folded) >= 3
    for line in physical:
        line.decode("utf-8")  # strict: a split character raises here
        assert len(line) <= 75
    (parsed,) = vevents(body)
    assert str(parsed["SUMMARY"]) == LONG_TITLE
    assert str(parsed["DESCRIPTION"]).startswith(LONG_TITLE * 3)


def test_calendar_properties_are_exact():
    body = feed(description="鄂城区退役军人志愿服务队")

    physical = lines(body)
    assert physical.count(b"VERSION:2.0") == 1
    assert sum(line.startswith(b"PRODID:") for line in physical) == 1
    assert b"METHOD:PUBLISH" in physical
    assert "X-WR-CALNAME:鄂城区 · 防汛抗旱".encode() in physical
    assert "X-WR-CALDESC:鄂城区退役军人志愿服务队".encode() in physical
    assert b"X-WR-TIMEZONE:Asia/Shanghai" in physical
    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT1H" in physical
    assert b"X-PUBLISHED-TTL:PT1H" in physical
    # a random calendar UID would change the bytes on every build
    assert not any(line.startswith(b"UID:") for line in physical)


def test_refresh_interval_follows_the_input():
    physical = lines(feed(refresh_interval=timedelta(minutes=30)))

    assert b"REFRESH-INTERVAL;VALUE=DURATION:PT30M" in physical
    assert b"X-PUBLISHED-TTL:PT30M" in physical


# ------------------------------------------------------------- determinism


def test_same_input_same_bytes_whatever_the_order():
    a, b, c = event(uid="event-1@volunteer-hub"), patrol(), event(uid="event-2@volunteer-hub")

    first = feed(a, b, c)
    assert feed(a, b, c) == first
    assert feed(c, a, b) == first


def test_uid_sequence_and_stamps_come_from_the_input():
    (parsed,) = vevents(feed(event()))

    assert str(parsed["UID"]) == "event-8@volunteer-hub"
    assert parsed["SEQUENCE"] == 2
    assert parsed["DTSTAMP"].dt == CHANGED
    assert parsed["LAST-MODIFIED"].dt == CHANGED
    assert "DTSTAMP:20260620T030405Z" in unfolded(feed(event()))


def test_a_change_keeps_the_uid_and_carries_the_new_revision():
    before = feed(event())
    after = feed(
        event(
            starts_at=local(2026, 7, 11, 9, 30),
            ends_at=local(2026, 7, 11, 11, 0),
            sequence=3,
            last_modified=CHANGED + timedelta(hours=5),
        )
    )

    (old,), (new,) = vevents(before), vevents(after)
    assert str(new["UID"]) == str(old["UID"])
    assert new["SEQUENCE"] > old["SEQUENCE"]
    assert new["DTSTAMP"].dt > old["DTSTAMP"].dt
    assert new["LAST-MODIFIED"].dt == CHANGED + timedelta(hours=5)
    assert new["DTSTART"].dt == local(2026, 7, 11, 9, 30)


# --------------------------------------------------------------- time zones


def test_one_vtimezone_with_a_single_standard_plus_0800_block():
    body = feed(event(), patrol())

    cal = Calendar.from_ical(body)
    (vtz,) = cal.walk("VTIMEZONE")
    assert str(vtz["TZID"]) == "Asia/Shanghai"
    assert [c.name for c in vtz.subcomponents] == ["STANDARD"]
    (standard,) = vtz.subcomponents
    assert standard["TZOFFSETFROM"].td == standard["TZOFFSETTO"].td == timedelta(hours=8)
    assert "RDATE" not in standard
    assert body.count(b"BEGIN:VTIMEZONE") == 1


def test_times_carry_the_zone_and_are_never_floating():
    text = unfolded(feed(event(), patrol()))
    in_events = text[text.index("BEGIN:VEVENT") :]

    starts = [line for line in in_events if line.startswith(("DTSTART", "DTEND", "RECURRENCE-ID"))]
    assert starts
    assert all(line.split(":")[0].endswith(";TZID=Asia/Shanghai") for line in starts)
    assert "DTSTART;TZID=Asia/Shanghai:20260710T093000" in text
    assert "DTEND;TZID=Asia/Shanghai:20260710T110000" in text


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        feed(event(starts_at=datetime(2026, 7, 10, 9, 30)))
    with pytest.raises(ValueError, match="timezone-aware"):
        feed(event(last_modified=datetime(2026, 6, 20)))


# --------------------------------------------------------------- recurrence


def test_weekly_patrol_with_a_skipped_and_a_moved_week_expands_to_local_times():
    body = feed(patrol())

    got = occurrences(body, date(2026, 7, 1), date(2026, 8, 1))
    assert [(start, end) for start, end, _, _ in got] == [
        (local(2026, 7, 4, 8), local(2026, 7, 4, 12)),
        (local(2026, 7, 11, 8), local(2026, 7, 11, 12)),
        # the 18th is excluded
        (local(2026, 7, 26, 9), local(2026, 7, 26, 13)),  # the 25th, moved
    ]
    assert {uid for _, _, uid, _ in got} == {"event-7@volunteer-hub"}
    assert all(
        start.tzinfo is not None and start.utcoffset() == timedelta(hours=8)
        for start, _, _, _ in got
    )


def test_recurrence_lines_use_the_series_zone_and_utc_until():
    text = unfolded(feed(patrol()))

    assert "RRULE:FREQ=WEEKLY;UNTIL=20260731T155900Z" in text
    assert "EXDATE;TZID=Asia/Shanghai:20260718T080000" in text
    assert "RECURRENCE-ID;TZID=Asia/Shanghai:20260725T080000" in text


def test_override_sequence_is_never_below_the_master():
    master, moved = vevents(feed(patrol()))

    assert "RECURRENCE-ID" not in master
    assert str(moved["UID"]) == str(master["UID"])
    assert moved["SEQUENCE"] >= master["SEQUENCE"] == 3
    assert moved["LAST-MODIFIED"].dt == CHANGED + timedelta(days=2)
    assert str(moved["SUMMARY"]) == str(master["SUMMARY"])


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        # a local UNTIL is read in the series' zone
        ("FREQ=WEEKLY;UNTIL=20260731T235900", "RRULE:FREQ=WEEKLY;UNTIL=20260731T155900Z"),
        # a date UNTIL: the whole of that local day
        ("FREQ=WEEKLY;UNTIL=20260731", "RRULE:FREQ=WEEKLY;UNTIL=20260731T155959Z"),
        ("FREQ=WEEKLY;UNTIL=20260731T155900Z", "RRULE:FREQ=WEEKLY;UNTIL=20260731T155900Z"),
        ("FREQ=WEEKLY;COUNT=4", "RRULE:FREQ=WEEKLY;COUNT=4"),
    ],
)
def test_rule_text_until_is_written_in_utc(rule, expected):
    body = feed(patrol(recurrence=Recurrence(rule=rule)))

    assert expected in unfolded(body)
    got = occurrences(body, date(2026, 7, 1), date(2026, 9, 1))
    assert [start for start, *_ in got] == [local(2026, 7, d, 8) for d in (4, 11, 18, 25)]


@pytest.mark.parametrize(
    ("recurrence", "message"),
    [
        (Recurrence(rule="FREQ=WEEKLY;COUNT=3;UNTIL=20260731T155900Z"), "both UNTIL and COUNT"),
        (Recurrence(rule="COUNT=3"), "no FREQ"),
        (
            Recurrence.weekly(
                count=4,
                excluded=[local(2026, 7, 18, 8)],
                overrides=[
                    Override(
                        recurrence_id=local(2026, 7, 18, 8),
                        starts_at=local(2026, 7, 19, 8),
                        ends_at=local(2026, 7, 19, 12),
                    )
                ],
            ),
            "both excluded and overridden",
        ),
    ],
)
def test_contradictory_recurrence_is_refused(recurrence, message):
    with pytest.raises(ValueError, match=message):
        feed(patrol(recurrence=recurrence))


def test_a_uid_used_twice_is_refused():
    with pytest.raises(ValueError, match="twice"):
        feed(event(), event(title="另一个"))


# ----------------------------------------------------------------- content


def test_cancelled_event_is_kept_with_status_cancelled():
    body = feed(event(cancelled=True, sequence=3), event(uid="event-9@volunteer-hub"))

    statuses = {str(e["UID"]): str(e["STATUS"]) for e in vevents(body)}
    assert statuses == {"event-8@volunteer-hub": "CANCELLED", "event-9@volunteer-hub": "CONFIRMED"}
    assert b"STATUS:CANCELLED\r\n" in body
    cancelled = next(e for e in vevents(body) if str(e["STATUS"]) == "CANCELLED")
    assert str(cancelled["SUMMARY"]) == "【已取消】红色宣讲进校园"


def test_a_cancelled_series_cancels_its_moved_weeks_too():
    body = feed(patrol(cancelled=True, sequence=4))

    got = occurrences(body, date(2026, 7, 1), date(2026, 8, 1))
    assert len(got) == 3
    assert {status for *_, status in got} == {"CANCELLED"}


def test_location_url_and_categories():
    (parsed,) = vevents(feed(event()))

    assert str(parsed["LOCATION"]) == "东港社区党群服务中心，鄂州市鄂城区东港路1号"
    assert str(parsed["URL"]) == "https://vh.example.cn/events/8"
    assert (
        str(parsed["DESCRIPTION"]) == "讲述抗洪抢险的故事\n\n详情：https://vh.example.cn/events/8"
    )
    assert [str(c) for c in parsed["CATEGORIES"].cats] == ["红色宣讲"]


def test_phone_like_digits_are_masked_everywhere():
    body = build_feed(
        FeedInput(
            name="鄂城区 13800138000",
            description="值班 027-8888 6666",
            events=[
                event(
                    title="巡查，联系 138 0013 8000",
                    description="队长１３９００１３９０００，座机 0711-3456789，2026-07-10 08:00 集合",
                    location="堤防 13700137000 号岗",
                    categories=("13600136000",),
                )
            ],
        )
    )

    cal = Calendar.from_ical(body)
    (parsed,) = cal.walk("VEVENT")
    texts = [str(cal[name]) for name in ("X-WR-CALNAME", "X-WR-CALDESC")]
    texts += [str(parsed[name]) for name in ("SUMMARY", "DESCRIPTION", "LOCATION")]
    texts += [str(c) for c in parsed["CATEGORIES"].cats]
    for text in texts:
        # at most 7 digits of a number remain visible (138****8000), as in the SMS replies
        digits = re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", text))
        assert not re.search(r"\d{5,}", digits.replace("20260710", "")), text
    assert str(parsed["SUMMARY"]) == "巡查，联系 138****8000"
    assert "2026-07-10 08:00 集合" in str(parsed["DESCRIPTION"])
    assert "座机 071****6789" in str(parsed["DESCRIPTION"])
    assert str(cal["X-WR-CALNAME"]) == "鄂城区 138****8000"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("13800138000", "138****8000"),
        ("+86 138-0013-8000", "+861****8000"),
        ("027-88886666", "027****6666"),
        ("3456789", "****"),
        ("2026-07-10 08:00", "2026-07-10 08:00"),
        ("班次码 123456", "班次码 123456"),
        ("2026年7月10日", "2026年7月10日"),
    ],
)
def test_mask_phone_like(text, masked):
    assert mask_phone_like(text) == masked


def test_control_characters_are_removed():
    (parsed,) = vevents(feed(event(title="防汛\x0b巡查\t一队", description="第一行\r\n第二行\x00")))

    assert str(parsed["SUMMARY"]) == "防汛巡查 一队"
    assert str(parsed["DESCRIPTION"]).startswith("第一行\n第二行\n\n详情：")


# ------------------------------------------------------------ special feeds


def test_empty_feed_is_a_valid_calendar():
    body = feed()

    cal = Calendar.from_ical(body)
    assert [c.name for c in cal.subcomponents] == ["VTIMEZONE"]
    assert list(cal.walk("VEVENT")) == []
    assert occurrences(body, date(2026, 1, 1), date(2027, 1, 1)) == []
    assert b"X-WR-CALNAME" in body


def test_single_event_download():
    body = build_single_event(event(title=LONG_TITLE), "我的志愿服务")

    cal = Calendar.from_ical(body)
    (parsed,) = cal.walk("VEVENT")
    assert str(parsed["SUMMARY"]) == LONG_TITLE
    assert len(cal.walk("VTIMEZONE")) == 1
    assert "X-WR-CALNAME:我的志愿服务".encode() in lines(body)
    assert max(len(line) for line in lines(body)) <= 75
    assert build_single_event(event(title=LONG_TITLE), "我的志愿服务") == body


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"uid": "event 8"}, "ASCII identifier"),
        ({"uid": "活动-8"}, "ASCII identifier"),
        ({"zone": "Asia/Wuhan"}, "unknown time zone"),
        ({"ends_at": local(2026, 7, 10, 9)}, "before starts_at"),
    ],
)
def test_input_no_client_could_use_is_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        feed(event(**kw))
