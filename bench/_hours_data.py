"""Three years of service records for ``bench/hours_report.py``, written with COPY.

Reads the teams, members and categories ``flask seed-demo --scale 417`` made, then for
each team and month lays out events, their shifts and one record per attendee, and
unplanned service (``shift_id`` NULL) the leader entered. Everything is generated in
memory a slice of teams at a time and written with psycopg 3's ``cursor.copy`` in
three COPY streams (event, shift, service_record) per slice, one transaction each.

What the data looks like (seeded ``random.Random``, so a run is repeatable):

* teams differ in how active they are (log-normal weights, times their size);
* each team serves mostly in two or three categories of its city (Ezhou's nine fields,
  Wuhan's "八个一" items); 防汛抗旱 only June–September, and then a lot for river teams;
  护苗护学 not in the school holidays; fewer services around the Spring Festival; a
  little more every year;
* 3–10 volunteers per shift; flood duty in 8-hour shifts, school-gate escorts 1 hour;
* about 5 % of records are unplanned service (night call-outs, searches);
* attendance: 5 % absent (no-shows, counted as nothing), 5 % late; half the present
  checked in and out by SMS (times jittered around the plan), 1 % of those forgot to
  check out and were closed at the shift's end;
* status: older than 45 days 95.5 % verified, 2 % rejected, 2.5 % still pending;
  the last 45 days 55 % pending;
* no signups rows: the hours code never reads them (``shift.filled`` stays 0).
"""

from __future__ import annotations

import math
import queue
import random
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

LOCAL_OFFSET = timedelta(hours=8)  # Asia/Shanghai, no DST since 1991

#: category -> (titles, shift patterns [(local start h, m, minutes)], weekdays only)
CATEGORY_SHAPES: dict[str, tuple[tuple[str, ...], tuple[tuple[int, int, int], ...], bool]] = {
    "基层治理": (
        ("社区网格巡逻", "矛盾纠纷调解", "小区安全隐患排查"),
        ((9, 0, 180), (14, 30, 150)),
        False,
    ),
    "护苗护学": (("校门口护学岗", "放学护送", "暑期防溺水宣传"), ((7, 0, 60), (16, 30, 60)), True),
    "红色宣讲": (
        ("老兵红色宣讲进校园", "“老兵永远跟党走”主题宣讲", "红色故事分享会"),
        ((9, 30, 120), (14, 30, 90)),
        False,
    ),
    "长江大保护": (
        ("长江岸线净滩行动", "禁捕退捕巡查", "湖泊清漂"),
        ((8, 30, 180), (14, 0, 180)),
        False,
    ),
    "防汛抗旱": (
        ("汛期江堤巡查值守", "长江江堤24小时值守", "抗旱送水"),
        ((0, 0, 480), (8, 0, 480), (16, 0, 480)),
        False,
    ),
    "抢险救灾": (("抢险救灾应急出勤", "转移安置受灾群众"), ((8, 0, 360), (14, 0, 240)), False),
    "文明创建": (
        ("文明城市创建劝导", "交通文明引导", "背街小巷环境整治"),
        ((8, 0, 120), (15, 0, 150)),
        False,
    ),
    "乡村振兴": (
        ("助农采收", "农村人居环境整治", "农技政策宣讲"),
        ((8, 30, 240), (14, 0, 180)),
        False,
    ),
    "扶弱助困": (
        ("走访慰问困难老兵", "为独居老人送餐", "义务理发"),
        ((9, 0, 150), (14, 30, 120)),
        False,
    ),
    "走访慰问": (("节日走访慰问", "看望伤病残老兵"), ((9, 0, 180),), False),
    "三送": (("送政策上门", "送温暖", "送岗位"), ((9, 0, 180), (14, 30, 150)), False),
    "双拥灯光秀": (("双拥灯光秀现场保障",), ((18, 30, 180),), False),
    "医疗巡诊": (("老兵健康巡诊", "义诊进社区"), ((8, 30, 240),), False),
    "功臣疗养": (("功臣疗养陪护",), ((8, 0, 480),), False),
    "进军营": (("进军营慰问联谊",), ((9, 0, 240),), False),
    "解决急事难事": (("急事难事上门帮办",), ((9, 0, 120), (14, 0, 120)), False),
    "军地联谊": (("军地联谊活动",), ((14, 30, 180),), False),
    "应急救援": (("水上救援训练", "应急救援演练", "山林搜救"), ((8, 0, 300), (13, 30, 240)), False),
    "英烈讲解": (("烈士陵园讲解", "英烈事迹讲解"), ((9, 0, 180), (14, 0, 150)), False),
}
EZHOU_POOL = ("基层治理", "护苗护学", "红色宣讲", "长江大保护", "文明创建", "乡村振兴", "扶弱助困")
WUHAN_POOL = (
    "走访慰问",
    "三送",
    "双拥灯光秀",
    "医疗巡诊",
    "进军营",
    "解决急事难事",
    "应急救援",
    "英烈讲解",
    "长江大保护",
)
UNPLANNED = ("夜间江堤抢险", "协助搜寻走失老人", "台风后清障", "临时交通疏导", "突发火情协助疏散")
#: months of the year: Spring Festival low, flood season and 八一 high
MONTH_FACTOR = {
    1: 0.75,
    2: 0.6,
    3: 1.0,
    4: 1.0,
    5: 1.05,
    6: 1.2,
    7: 1.35,
    8: 1.3,
    9: 1.1,
    10: 1.0,
    11: 0.95,
    12: 0.9,
}
SCHOOL_HOLIDAY = {1, 2, 7, 8}
#: chance that the next activity of a team is unplanned (fewer people: ~5 % of records)
UNPLANNED_CHANCE = 0.12


