"""How long `build_feed` takes, against icalendar alone serialising the same events.

Issue 4 wants a feed rebuilt within 1.5x of what icalendar itself needs. For 10, 100 and
1,000 events (Chinese titles and descriptions, a place and an address, a category;
every 20th a weekly series with one week skipped and one moved, every 25th cancelled)
it times:

- ``build_feed``: our builder, from the plain input dataclasses to bytes;
- a bare icalendar loop: the same calendar properties, the same VTIMEZONE (built once,
  outside the timing, as build_feed caches it), the same VEVENTs with the same
  properties added with ``Event.add`` (times converted to Asia/Shanghai, RRULE, EXDATE,
  the override), then ``Calendar.to_ical()``; none of our cleaning, masking or checks.

Each is run ``--repeat`` times after a warm-up, alternating, and the median is shown with
the ratio. No database, no app; it only needs the virtualenv:

    .venv/bin/python bench/feed_build.py [--sizes 10,100,1000] [--repeat 15] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import icalendar  # noqa: E402
from icalendar import Calendar, Event, Timezone, vDuration, vRecur  # noqa: E402

from volunteer_hub.calendar.ics import (  # noqa: E402
    FeedEvent,
    FeedInput,
    Override,
    Recurrence,
    build_feed,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
TITLES = [
    "汛期长江堤防巡查",
    "红色宣讲进校园",
    "走访慰问老党员老战士",
    "护苗护学交通执勤",
    "乡村振兴助农采摘",
]
PLACES = ["鄂城区长江堤防", "东港社区党群服务中心", "凤凰街道新时代文明实践站", "西山街道办事处"]
DESCRIPTION = (
    "请于开始前十五分钟到达集合点，穿好志愿者马甲，带好雨衣、手电和饮用水。"
    "班次：上午 08:00-12:00 十人；下午 14:00-18:00 八人。到场后向队长签到，"
    "结束后短信回复“签退”加班次码。遇雷雨天气活动顺延，另行通知。"
)


def make_events(n: int) -> list[FeedEvent]:
    base = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)
    events = []
    for i in range(n):
        start = base + timedelta(days=i % 120, hours=i % 9)
        recurrence = None
        if i % 20 == 0:
            recurrence = Recurrence.weekly(
                until=start + timedelta(weeks=10),
                excluded=[start + timedelta(weeks=2)],
                overrides=[
                    Override(
                        recurrence_id=start + timedelta(weeks=3),
                        starts_at=start + timedelta(weeks=3, days=1),
                        ends_at=start + timedelta(weeks=3, days=1, hours=4),
                        sequence=i % 7 + 1,
                    )
                ],
            )
        events.append(
            FeedEvent(
                uid=f"event-{i}@volunteer-hub",
                title=f"{TITLES[i % len(TITLES)]}（第{i}期）",
                starts_at=start,
                ends_at=start + timedelta(hours=4),
                last_modified=datetime(2026, 5, 1, tzinfo=UTC) + timedelta(minutes=i),
                sequence=i % 7 + 1,  # a revision: every event was saved at least once
                description=DESCRIPTION,
                location=PLACES[i % len(PLACES)],
                address=f"鄂州市鄂城区滨江大道{i}号",
                url=f"https://vh.example.cn/events/{i}",
                cancelled=i % 25 == 1,
                categories=("防汛抗旱",),
                recurrence=recurrence,
            )
        )
    return events


VTIMEZONE = Timezone.from_tzid("Asia/Shanghai", first_date=datetime(2000, 1, 1).date())


def bare_icalendar(name: str, events: list[FeedEvent]) -> bytes:
    """What icalendar alone does for the same calendar: the reference for the ratio."""
    cal = Calendar()
    cal.add("PRODID", "-//bench//bare icalendar//ZH")
    cal.add("VERSION", "2.0")
    cal.add("CALSCALE", "GREGORIAN")
    cal.add("METHOD", "PUBLISH")
    cal.add("X-WR-CALNAME", name)
    cal.add("X-WR-CALDESC", name)
    cal.add("X-WR-TIMEZONE", "Asia/Shanghai")
    cal.add("REFRESH-INTERVAL", vDuration(timedelta(hours=1)), parameters={"VALUE": "DURATION"})
    cal.add("X-PUBLISHED-TTL", vDuration(timedelta(hours=1)))
    cal.add_component(VTIMEZONE)
    for e in events:
        ev = Event()
        ev.add("UID", e.uid)
        ev.add("DTSTAMP", e.last_modified)
        ev.add("LAST-MODIFIED", e.last_modified)
        ev.add("SEQUENCE", e.sequence)
        ev.add("DTSTART", e.starts_at.astimezone(SHANGHAI))
        ev.add("DTEND", e.ends_at.astimezone(SHANGHAI))
        ev.add("SUMMARY", e.title)
        ev.add("DESCRIPTION", e.description)
        ev.add("LOCATION", e.location + "，" + e.address)
        ev.add("URL", e.url)
        ev.add("CATEGORIES", list(e.categories))
        ev.add("STATUS", "CANCELLED" if e.cancelled else "CONFIRMED")
        cal.add_component(ev)
        if e.recurrence is None:
            continue
        ev.add("RRULE", vRecur.from_ical(e.recurrence.rule))
        for day in e.recurrence.excluded:
            ev.add("EXDATE", [day.astimezone(SHANGHAI)])
        for o in e.recurrence.overrides:
            ov = Event()
            ov.add("UID", e.uid)
            ov.add("RECURRENCE-ID", o.recurrence_id.astimezone(SHANGHAI))
            ov.add("DTSTAMP", e.last_modified)
            ov.add("LAST-MODIFIED", e.last_modified)
            ov.add("SEQUENCE", max(e.sequence, o.sequence or 0))
            ov.add("DTSTART", o.starts_at.astimezone(SHANGHAI))
            ov.add("DTEND", o.ends_at.astimezone(SHANGHAI))
            ov.add("SUMMARY", e.title)
            ov.add("DESCRIPTION", e.description)
            ov.add("LOCATION", e.location + "，" + e.address)
            ov.add("URL", e.url)
            ov.add("CATEGORIES", list(e.categories))
            ov.add("STATUS", "CANCELLED" if e.cancelled else "CONFIRMED")
            cal.add_component(ov)
    return cal.to_ical()


def timed(fn, *args) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - t0, out


def measure(n: int, repeat: int) -> dict:
    events = make_events(n)
    name = "鄂城区 · 防汛抗旱"
    feed = FeedInput(name=name, description=name, events=events)
    ours, bare = [], []
    # warm-up, which also fills build_feed's VTIMEZONE cache
    build_feed(feed)
    bare_icalendar(name, events)
    for _ in range(repeat):
        t, ours_body = timed(build_feed, feed)
        ours.append(t)
        t, bare_body = timed(bare_icalendar, name, events)
        bare.append(t)
    ours_ms, bare_ms = statistics.median(ours) * 1e3, statistics.median(bare) * 1e3
    return {
        "events": n,
        "build_feed_ms": round(ours_ms, 2),
        "icalendar_ms": round(bare_ms, 2),
        "ratio": round(ours_ms / bare_ms, 3),
        "build_feed_bytes": len(ours_body),
        "icalendar_bytes": len(bare_body),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()

    machine = {
        "python": platform.python_version(),
        "icalendar": icalendar.__version__,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "cpus": os.cpu_count(),
        "load": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    print(
        f"Python {machine['python']}, icalendar {machine['icalendar']}, "
        f"{machine['machine']}, {machine['cpus']} CPUs, load {machine['load']:.2f}"
    )
    print(f"median of {args.repeat} runs each, alternating")
    print(f"{'events':>7} {'build_feed':>12} {'icalendar':>12} {'ratio':>7} {'bytes':>10}")
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        row = measure(n, args.repeat)
        rows.append(row)
        print(
            f"{row['events']:>7} {row['build_feed_ms']:>10.2f}ms {row['icalendar_ms']:>10.2f}ms "
            f"{row['ratio']:>6.2f}x {row['build_feed_bytes']:>10,}"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
