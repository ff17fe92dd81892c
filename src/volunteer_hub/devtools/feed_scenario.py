"""The calendar-feed conformance scenario: every feed kind, version by version.

    python -m volunteer_hub.devtools.feed_scenario OUTDIR [--database-url URL]

On a fresh SQLite database (in a temporary folder; ``--database-url`` names another,
which must be empty) it builds, through the real services, four feeds: a volunteer's
person feed, a team feed, a unit (district) feed and the same unit filtered to
防汛抗旱. Then it plays the scenario of issue 4 (creation, a time change, a place
change, a cancelled shift, a cancelled event, a weekly patrol with one week skipped and
one moved) and after each step rebuilds every feed and writes its body to
``OUTDIR/<feed>/<NN-step>.ics``. ``.ci/run`` hands every version to the iCalendar
conformance checker, and each consecutive pair to its ``--previous`` check;
tests/calendar/test_feed_scenario.py checks the same versions with icalendar and
recurring-ical-events.

:func:`run_scenario` does the work in the current app context (the tests call it on
their own database); :func:`main` makes the app and the database.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time as clock
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.auth.services import create_user
from volunteer_hub.calendar import services as feeds
from volunteer_hub.calendar.models import Feed
from volunteer_hub.events import services as events
from volunteer_hub.events.models import Category, Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import SignupSource
from volunteer_hub.teams.services import add_member, create_team
from volunteer_hub.units.services import create_unit

#: the feeds of the scenario, in the order they are written
FEEDS = ("person", "team", "unit", "unit-flood")
FLOOD = "防汛抗旱"
SHANGHAI = ZoneInfo("Asia/Shanghai")

LONG_DESCRIPTION = (
    "老兵讲述一九九八年长江抗洪的亲身经历：连续奋战四十多个昼夜，人在堤在。"
    "活动面向社区青少年和居民，请提前十分钟到场，统一佩戴志愿服务标识；"
    "如遇雷雨天气改在社区党群服务中心二楼会议室举行。"
)


@dataclass
class Scenario:
    """What the scenario made: each feed's versions, and the facts tests check them by."""

    #: feed name → [(step name, body)] in order
    versions: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)
    feed_ids: dict[str, int] = field(default_factory=dict)
    #: event ids by role: lecture (moved, re-placed, a shift cancelled), river (another
    #: team, 防汛抗旱), school (cancelled), patrol (weekly)
    events: dict[str, int] = field(default_factory=dict)
    #: the patrol's occurrences as the last step leaves them: (start, end) in UTC
    patrol_occurrences: list[tuple[datetime, datetime]] = field(default_factory=list)
    #: the rule start of the skipped week, and (rule start, new start) of the moved one
    patrol_skipped: datetime | None = None
    patrol_moved: tuple[datetime, datetime] | None = None
    volunteer_id: int | None = None
    outdir: Path | None = None


def run_scenario(
    outdir: Path | None = None, today: datetime | None = None, *, paced: bool = False
) -> Scenario:
    """Play the scenario in the current app context (on an empty database); write the
    versions to ``outdir`` when given. Everything is committed.

    ``paced``: start each step on a new second of the clock. iCalendar stamps have whole
    seconds, so steps played within one second leave DTSTAMP and LAST-MODIFIED where they
    were (SEQUENCE still goes up); people editing an event are never that fast, and the
    conformance checker warns about it. The command paces (about ten seconds in all);
    tests do not need to.
    """
    play = _Play(Scenario(outdir=outdir), today or datetime.now(UTC), paced=paced)
    play.build_world()
    play.issue_feeds()
    play.snapshot("00-empty")

    play.post_three_events()
    play.snapshot("01-created")

    play.edit("lecture", move=timedelta(days=1))
    play.snapshot("02-time-changed")
    play.edit("lecture", location="凤凰街道退役军人服务站（凤凰路 18 号）")
    play.snapshot("03-place-changed")
    play.edit("lecture", drop={play.lecture_afternoon_id})
    play.snapshot("04-shift-cancelled")

    play.call_off_school_escort()
    play.snapshot("05-event-cancelled")

    play.post_weekly_patrol()
    play.snapshot("06-patrol-created")
    play.skip_patrol_week()
    play.snapshot("07-week-skipped")
    play.move_patrol_week()
    play.snapshot("08-week-moved")

    play.note_patrol_occurrences()
    return play.scenario