@dataclass
class TeamInfo:
    id: int
    leader_id: int | None
    members: list[int]
    wuhan: bool
    weight: float = 0.0
    categories: list[tuple[int, str, float]] = field(default_factory=list)  # id, name, weight
    river: bool = False


def load_world(conn, rng: random.Random) -> tuple[list[TeamInfo], dict[str, int]]:
    categories = dict(conn.execute("SELECT name, id FROM category WHERE is_active").fetchall())
    wuhan_path = conn.execute("SELECT path FROM unit WHERE name = '武汉市'").fetchone()[0]
    members: dict[int, list[int]] = defaultdict(list)
    leaders: dict[int, int] = {}
    for team_id, person_id, role in conn.execute(
        "SELECT team_id, person_id, role FROM membership ORDER BY id"
    ):
        members[team_id].append(person_id)
        if role == "leader":
            leaders.setdefault(team_id, person_id)
    teams = []
    for team_id, path in conn.execute(
        "SELECT t.id, u.path FROM team t JOIN unit u ON u.id = t.unit_id ORDER BY t.id"
    ):
        if not members[team_id]:
            continue
        team = TeamInfo(
            team_id, leaders.get(team_id), members[team_id], path.startswith(wuhan_path)
        )
        team.weight = len(team.members) * rng.lognormvariate(0, 0.6)
        pool = WUHAN_POOL if team.wuhan else EZHOU_POOL
        picked = rng.sample([c for c in pool if c in categories], 3)
        team.categories = [
            (categories[name], name, share)
            for name, share in zip(picked, (0.55, 0.3, 0.15), strict=True)
        ]
        team.river = rng.random() < 0.4
        teams.append(team)
    return teams, categories


