"""Data and rebuild timings for bench/feed_serve.py, in a process of its own against
DATABASE_URL. Not meant to be run by hand.

    _feed_data.py setup <events in the big unit> <events in the small unit>
        Makes 湖北省 › 鄂州市 › 鄂城区 (the big unit: streets, several teams, the events) and
        › 华容区 (the small unit: one team, the small number of events), through the real
        services: units, teams, an admin, volunteers, events with shifts (every 20th a
        weekly series with one week skipped and one moved; every 25th cancelled), some
        signups; then one unit-scope feed of each district via calendar services. Prints
        one line of JSON: the feeds' ids and tokens, and counts.

    _feed_data.py rebuild <repeat> <feed_id> [<feed_id> ...]
        For each feed, alternating, ``repeat`` times after a warm-up: marks it owed a rebuild
        with a body that must change, then times the worker's actor function
        (``calendar.tasks.rebuild_feed.fn``: claim, queries, build, store, commit) and counts
        its SQL statements; then times icalendar alone (``bench/feed_build.py``'s
        ``bare_icalendar``) serialising the very FeedEvents that rebuild built from. Prints
        one line of JSON with the medians.

    _feed_data.py profile-rebuild <feed_id>
        One more rebuild of the feed under pyinstrument (if installed); prints its text
        report (the frames above 2 % of the time) to stderr.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import event as sa_event
from sqlalchemy import update

sys.path.insert(0, str(Path(__file__).resolve().parent))

from volunteer_hub import create_app
from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.auth.services import create_user
from volunteer_hub.calendar import ics, services, tasks
from volunteer_hub.calendar.models import Feed
from volunteer_hub.db import utcnow
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.events.services import (
    EventInput,
    ShiftInput,
    cancel_event,
    create_event,
    find_category,
)
from volunteer_hub.extensions import db
from volunteer_hub.people.services import get_or_create_person
from volunteer_hub.signups import services as signups
from volunteer_hub.teams.services import create_team
from volunteer_hub.units.services import create_unit

TITLES = [
    "汛期长江堤防巡查",
    "红色宣讲进校园",
    "走访慰问老党员老战士",
    "护苗护学交通执勤",
    "乡村振兴助农采摘",
    "双拥灯光秀志愿服务",
]
PLACES = [
    "鄂城区长江堤防三号段，鄂州市鄂城区滨江大道",
    "东港社区党群服务中心，鄂州市鄂城区古楼街道东港路",
    "凤凰街道新时代文明实践站，鄂州市鄂城区凤凰路",
    "西山街道办事处，鄂州市鄂城区西山路",
]
CATEGORIES = ["防汛抗旱", "红色宣讲", "走访慰问", "护苗护学", "乡村振兴", "双拥灯光秀"]
DESCRIPTION = (
    "请于开始前十五分钟到达集合点，穿好志愿者马甲，带好雨衣、手电和饮用水。"
    "到场后向队长签到，结束后短信回复“签退”加班次码。遇雷雨天气活动顺延，另行通知。"
)
ADMIN_PHONE = "+8613900008001"
#: +86 139 03xx xxxx: synthetic volunteers
VOLUNTEER_BASE = 13903000000
VOLUNTEERS = 120
COMMIT_EVERY = 50


def _category_ids() -> list[int]:
    ids = []
    for name in CATEGORIES:
        category = find_category(name)
        if category is not None:
            ids.append(category.id)
    return ids or [find_category("防汛抗旱").id]


def _make_events(team_ids: list[int], n: int, leader_id: int, volunteers: list[int]) -> dict:
    """``n`` events spread over the teams, through events.services and signups.services."""
    categories = _category_ids()
    start0 = (utcnow() + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    counts = {"events": 0, "shifts": 0, "series": 0, "cancelled": 0, "signups": 0}
    for i in range(n):
        team_id = team_ids[i % len(team_ids)]
        start = start0 + timedelta(days=i % 150, hours=(i * 7) % 10)
        series = i % 20 == 0
        if series:  # a weekly patrol: six weeks of one shift each
            shifts = [
                ShiftInput(
                    starts_at=start + timedelta(weeks=w),
                    ends_at=start + timedelta(weeks=w, hours=3),
                    capacity=6,
                    title="巡堤",
                )
                for w in range(6)
            ]
        else:
            shifts = [
                ShiftInput(
                    starts_at=start + timedelta(hours=4 * s),
                    ends_at=start + timedelta(hours=4 * s + 4),
                    capacity=5 + s * 3,
                    title=("上午班", "下午班", "晚班")[s],
                )
                for s in range(1 + i % 3)
            ]
        event = create_event(
            team_id,
            EventInput(
                title=f"{TITLES[i % len(TITLES)]}（第{i + 1}期）",
                category_id=categories[i % len(categories)],
                location=PLACES[i % len(PLACES)],
                description=DESCRIPTION,
            ),
            shifts,
            created_by_id=leader_id,
        )
        db.session.flush()
        shift_rows = db.session.scalars(
            db.select(Shift).where(Shift.event_id == event.id).order_by(Shift.starts_at)
        ).all()
        counts["events"] += 1
        counts["shifts"] += len(shift_rows)
        if series:
            db.session.execute(
                update(Event)
                .where(Event.id == event.id)
                .values(recurrence_rule="FREQ=WEEKLY;COUNT=6")
                .execution_options(synchronize_session=False)
            )
            for shift in shift_rows:
                shift.series_starts_at = shift.starts_at
            db.session.flush()
            signups.cancel_shift(shift_rows[2].id)  # week 3 skipped
            moved = shift_rows[3].starts_at + timedelta(days=1)  # week 4 a day later
            shift_rows[3].starts_at = moved
            shift_rows[3].ends_at = moved + timedelta(hours=3)
            counts["series"] += 1
        # Some signups: on every third event, a few volunteers on its first shift.
        if i % 3 == 0:
            for k in range(1 + i % 4):
                person_id = volunteers[(i + k * 37) % len(volunteers)]
                try:
                    # the admin signs them up, as an overseer may anyone
                    signups.sign_up(
                        shift_rows[0].id, person_id, "leader", acted_by_id=leader_id, overseer=True
                    )
                    counts["signups"] += 1
                except signups.AlreadySignedUp:
                    pass
        if i % 25 == 1:
            cancel_event(event.id, "天气原因")
            counts["cancelled"] += 1
        if i % COMMIT_EVERY == COMMIT_EVERY - 1:
            db.session.commit()
    db.session.commit()
    return counts


def setup(n_big: int, n_small: int) -> dict:
    app = create_app()
    with app.app_context():
        province = create_unit("湖北省", None)
        city = create_unit("鄂州市", province.id)
        big = create_unit("鄂城区", city.id)
        small = create_unit("华容区", city.id)
        team_ids = []
        for street_name in ("古楼街道", "凤凰街道", "西山街道", "新庙镇"):
            street = create_unit(street_name, big.id)
            for t in range(2):
                team_ids.append(
                    create_team(street.id, f"{street_name}退役军人志愿服务{t + 1}队").id
                )
        small_street = create_unit("华容镇", small.id)
        small_team = create_team(small_street.id, "华容镇退役军人志愿服务队").id
        admin = create_user(ADMIN_PHONE, "压测管理员", "admin", "bench-password-2026")
        volunteers = [
            get_or_create_person(f"压测志愿者{n:03d}", str(VOLUNTEER_BASE + n))[0].id
            for n in range(VOLUNTEERS)
        ]
        db.session.commit()
        started = time.perf_counter()
        big_counts = _make_events(team_ids, n_big, admin.id, volunteers)
        small_counts = _make_events([small_team], n_small, admin.id, volunteers)
        made_in = time.perf_counter() - started

        viewer = Viewer(person_id=admin.id, is_admin=True)
        big_feed = services.create_feed("unit", big.id, [], viewer)
        small_feed = services.create_feed("unit", small.id, [], viewer)
        db.session.commit()
        return {
            "big": {"feed_id": big_feed.feed.id, "token": big_feed.token, **big_counts},
            "small": {"feed_id": small_feed.feed.id, "token": small_feed.token, **small_counts},
            "teams": len(team_ids) + 1,
            "volunteers": VOLUNTEERS,
            "made_in_s": round(made_in, 1),
        }


class _Counter:
    """SQL statements (and their time) on the engine, and build_feed's own time."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.sql_s = 0.0
        self.build_s = 0.0
        self.inputs: list[ics.FeedInput] = []
        self._t0 = 0.0

    def before(self, _conn, _cursor, statement, *_args) -> None:
        self.statements.append(" ".join(statement.split())[:160])
        self._t0 = time.perf_counter()

    def after(self, *_args) -> None:
        self.sql_s += time.perf_counter() - self._t0

    def reset(self) -> None:
        self.statements, self.sql_s, self.build_s, self.inputs = [], 0.0, 0.0, []