class _Play:
    """The scenario's world and the moves it is played with, step by step."""

    def __init__(self, scenario: Scenario, today: datetime, *, paced: bool) -> None:
        self.scenario = scenario
        self.paced = paced
        local_today = today.astimezone(SHANGHAI).date()
        # Monday of the week after next: every shift is ahead, whatever today is.
        self.monday = local_today + timedelta(days=14 - local_today.weekday())

    # -- the world and its feeds --------------------------------------------------------

    def build_world(self) -> None:
        """鄂州市 › 鄂城区 › 凤凰街道, a team on each of the two lower levels, a leader,
        a district coordinator and a volunteer."""

        city = create_unit("鄂州市", None, "city")
        self.district = create_unit("鄂城区", city.id, "district")
        street = create_unit("凤凰街道", self.district.id, "street")
        self.team = create_team(street.id, "凤凰街道退役军人志愿服务队")
        self.river_team = create_team(self.district.id, "鄂城区长江卫士应急救援队")
        self.leader = create_user("+8613900000001", "张队长", "leader", team_id=self.team.id)
        self.coordinator = create_user(
            "+8613900000002", "鄂城区协调员", "coordinator", unit_id=self.district.id
        )
        self.volunteer = db.session.get(
            Person, add_member(self.team.id, "王建国", "+8613800138000").person_id
        )
        db.session.commit()
        self.scenario.volunteer_id = self.volunteer.id

    def issue_feeds(self) -> None:
        """The four feeds of FEEDS, each issued by someone allowed to see it."""
        self.scenario.feed_ids = {
            "person": self._issue("person", self.volunteer.id, self.volunteer),
            "team": self._issue("team", self.team.id, self.leader),
            "unit": self._issue("unit", self.district.id, self.coordinator),
            "unit-flood": self._issue(
                "unit", self.district.id, self.coordinator, [self._category(FLOOD)]
            ),
        }

    def snapshot(self, step: str) -> None:
        """Commit, rebuild every feed and keep (and write) its body as version ``step``."""

        db.session.commit()
        if self.paced:
            clock.sleep(1.05 - datetime.now(UTC).microsecond / 1_000_000)
        for name in FEEDS:
            feed_id = self.scenario.feed_ids[name]
            feeds.rebuild_feed(feed_id)
            db.session.commit()
            body = db.session.scalar(select(Feed.body).where(Feed.id == feed_id))
            self.scenario.versions.setdefault(name, []).append((step, body))
            if self.scenario.outdir is not None:
                folder = self.scenario.outdir / name
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{step}.ics").write_bytes(body)

    # -- the steps ----------------------------------------------------------------------

    def post_three_events(self) -> None:
        """01: the lecture (two shifts), the river patrol (another team, 防汛抗旱) and
        the school escort; the volunteer signs up to both lecture shifts and the escort."""

        lecture = self._post(
            self.team.id,
            "红色宣讲进社区：老兵讲述一九九八年长江抗洪故事",
            "红色宣讲",
            "凤凰街道莲花山社区党群服务中心",
            [((2, 9), (2, 11), 3, "讲解员"), ((2, 14), (2, 16), 3, "引导员")],
            by=self.leader.id,
            description=LONG_DESCRIPTION,
        )
        river = self._post(
            self.river_team.id,
            "长江江堤防汛巡查",
            FLOOD,
            "鄂城区长江江堤",
            [((3, 7), (3, 10), 8, "巡堤")],
        )
        school = self._post(
            self.team.id,
            "护苗护学：凤凰小学上学路口值守",
            "护苗护学",
            "凤凰小学东门",
            [((4, 7), (4, 8, 30), 4, "早班")],
            by=self.leader.id,
        )
        self.scenario.events = {"lecture": lecture.id, "river": river.id, "school": school.id}
        first, second = self._shifts_of(lecture.id)
        self.lecture_afternoon_id = second.id
        for shift_id in (first.id, second.id, self._shifts_of(school.id)[0].id):
            signups.sign_up(shift_id, self.volunteer.id, SignupSource.WEB)

    def edit(self, role: str, *, location=None, move=None, drop=(), moved=None) -> None:
        """Change the event of ``role`` through events.update_event, as the edit page and
        the API do: another ``location``; every shift moved by ``move``; the shifts of
        ``drop`` (ids) cancelled; ``moved`` (id → (start, end)) shifts set anew."""

        event_id = self.scenario.events[role]
        event = db.session.get(Event, event_id)
        data = events.EventInput(
            title=event.title,
            category_id=event.category_id,
            location=event.location if location is None else location,
            description=event.description,
            status=event.status,
        )
        rows = []
        for shift in self._shifts_of(event_id):
            if shift.is_cancelled or shift.id in drop:
                continue
            starts_at, ends_at = shift.starts_at, shift.ends_at
            if move is not None:
                starts_at, ends_at = starts_at + move, ends_at + move
            if moved and shift.id in moved:
                starts_at, ends_at = moved[shift.id]
            rows.append(
                events.ShiftInput(
                    id=shift.id,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    capacity=shift.capacity,
                    title=shift.title,
                )
            )
        events.update_event(event_id, data, rows)

    def call_off_school_escort(self) -> None:
        """05: the whole event is cancelled."""

        events.cancel_event(self.scenario.events["school"], "暴雨红色预警，学校停课")

    def post_weekly_patrol(self) -> None:
        """06: a weekly flood patrol, six Monday evenings; the volunteer takes weeks 2-4."""

        patrol = events.create_repeating_event(
            self.team.id,
            events.EventInput(
                title="汛期每周江堤夜间巡查",
                category_id=self._category(FLOOD),
                location="鄂城区长江江堤",
            ),
            events.ShiftInput(
                starts_at=self._at(0, 19), ends_at=self._at(0, 21), capacity=6, title="夜巡"
            ),
            events.RepeatInput(weeks=6),
            created_by_id=self.leader.id,
        )
        self.scenario.events["patrol"] = patrol.id
        self.patrol_weeks = self._shifts_of(patrol.id)
        for shift in self.patrol_weeks[1:4]:
            signups.sign_up(shift.id, self.volunteer.id, SignupSource.WEB)

    def skip_patrol_week(self) -> None:
        """07: week 2 is skipped (its shift dropped from the series)."""
        skipped = self.patrol_weeks[1]
        self.scenario.patrol_skipped = skipped.series_starts_at
        self.edit("patrol", drop={skipped.id})

    def move_patrol_week(self) -> None:
        """08: week 4 moves from Monday evening to Tuesday 08:00-10:00."""
        moved = self.patrol_weeks[3]
        new_start = moved.starts_at + timedelta(days=1) - timedelta(hours=11)  # Tue 08:00
        self.edit("patrol", moved={moved.id: (new_start, new_start + timedelta(hours=2))})
        self.scenario.patrol_moved = (moved.series_starts_at, new_start)

    def note_patrol_occurrences(self) -> None:
        self.scenario.patrol_occurrences = [
            (s.starts_at, s.ends_at)
            for s in self._shifts_of(self.scenario.events["patrol"])
            if not s.is_cancelled
        ]

    # -- helpers ------------------------------------------------------------------------

    def _at(self, day_offset: int, hh: int, mm: int = 0) -> datetime:
        """``hh:mm`` Shanghai time, ``day_offset`` days after the scenario's Monday."""
        local = datetime.combine(self.monday + timedelta(days=day_offset), time(hh, mm))
        return local.replace(tzinfo=SHANGHAI).astimezone(UTC)

    def _category(self, name: str) -> int:
        return db.session.scalar(select(Category.id).where(Category.name == name))

    def _shifts_of(self, event_id: int) -> list[Shift]:
        db.session.expire_all()
        return list(
            db.session.scalars(
                select(Shift).where(Shift.event_id == event_id).order_by(Shift.starts_at)
            )
        )

    def _issue(self, scope: str, target: int, who: Person, categories=()) -> int:
        issued = feeds.create_feed(scope, target, categories, viewer_for(who))
        db.session.flush()
        return issued.feed.id

    def _post(self, team_id, title, category_name, location, shifts, by=None, description=""):
        """Create an event; ``shifts``: (start, end, capacity, role), times as _at's args."""

        details = events.EventInput(
            title, self._category(category_name), location=location, description=description
        )
        rows = [
            events.ShiftInput(self._at(*start), self._at(*end), capacity, name)
            for start, end, capacity, name in shifts
        ]
        return events.create_event(team_id, details, rows, created_by_id=by)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m volunteer_hub.devtools.feed_scenario",
        description="Write every version of four calendar feeds over the issue-4 scenario.",
    )
    parser.add_argument("outdir", type=Path, help="where <feed>/<NN-step>.ics are written")
    parser.add_argument(
        "--database-url",
        help="an empty database to use (default: a fresh SQLite file in a temporary folder)",
    )
    parser.add_argument(
        "--base-url",
        default="https://vh.example.cn",
        help="PUBLIC_BASE_URL written into the feeds (links, UID host)",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="feed-scenario-") as scratch:
        # The app's instance folder (generated keys, the default database) stays out of
        # the checkout.
        os.environ["INSTANCE_PATH"] = scratch
        os.environ.setdefault("SECRET_KEY", "feed-scenario")
        from volunteer_hub import create_app
        from volunteer_hub.config import _sqlalchemy_url
        from volunteer_hub.extensions import upgrade_database

        database_url = args.database_url or f"sqlite:///{Path(scratch) / 'scenario.sqlite3'}"
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": _sqlalchemy_url(database_url),
                "REDIS_URL": None,  # actors sent after commits stay in the in-process broker
                "EMBEDDED_WORKER": False,
                "PUBLIC_BASE_URL": args.base_url.rstrip("/"),
                "SMS_BACKEND": "console",
            }
        )
        with app.app_context():
            upgrade_database()
            scenario = run_scenario(args.outdir, paced=True)
            db.session.remove()
            db.engine.dispose()
    for name in FEEDS:
        steps = scenario.versions[name]
        print(f"{name}: {len(steps)} versions in {args.outdir / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