def months_back(last: date, n: int) -> list[date]:
    out, y, m = [], last.year, last.month
    for _ in range(n):
        out.append(date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def _category_weights(team: TeamInfo, month: date, categories: dict[str, int]):
    weights = []
    for cid, name, share in team.categories:
        w = share * (0.15 if name == "护苗护学" and month.month in SCHOOL_HOLIDAY else 1.0)
        weights.append((cid, name, w))
    if 6 <= month.month <= 9 and "防汛抗旱" in categories:
        weights.append((categories["防汛抗旱"], "防汛抗旱", 0.8 if team.river else 0.1))
    rescue = "应急救援" if team.wuhan else "抢险救灾"
    if rescue in categories:
        weights.append((categories[rescue], rescue, 0.04))
    return weights


def _minutes(raw_minutes: float, cap: int | None) -> int:
    rounded = int(raw_minutes / 30 + 0.5) * 30
    if cap is not None:
        rounded = min(rounded, cap)
    return min(max(rounded, 0), 36 * 60)


class Generator:
    """Events, shifts and records for a slice of teams; ids for events and shifts are
    handed out here (the sequences are set after the load)."""

    def __init__(
        self,
        conn,
        total_records: int,
        last_month: date,
        months: int,
        now: datetime,
        seed: int = 20261201,
    ):
        self.rng = random.Random(seed)
        self.now = now
        self.teams, self.categories = load_world(conn, self.rng)
        self.months = months_back(last_month, months)
        self.next_event = (conn.execute("SELECT coalesce(max(id), 0) FROM event").fetchone()[0]) + 1
        self.next_shift = (conn.execute("SELECT coalesce(max(id), 0) FROM shift").fetchone()[0]) + 1
        first_year = self.months[0].year
        month_weight = {
            m: MONTH_FACTOR[m.month] * 1.12 ** (m.year - first_year + (m.month - 1) / 12)
            for m in self.months
        }
        total_weight = sum(t.weight for t in self.teams) * sum(month_weight.values())
        #: expected records per (team, month)
        self.expected = {
            (t.id, m): total_records * t.weight * month_weight[m] / total_weight
            for t in self.teams
            for m in self.months
        }

    def slice(self, teams: list[TeamInfo]):
        """(events, shifts, records) rows for these teams, as tuples in COPY column order."""
        events, shifts, records = [], [], []
        rng = self.rng
        for team in teams:
            for month in self.months:
                expected = self.expected[(team.id, month)]
                target = int(expected) + (rng.random() < expected - int(expected))
                weights = _category_weights(team, month, self.categories)
                while target > 0:
                    if rng.random() < UNPLANNED_CHANCE:
                        target -= self._unplanned(team, month, weights, records, target)
                    else:
                        target -= self._event(team, month, weights, events, shifts, records, target)
        return events, shifts, records

    def _day(self, month: date, weekdays: bool) -> date:
        days = (date(month.year + month.month // 12, month.month % 12 + 1, 1) - month).days
        while True:
            day = month + timedelta(days=self.rng.randrange(days))
            if not weekdays or day.weekday() < 5:
                return day

    def _event(self, team, month, weights, events, shifts, records, budget) -> int:
        rng = self.rng
        cid, name, _w = rng.choices(weights, [w for *_x, w in weights])[0]
        titles, patterns, weekdays = CATEGORY_SHAPES.get(
            name, ((f"{name}志愿服务",), ((9, 0, 180),), False)
        )
        title = rng.choice(titles)
        day = self._day(month, weekdays)
        if name == "防汛抗旱":
            chosen = patterns[rng.randrange(len(patterns)) :][: rng.randint(1, 3)]
        else:
            chosen = [rng.choice(patterns)]
        event_id = self.next_event
        self.next_event += 1
        made = 0
        starts, ends = [], []
        for index, (hour, minute, length) in enumerate(chosen):
            local = datetime(day.year, day.month, day.day, hour, minute)
            start = (local - LOCAL_OFFSET).replace(tzinfo=UTC)
            end = start + timedelta(minutes=length)
            starts.append(start)
            ends.append(end)
            size = min(len(team.members), rng.randint(3, 10), budget - made)
            if size <= 0:
                break
            shift_id = self.next_shift
            self.next_shift += 1
            shift_title = f"第{index + 1}班" if len(chosen) > 1 else ""
            shifts.append(
                (shift_id, event_id, shift_title, start, end, size + rng.randint(0, 4), 0,
                 f"{shift_id % 100000:05d}", False, False)
            )  # fmt: skip
            content = f"{title}（{shift_title}）" if shift_title else title
            for person_id in rng.sample(team.members, size):
                records.append(
                    self._record(team, person_id, shift_id, cid, month, content, start, end, length)
                )
            made += size
        events.append(
            (event_id, team.id, cid, title, "", "", min(starts), max(ends), "published", 0,
             team.leader_id, min(starts) - timedelta(days=7), min(starts) - timedelta(days=7))
        )  # fmt: skip
        return max(made, 1)

    def _unplanned(self, team, month, weights, records, budget) -> int:
        rng = self.rng
        rescue = [w for w in weights if w[1] in ("抢险救灾", "应急救援")]
        cid, _name, _w = rescue[0] if rescue and rng.random() < 0.6 else rng.choice(weights)
        day = self._day(month, False)
        local = datetime(day.year, day.month, day.day, rng.randrange(24), rng.choice((0, 30)))
        start = (local - LOCAL_OFFSET).replace(tzinfo=UTC)
        length = rng.choice((90, 120, 180, 240, 300, 360))
        end = start + timedelta(minutes=length)
        content = f"临时任务：{rng.choice(UNPLANNED)}"
        size = min(len(team.members), rng.randint(1, 4), budget)
        for person_id in rng.sample(team.members, size):
            records.append(
                self._record(
                    team, person_id, None, cid, month, content, start, end, None, unplanned=True
                )
            )
        return max(size, 1)

    def _record(
        self, team, person_id, shift_id, cid, month, content, start, end, cap, unplanned=False
    ):
        rng = self.rng
        roll = rng.random()
        checked_in = checked_out = None
        auto_closed = False
        if unplanned:
            attendance, started, ended = "present", start, end
        elif roll < 0.05:
            attendance, started, ended = "absent", start, start
        else:
            attendance = "late" if roll < 0.10 else "present"
            if attendance == "late" or rng.random() < 0.5:  # by SMS
                early = (
                    timedelta(minutes=rng.uniform(16, 60))
                    if attendance == "late"
                    else -timedelta(minutes=rng.uniform(0, 25))
                )
                checked_in = start + early
                if rng.random() < 0.01:
                    checked_out, auto_closed, ended = None, True, end
                else:
                    checked_out = max(end + timedelta(minutes=rng.uniform(-20, 30)), checked_in)
                    ended = checked_out
                started = checked_in
            else:  # the leader marked the roster: planned times
                started, ended = start, end
        minutes = (
            0 if attendance == "absent" else _minutes((ended - started).total_seconds() / 60, cap)
        )
        age = self.now - end
        roll = rng.random()
        if age < timedelta(days=45):
            status = "pending" if roll < 0.55 else ("rejected" if roll > 0.97 else "verified")
        else:
            status = "pending" if roll < 0.025 else ("rejected" if roll > 0.98 else "verified")
        if unplanned and status == "pending" and rng.random() < 0.5:
            status = "verified"
        decided_by = decided_at = None
        if status != "pending":
            decided_by = team.leader_id
            decided_at = min(end + timedelta(hours=rng.uniform(2, 240)), self.now)
        created = checked_in or end
        return (
            person_id, team.id, shift_id, cid, month, content, attendance, started, ended,
            checked_in, checked_out, minutes, False, auto_closed, status, decided_by,
            decided_at, created, decided_at or created,
        )  # fmt: skip


EVENT_COLUMNS = (
    "id, team_id, category_id, title, description, location, starts_at, ends_at, status, "
    "revision, created_by_id, created_at, updated_at"
)
SHIFT_COLUMNS = (
    "id, event_id, title, starts_at, ends_at, capacity, filled, code, code_is_current, is_cancelled"
)
RECORD_COLUMNS = (
    "person_id, team_id, shift_id, category_id, month, content, attendance, started_at, "
    "ended_at, checked_in_at, checked_out_at, minutes, over_shift_length, auto_closed, status, "
    "decided_by_id, decided_at, created_at, updated_at"
)


class Progress:
    """tqdm when it is installed, else one line on stderr rewritten in place."""

    def __init__(self, total: int, label: str):
        self.total, self.label, self.done = total, label, 0
        self.started = time.perf_counter()
        self.last = 0.0
        try:
            from tqdm import tqdm  # type: ignore[import-not-found]

            self.bar = tqdm(total=total, desc=label, unit="rows", unit_scale=True, file=sys.stderr)
        except ImportError:
            self.bar = None

    def update(self, n: int) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.perf_counter()
        if now - self.last < 0.5 and self.done < self.total:
            return
        self.last = now
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed else 0
        pct = min(self.done / self.total * 100, 100) if self.total else 100
        width = 30
        filled = int(width * pct / 100)
        sys.stderr.write(
            f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done:,}/{self.total:,}"
            f" {pct:3.0f}% {elapsed:5.1f} s {rate / 1000:,.0f}k rows/s"
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        else:
            self.update(0) if self.done >= self.total else None
            sys.stderr.write("\n")
            sys.stderr.flush()


def load(
    conn, total_records: int, last_month: date, months: int, now: datetime, slices: int = 16
) -> dict:
    """Generate and COPY everything; returns counts and seconds. A thread generates the
    next slice of teams while this one is being copied (PostgreSQL works in its own
    process meanwhile)."""
    gen = Generator(conn, total_records, last_month, months, now)
    teams = gen.teams
    step = math.ceil(len(teams) / slices)
    progress = Progress(total_records, "service records")
    counts = {"events": 0, "shifts": 0, "records": 0, "unplanned": 0}
    gen_s = [0.0]
    ready: queue.Queue = queue.Queue(maxsize=2)

    def produce() -> None:
        try:
            for first in range(0, len(teams), step):
                t0 = time.perf_counter()
                made = gen.slice(teams[first : first + step])
                gen_s[0] += time.perf_counter() - t0
                ready.put(made)
        except BaseException as exc:  # handed to the consumer, raised there
            ready.put(exc)
        ready.put(None)

    producer = threading.Thread(target=produce, daemon=True)
    started = time.perf_counter()
    producer.start()
    waited = 0.0
    with conn.cursor() as cur:
        while True:
            t0 = time.perf_counter()
            item = ready.get()
            waited += time.perf_counter() - t0
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            events, shifts, records = item
            with cur.copy(f"COPY event ({EVENT_COLUMNS}) FROM STDIN") as copy:
                for row in events:
                    copy.write_row(row)
            with cur.copy(f"COPY shift ({SHIFT_COLUMNS}) FROM STDIN") as copy:
                for row in shifts:
                    copy.write_row(row)
            with cur.copy(f"COPY service_record ({RECORD_COLUMNS}) FROM STDIN") as copy:
                for start in range(0, len(records), 10_000):
                    chunk = records[start : start + 10_000]
                    for row in chunk:
                        copy.write_row(row)
                    progress.update(len(chunk))
            conn.commit()
            counts["events"] += len(events)
            counts["shifts"] += len(shifts)
            counts["records"] += len(records)
            counts["unplanned"] += sum(1 for r in records if r[2] is None)
        cur.execute("SELECT setval('event_id_seq', (SELECT max(id) FROM event))")
        cur.execute("SELECT setval('shift_id_seq', (SELECT max(id) FROM shift))")
    conn.commit()
    producer.join()
    progress.close()
    total = time.perf_counter() - started
    counts.update(
        generate_s=round(gen_s[0], 1),
        copy_s=round(total - waited, 1),
        total_s=round(total, 1),
    )
    return counts


def to_local_date(at: datetime) -> date:
    return (at.astimezone(UTC) + LOCAL_OFFSET).date()


def check_foreign_keys(conn, tables=("event", "shift", "service_record")) -> list[str]:
    """Every foreign key of ``tables`` checked by one anti-join each (the load ran with
    triggers off); returns the broken ones."""
    broken = []
    rows = conn.execute(
        """
        SELECT c.conname, c.conrelid::regclass::text, a.attname,
               c.confrelid::regclass::text, fa.attname
        FROM pg_constraint c
        JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
        JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = c.confkey[1]
        WHERE c.contype = 'f' AND c.conrelid::regclass::text = ANY(%s)
        """,
        (list(tables),),
    ).fetchall()
    for name, table, column, ref_table, ref_column in rows:
        missing = conn.execute(
            f'SELECT count(*) FROM "{table}" c WHERE c."{column}" IS NOT NULL AND NOT EXISTS '
            f'(SELECT 1 FROM "{ref_table}" p WHERE p."{ref_column}" = c."{column}")'
        ).fetchone()[0]
        if missing:
            broken.append(f"{name}: {missing} rows")
    return broken


def describe(conn) -> dict[str, int]:
    """How the records came out: by status and attendance, unplanned, teams with any."""
    out = {}
    for status, n in conn.execute(
        "SELECT status, count(*) FROM service_record GROUP BY 1 ORDER BY 2 DESC"
    ):
        out[status] = n
    for attendance, n in conn.execute(
        "SELECT attendance, count(*) FROM service_record GROUP BY 1 ORDER BY 2 DESC"
    ):
        out[attendance] = n
    out["unplanned"] = conn.execute(
        "SELECT count(*) FROM service_record WHERE shift_id IS NULL"
    ).fetchone()[0]
    out["checked in by SMS"] = conn.execute(
        "SELECT count(*) FROM service_record WHERE checked_in_at IS NOT NULL"
    ).fetchone()[0]
    out["teams"] = conn.execute("SELECT count(DISTINCT team_id) FROM service_record").fetchone()[0]
    out["volunteers"] = conn.execute(
        "SELECT count(DISTINCT person_id) FROM service_record"
    ).fetchone()[0]
    return out