def rebuild(repeat: int, feed_ids: list[int]) -> dict:
    import feed_build  # bench/feed_build.py: the icalendar-alone baseline

    # The app as a Dramatiq worker process has it, which is where rebuild_feed runs: no
    # web side, and what the import built frozen out of the collector's way.
    from volunteer_hub.worker import app

    counter = _Counter()
    real_build_feed = ics.build_feed

    def timed_build_feed(feed_input: ics.FeedInput) -> bytes:
        t0 = time.perf_counter()
        try:
            return real_build_feed(feed_input)
        finally:
            counter.build_s += time.perf_counter() - t0
            counter.inputs.append(feed_input)

    ics.build_feed = timed_build_feed  # content.build_body calls ics.build_feed
    out: dict = {}
    with app.app_context():
        engine = db.engine
        sa_event.listen(engine, "before_cursor_execute", counter.before)
        sa_event.listen(engine, "after_cursor_execute", counter.after)
        samples: dict[int, dict[str, list]] = {
            f: {"total": [], "sql": [], "build": [], "bare": [], "queries": [], "changed": []}
            for f in feed_ids
        }
        inputs: dict[int, ics.FeedInput] = {}

        def owe(feed_id: int) -> None:
            # Owed a rebuild, and the stored ETag differs from what the build will give:
            # the worker's full path, body written (as after a real change).
            db.session.execute(
                update(Feed)
                .where(Feed.id == feed_id)
                .values(stale_since=utcnow(), etag="bench-forced-change")
                .execution_options(synchronize_session=False)
            )
            db.session.commit()
            db.session.close()

        def one(feed_id: int, keep: bool) -> None:
            owe(feed_id)
            counter.reset()
            t0 = time.perf_counter()
            tasks.rebuild_feed.fn(feed_id)
            total = time.perf_counter() - t0
            statements = list(counter.statements)  # the rebuild's, before our check below
            changed = db.session.scalar(db.select(Feed.etag).where(Feed.id == feed_id))
            db.session.rollback()
            inputs[feed_id] = counter.inputs[-1]
            if keep:
                s = samples[feed_id]
                s["total"].append(total)
                s["sql"].append(counter.sql_s)
                s["build"].append(counter.build_s)
                s["queries"].append(len(statements))
                s["changed"].append(changed != "bench-forced-change")
                samples[feed_id]["statements"] = statements

        def bare(feed_id: int, keep: bool) -> None:
            feed_input = inputs[feed_id]
            t0 = time.perf_counter()
            feed_build.bare_icalendar(feed_input.name, list(feed_input.events))
            if keep:
                samples[feed_id]["bare"].append(time.perf_counter() - t0)

        for feed_id in feed_ids:  # warm-up: imports, caches, connections
            one(feed_id, keep=False)
            bare(feed_id, keep=False)
        for _ in range(repeat):
            for feed_id in feed_ids:
                one(feed_id, keep=True)
                bare(feed_id, keep=True)
        sa_event.remove(engine, "before_cursor_execute", counter.before)
        sa_event.remove(engine, "after_cursor_execute", counter.after)
        for feed_id in feed_ids:
            s = samples[feed_id]
            feed_input = inputs[feed_id]
            body_size = db.session.scalar(
                db.select(db.func.length(Feed.body)).where(Feed.id == feed_id)
            )
            ms = {k: round(statistics.median(s[k]) * 1000, 2) for k in ("total", "sql", "build")}
            bare_ms = round(statistics.median(s["bare"]) * 1000, 2)
            out[str(feed_id)] = {
                "events": len(feed_input.events),
                "vevents_series": sum(1 for e in feed_input.events if e.recurrence),
                "body_bytes": body_size,
                "rebuild_ms": ms["total"],
                "sql_ms": ms["sql"],
                "build_feed_ms": ms["build"],
                "other_ms": round(ms["total"] - ms["sql"] - ms["build"], 2),
                "icalendar_alone_ms": bare_ms,
                "ratio": round(ms["total"] / bare_ms, 3) if bare_ms else None,
                "build_feed_ratio": round(ms["build"] / bare_ms, 3) if bare_ms else None,
                "queries": sorted(set(s["queries"])),
                "all_changed": all(s["changed"]),
                "runs": len(s["total"]),
                "rebuild_ms_all": [round(t * 1000, 1) for t in s["total"]],
                "statements": s["statements"],
            }
    return out


def profile_rebuild(feed_id: int) -> dict:
    try:
        from pyinstrument import Profiler
    except ImportError:
        return {"error": "pyinstrument is not installed (.venv/bin/pip install pyinstrument)"}
    from volunteer_hub.worker import app  # as in rebuild()

    with app.app_context():
        owe = (
            update(Feed)
            .where(Feed.id == feed_id)
            .values(stale_since=utcnow(), etag="bench-forced-change")
            .execution_options(synchronize_session=False)
        )
        db.session.execute(owe)
        db.session.commit()
        tasks.rebuild_feed.fn(feed_id)  # warm-up
        db.session.execute(owe)
        db.session.commit()
        profiler = Profiler(interval=0.0005)
        profiler.start()
        tasks.rebuild_feed.fn(feed_id)
        profiler.stop()
        sys.stderr.write(profiler.output_text(unicode=True, color=False, show_all=False))
        return {"seconds": round(profiler.last_session.duration, 3)}


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "setup":
        result = setup(int(sys.argv[2]), int(sys.argv[3]))
    elif command == "rebuild":
        result = rebuild(int(sys.argv[2]), [int(a) for a in sys.argv[3:]])
    elif command == "profile-rebuild":
        result = profile_rebuild(int(sys.argv[2]))
    else:
        raise SystemExit(f"unknown command {command!r}")
    print(json.dumps(result, ensure_ascii=False))
