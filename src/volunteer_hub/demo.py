"""Demo data drawn from the source documents: ``flask --app wsgi seed-demo``.

What it makes, every time the same:

* the unit tree 湖北省 › 武汉市 / 鄂州市 › 区 › 街道/乡镇 › 社区, with the communities the
  Ezhou report names (莲花山, 东塔, 菜园头, 邓平);
* the teams the documents name — Wuhan's 长江卫士 teams and 英烈讲解员, Ezhou's award-winning
  teams and 宣讲团 — each with a leader and 8–15 members (synthetic names and numbers);
* upcoming events of several categories, placed relative to *now* so the demo never looks
  stale, with sign-ups (one shift of several is full and has a waitlist);
* three staff accounts (admin, coordinator of 鄂州市, leader of 莲花山社区戎马志愿服务队),
  printed at the end with the public demo password.

``--scale N`` adds N synthetic teams over Ezhou's communities and towns and, by default,
Ezhou's ratio of volunteers (5,246 for 417 teams), inserted in bulk.

Idempotent: everything is looked up by its natural key first (unit name under its parent,
team name under its unit, a person's phone, an event's title within its team), so a second
run adds nothing. Events are keyed by title, not by start, because their start moves with
the day the command runs.

Phone numbers are synthetic and kept in two blocks no real person is given here:
+86 139 0000 8xxx/9xxx for the named demo people and +86 139 01xx xxxx for ``--scale``.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import click
from flask import current_app
from sqlalchemy import and_, exists, func, insert, select, update
from sqlalchemy.orm import aliased
from werkzeug.security import check_password_hash, generate_password_hash

from volunteer_hub.auth.services import create_user
from volunteer_hub.db import utcnow
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.events.services import EventInput, ShiftInput, create_event, find_category
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.signups.models import SignupSource
from volunteer_hub.signups.services import sign_up
from volunteer_hub.teams.models import MemberRole, Membership, Team
from volunteer_hub.teams.services import add_member, create_team
from volunteer_hub.units.models import Unit, UnitLevel
from volunteer_hub.units.services import create_unit, subtree_condition

#: the password of every demo account; public, printed on the console, for demos only
DEMO_PASSWORD = "demo-password-2026"

#: Ezhou, as the 2025 report counts it: 417 teams, 5,246 registered volunteers
EZHOU_TEAMS = 417
EZHOU_VOLUNTEERS = 5246

SYNTHETIC_TEAM_PREFIX = "鄂州合成志愿服务队"
#: +86 139 01xx xxxx: one number per synthetic volunteer, index in the last six digits
SYNTHETIC_PHONE_PREFIX = "+8613901"
MAX_SYNTHETIC_TEAMS = 9999
MAX_SYNTHETIC_VOLUNTEERS = 1_000_000
#: rows per INSERT; well under PostgreSQL's 65,535 bind parameters for our widest table
CHUNK = 2000

#: +86 139 0000 90xx–92xx: members of the named teams (20 numbers per team)
NAMED_PHONE_BASE = 13900009000
PHONES_PER_TEAM = 20
ADMIN_PHONE = "+8613900008001"
COORDINATOR_PHONE = "+8613900008002"

# -- the unit tree ----------------------------------------------------------------------------
# Districts, streets and towns as they are; communities only where the documents name them
# (plus two neighbours of 邓平 in 葛店), so nothing here is made up. 东塔 and 菜园头 belong to
# 凤凰街道; 莲花山 lies beside them and is put there too; 邓平 is in 葛店 (华容区).
UNIT_TREE: dict[str, dict] = {
    "湖北省": {
        "武汉市": {
            "江岸区": {"大智街道": {}, "后湖街道": {}},
            "江汉区": {"民族街道": {}, "花楼街道": {}},
            "武昌区": {"积玉桥街道": {}, "中华路街道": {}, "杨园街道": {}},
            "汉阳区": {"晴川街道": {}, "鹦鹉街道": {}},
            "青山区": {"红卫路街道": {}, "冶金街道": {}},
            "洪山区": {"珞南街道": {}, "青菱街道": {}},
            "江夏区": {"纸坊街道": {}, "金口街道": {}},
        },
        "鄂州市": {
            "鄂城区": {
                "凤凰街道": {"莲花山社区": {}, "东塔社区": {}, "菜园头社区": {}},
                "古楼街道": {},
                "西山街道": {},
                "樊口街道": {},
                "泽林镇": {},
                "杨叶镇": {},
                "燕矶镇": {},
                "花湖镇": {},
            },
            "华容区": {
                "葛店镇": {"邓平社区": {}, "紫菱湖社区": {}, "正街社区": {}},
                "华容镇": {},
                "段店镇": {},
                "庙岭镇": {},
                "临江乡": {},
                "蒲团乡": {},
            },
            "梁子湖区": {
                "太和镇": {},
                "东沟镇": {},
                "沼山镇": {},
                "梁子镇": {},
                "涂家垴镇": {},
            },
        },
    }
}


# -- the named teams --------------------------------------------------------------------------
@dataclass(frozen=True)
class TeamSpec:
    unit: tuple[str, ...]
    name: str
    description: str
    members: int  # besides the leader, 8–15
    skills: tuple[str, ...] = ()


EZHOU = ("湖北省", "鄂州市")
WUHAN = ("湖北省", "武汉市")
FENGHUANG = (*EZHOU, "鄂城区", "凤凰街道")

#: order matters: a team's place here fixes its members' phone numbers
TEAMS: tuple[TeamSpec, ...] = (
    TeamSpec(
        (*FENGHUANG, "莲花山社区"),
        "莲花山社区戎马志愿服务队",
        "代表鄂州市参加2023年全省新时代文明实践大赛，获政策宣讲类银奖；"
        "2023年度全国1000支退役军人“关爱青少年”志愿服务队。",
        12,
        ("讲解", "护学", "驾驶"),
    ),
    TeamSpec(
        EZHOU,
        "鄂州市关心下一代退役军人志愿队",
        "2023年度全国1000支退役军人“关爱青少年”志愿服务队。",
        9,
        ("讲解", "护学"),
    ),
    TeamSpec(
        (*FENGHUANG, "东塔社区"),
        "东塔社区“五老”邻里退役军人志愿服务队",
        "老干部、老战士、老专家、老教师、老模范结对邻里；"
        "2023年度全国1000支退役军人“关爱青少年”志愿服务队。",
        10,
        ("走访", "调解"),
    ),
    TeamSpec(
        (*FENGHUANG, "菜园头社区"),
        "菜园头社区“高性宽”老兵志愿服务队",
        "以抗战离休老兵高性宽命名；2024年度全国1000支退役军人“守护家园”志愿服务队。",
        11,
        ("巡逻", "环境整治"),
    ),
    TeamSpec(
        (*EZHOU, "华容区", "葛店镇", "邓平社区"),
        "邓平社区退役军人志愿服务队",
        "2024年度全国1000支退役军人“守护家园”志愿服务队；汛期江堤值守。",
        14,
        ("巡堤", "驾驶", "急救"),
    ),
    TeamSpec(
        EZHOU,
        "鄂州市老兵红色宣讲团",
        "“老兵永远跟党走”“传承红色基因 赓续红色血脉”“高性宽先进事迹宣讲”等主题宣讲。",
        10,
        ("宣讲",),
    ),
    TeamSpec(
        (*EZHOU, "鄂城区"),
        "鄂城老兵红色宣讲团",
        "深入机关、学校、部队、社区开展主题宣讲。",
        8,
        ("宣讲",),
    ),
    TeamSpec(
        WUHAN,
        "武汉市退役军人长江卫士应急救援队",
        "“长江卫士”退役军人志愿服务品牌的专业化团队，奋战在应急处突、生态保护一线。",
        15,
        ("水上救援", "急救", "驾驶", "无人机"),
    ),
    TeamSpec(
        (*WUHAN, "江岸区"),
        "江岸区“长江卫士”退役军人志愿服务队",
        "汉口江滩巡江护岸、净滩行动。",
        11,
        ("巡江", "急救"),
    ),
    TeamSpec(
        (*WUHAN, "武昌区"),
        "武昌区“长江卫士”退役军人志愿服务队",
        "武昌江滩巡江护岸。",
        9,
        ("巡江",),
    ),
    TeamSpec(
        (*WUHAN, "青山区"),
        "青山区“长江卫士”退役军人志愿服务队",
        "青山江滩防汛巡堤。",
        9,
        ("巡堤", "驾驶"),
    ),
    TeamSpec(
        WUHAN,
        "武汉市英烈讲解员志愿服务队",
        "在烈士纪念设施讲述英烈事迹，传承英烈精神。",
        10,
        ("讲解",),
    ),
)

LEADER_TEAM = "莲花山社区戎马志愿服务队"


# -- the events -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ShiftSpec:
    title: str
    day: int  # days after today (local)
    #: local wall-clock (hour, minute); hours past 23 run into the next day
    start: tuple[int, int]
    hours: float
    capacity: int
    #: how many of the team's members sign up (more than capacity → a waitlist)
    signups: int


@dataclass(frozen=True)
class EventSpec:
    team: str
    title: str
    category: str
    location: str
    description: str
    shifts: Callable[[date], list[ShiftSpec]]

    @property
    def open_to_all(self) -> bool:
        """Flood duty and emergencies call on everyone (公开招募): any registered volunteer
        may text their codes; every other demo event is for its team's members."""
        return self.category in OPEN_CATEGORIES


#: categories whose demo events are open to all
OPEN_CATEGORIES = frozenset({"防汛抗旱", "抢险救灾", "应急救援"})


def _flood_rota(today: date) -> list[ShiftSpec]:
    """24 hours on the dyke in six shifts of four hours, from 08:00 the day after tomorrow."""
    fills = [6, 4, 3, 2, 2, 1]
    return [ShiftSpec(f"第{i + 1}班", 2, (8 + 4 * i, 0), 4, 4, fills[i]) for i in range(6)]


def _weekday_mornings(today: date) -> list[ShiftSpec]:
    """School-gate escort on every weekday morning of the coming week."""
    offset = 7 - today.weekday()  # next Monday, 1–7 days ahead
    names = "一二三四五"
    fills = [4, 3, 2, 2, 1]
    return [
        ShiftSpec(f"周{names[i]}早护学岗", offset + i, (7, 10), 1, 3, fills[i]) for i in range(5)
    ]


def _weekend_guides(today: date) -> list[ShiftSpec]:
    """Guides at the memorial on the coming weekend, mornings and afternoons."""
    saturday = (5 - today.weekday()) % 7 or 7  # the next Saturday, 1–7 days ahead
    return [
        ShiftSpec("周六上午讲解", saturday, (9, 0), 3, 2, 3),
        ShiftSpec("周六下午讲解", saturday, (14, 0), 3, 2, 2),
        ShiftSpec("周日上午讲解", saturday + 1, (9, 0), 3, 2, 1),
        ShiftSpec("周日下午讲解", saturday + 1, (14, 0), 3, 2, 1),
    ]


def _one(title: str, day: int, start: tuple[int, int], hours: float, capacity: int, fill: int):
    return lambda today: [ShiftSpec(title, day, start, hours, capacity, fill)]


EVENTS: tuple[EventSpec, ...] = (
    EventSpec(
        "邓平社区退役军人志愿服务队",
        "长江江堤24小时值守",
        "防汛抗旱",
        "鄂州市华容区葛店镇长江江堤邓平社区值守点",
        "江堤巡查值守：查看堤身渗漏、登记水位，每班4小时、4人。"
        "请穿救生衣，带手电和雨具，到点向带班队员报到。",
        _flood_rota,
    ),
    EventSpec(
        "鄂州市老兵红色宣讲团",
        "高性宽先进事迹宣讲",
        "红色宣讲",
        "鄂州市鄂城区凤凰街道菜园头社区党群服务中心",
        "讲述已故离休老兵高性宽3枚特殊“军功章”的故事；宣讲团6人。",
        _one("宣讲", 4, (9, 30), 1.5, 6, 8),
    ),
    EventSpec(
        LEADER_TEAM,
        "校门口护学岗",
        "护苗护学",
        "鄂州市鄂城区凤凰街道莲花山社区辖区小学校门口",
        "上学时段护送学生过马路、维持校门口秩序。每班3人。",
        _weekday_mornings,
    ),
    EventSpec(
        LEADER_TEAM,
        "优待政策进小区宣讲",
        "基层治理",
        "鄂州市鄂城区凤凰街道莲花山社区党群服务中心",
        "向居民讲解退役军人和其他优抚对象优待目录清单、优待证申领。",
        _one("宣讲与咨询", 6, (15, 0), 1.5, 5, 3),
    ),
    EventSpec(
        "东塔社区“五老”邻里退役军人志愿服务队",
        "走访慰问困难退役军人和军烈属",
        "走访慰问",
        "鄂州市鄂城区凤凰街道东塔社区",
        "入户走访，了解急难愁盼，登记需要协调解决的问题。",
        lambda today: [
            ShiftSpec("上午走访组", 3, (9, 0), 2.5, 4, 2),
            ShiftSpec("下午走访组", 3, (14, 30), 2.5, 4, 3),
        ],
    ),
    EventSpec(
        "菜园头社区“高性宽”老兵志愿服务队",
        "文明创建·小区环境整治",
        "文明创建",
        "鄂州市鄂城区凤凰街道菜园头社区",
        "清理楼道杂物、整治乱停乱放。",
        _one("环境整治", 5, (8, 30), 2, 10, 5),
    ),
    EventSpec(
        "鄂州市关心下一代退役军人志愿队",
        "全民国防教育进校园",
        "红色宣讲",
        "鄂州市鄂城区（学校另行通知）",
        "“全民国防教育宣传月”主题宣讲，面向中小学生。",
        _one("宣讲", 8, (14, 30), 1.5, 4, 2),
    ),
    EventSpec(
        "鄂城老兵红色宣讲团",
        "“老兵永远跟党走”主题宣讲",
        "红色宣讲",
        "鄂州市鄂城区（单位另行通知）",
        "走进机关、企事业单位开展主题宣讲。",
        _one("宣讲", 9, (9, 0), 1.5, 5, 3),
    ),
    EventSpec(
        "武汉市退役军人长江卫士应急救援队",
        "长江水上应急救援演练",
        "应急救援",
        "武汉市江岸区汉口江滩",
        "冲锋舟操作、落水人员救援和岸上保障演练。",
        lambda today: [
            ShiftSpec("水上救援组", 6, (9, 0), 3, 8, 9),
            ShiftSpec("岸上保障组", 6, (9, 0), 3, 6, 4),
        ],
    ),
    EventSpec(
        "江岸区“长江卫士”退役军人志愿服务队",
        "长江大保护·汉口江滩净滩行动",
        "长江大保护",
        "武汉市江岸区汉口江滩",
        "捡拾江滩垃圾、劝导文明游园。请自带手套和水。",
        _one("净滩", 4, (8, 30), 2.5, 12, 7),
    ),
    EventSpec(
        "江岸区“长江卫士”退役军人志愿服务队",
        "“八个一”走访慰问重点优抚对象",
        "走访慰问",
        "武汉市江岸区大智街道",
        "“八个一”拥军优属活动：走访慰问重点优抚对象。",
        _one("走访", 10, (9, 0), 3, 4, 2),
    ),
    EventSpec(
        "武昌区“长江卫士”退役军人志愿服务队",
        "武昌江滩巡江护岸",
        "长江大保护",
        "武汉市武昌区武昌江滩",
        "沿江巡查，劝阻非法垂钓和下水游泳。",
        lambda today: [
            ShiftSpec("早班", 5, (8, 0), 2, 5, 3),
            ShiftSpec("晚班", 5, (16, 0), 2, 5, 2),
        ],
    ),
    EventSpec(
        "青山区“长江卫士”退役军人志愿服务队",
        "青山江滩防汛巡堤",
        "防汛抗旱",
        "武汉市青山区青山江滩",
        "夜间巡堤查险，发现险情立即上报。",
        _one("夜间巡堤", 7, (19, 0), 3, 6, 4),
    ),
    EventSpec(
        "武汉市英烈讲解员志愿服务队",
        "周末英烈讲解",
        "英烈讲解",
        "武汉市洪山区施洋烈士陵园",
        "为参观群众讲解英烈事迹。",
        _weekend_guides,
    ),
)


# -- names ------------------------------------------------------------------------------------
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏付方邹熊秦邱江尹薛段雷侯龙陶贺顾毛郝龚邵万严"
)
_GIVEN_NAMES_TEXT = (
    "建国 建华 建军 国强 国庆 志强 志刚 卫东 卫国 红兵 德胜 振华 爱民 保国 立新 新民 光明 "
    "汉生 汉民 春生 秋生 海涛 学军 向阳 永红 桂英 秀兰 玉兰 淑珍 凤英 丽华 明 伟 军 勇 斌 "
    "强 刚 平 涛 辉 峰 华 文 杰 俊 鹏 磊 超 亮 浩 宇 婷 静 敏 燕 霞 红 芳 娟 文斌 德明 "
    "德华 长春 长林 金生 火生 水生 家明 家兴 世杰 世平 少华 少军 大勇 小兵 铁军 胜利 跃进"
)
GIVEN_NAMES = tuple(_GIVEN_NAMES_TEXT.split())


def synthetic_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES)


# -- bookkeeping ------------------------------------------------------------------------------
@dataclass
class Tally:
    created: dict[str, int] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, created: bool, n: int = 1) -> None:
        bucket = self.created if created else self.present
        bucket[kind] = bucket.get(kind, 0) + n


@dataclass
class Account:
    role: str
    phone: str
    name: str
    scope: str


# -- entry point ------------------------------------------------------------------------------
def seed_demo(
    scale: int = 0,
    volunteers: int | None = None,
    echo: Callable[[str], object] = print,
    now: datetime | None = None,
) -> Tally:
    """Create (or find) the demo data; returns what was created and what was already there."""
    if scale < 0 or scale > MAX_SYNTHETIC_TEAMS:
        raise click.UsageError(f"--scale must be between 0 and {MAX_SYNTHETIC_TEAMS}")
    if volunteers is not None and not 0 <= volunteers <= MAX_SYNTHETIC_VOLUNTEERS:
        raise click.UsageError(f"--volunteers must be between 0 and {MAX_SYNTHETIC_VOLUNTEERS}")
    if volunteers and not scale:
        raise click.UsageError("--volunteers needs --scale (volunteers join synthetic teams)")
    if current_app.config.get("SMS_BACKEND", "console") != "console":
        # Demo sign-ups would text the demo numbers for real.
        raise click.ClickException(
            "seed-demo only runs with SMS_BACKEND=console: demo data must not reach a real SMS gateway"
        )
    if volunteers is None:
        volunteers = round(EZHOU_VOLUNTEERS * scale / EZHOU_TEAMS)

    started = time.perf_counter()
    tally = Tally()
    now = now or utcnow()

    units = _seed_units(tally)
    db.session.commit()
    teams = _seed_teams(units, tally)
    db.session.commit()
    _seed_events(teams, tally, now)
    db.session.commit()
    _seed_service_history(teams, tally, now)
    db.session.commit()
    accounts = _seed_accounts(units, teams, tally)
    db.session.commit()
    if scale:
        _seed_synthetic(scale, volunteers, units, tally)

    _report(echo, tally, accounts, time.perf_counter() - started)
    return tally


# -- units ------------------------------------------------------------------------------------
def _seed_units(tally: Tally) -> dict[tuple[str, ...], Unit]:
    """Every unit of UNIT_TREE by its path of names."""
    found: dict[tuple[str, ...], Unit] = {}

    def walk(children: dict[str, dict], parent: Unit | None, prefix: tuple[str, ...]) -> None:
        existing = {
            unit.name: unit
            for unit in db.session.scalars(
                select(Unit).where(
                    Unit.parent_id == parent.id if parent else Unit.parent_id.is_(None)
                )
            )
        }
        for name, grandchildren in children.items():
            unit = existing.get(name)
            tally.add("units", unit is None)
            if unit is None:
                unit = create_unit(name, parent.id if parent else None)
            path = (*prefix, name)
            found[path] = unit
            walk(grandchildren, unit, path)

    walk(UNIT_TREE, None, ())
    return found


# -- teams and members ------------------------------------------------------------------------
def _seed_teams(units: dict[tuple[str, ...], Unit], tally: Tally) -> dict[str, Team]:
    teams: dict[str, Team] = {}
    for index, spec in enumerate(TEAMS):
        unit = units[spec.unit]
        team = db.session.scalar(
            select(Team).where(Team.unit_id == unit.id, Team.name == spec.name)
        )
        tally.add("teams", team is None)
        if team is None:
            team = create_team(unit.id, spec.name, spec.description)
        teams[spec.name] = team
        _seed_members(team, spec, index, tally)
    return teams


def _seed_members(team: Team, spec: TeamSpec, index: int, tally: Tally) -> None:
    rng = random.Random(f"volunteer_hub demo {spec.name}")
    base = NAMED_PHONE_BASE + index * PHONES_PER_TEAM
    people = [(f"+86{base + j}", synthetic_name(rng)) for j in range(spec.members + 1)]
    phones = [phone for phone, _name in people]
    person_ids = dict(
        db.session.execute(select(Person.phone, Person.id).where(Person.phone.in_(phones))).all()
    )
    members = set(
        db.session.scalars(
            select(Membership.person_id).where(
                Membership.team_id == team.id, Membership.person_id.in_(person_ids.values())
            )
        )
    )
    for j, (phone, name) in enumerate(people):
        person_id = person_ids.get(phone)
        tally.add("people", person_id is None)
        if person_id is not None and person_id in members:
            tally.add("memberships", False)
            continue
        role = MemberRole.LEADER if j == 0 else MemberRole.MEMBER
        skills = "、".join(rng.sample(spec.skills, k=min(len(spec.skills), 1 + j % 2)))
        add_member(team.id, name, phone, role=role, skills=skills if j % 3 else "")
        tally.add("memberships", True)


def _team_people(team_id: int) -> tuple[Person | None, list[Person]]:
    """The team's first leader (if any) and its other members, in a stable order."""
    rows = db.session.execute(
        select(Person, Membership.role)
        .join(Membership, Membership.person_id == Person.id)
        .where(Membership.team_id == team_id)
        .order_by(Person.phone)
    ).all()
    leaders = [person for person, role in rows if role == MemberRole.LEADER]
    others = [person for person, role in rows if role != MemberRole.LEADER]
    return (leaders[0] if leaders else None), others


# -- events and sign-ups ----------------------------------------------------------------------
def _seed_events(teams: dict[str, Team], tally: Tally, now: datetime) -> None:
    zone = ZoneInfo(current_app.config.get("TIMEZONE") or "Asia/Shanghai")
    today = now.astimezone(zone).date()
    for spec in EVENTS:
        team = teams[spec.team]
        existing = db.session.scalar(
            select(Event.id).where(Event.team_id == team.id, Event.title == spec.title).limit(1)
        )
        if existing is not None:
            tally.add("events", False)
            continue
        category = find_category(spec.category)
        if category is None:  # an admin retired it: leave that event out
            continue
        shift_specs = spec.shifts(today)
        inputs = [_shift_input(s, today, zone) for s in shift_specs]
        leader, members = _team_people(team.id)
        leader_id = leader.id if leader else None
        event = create_event(
            team.id,
            EventInput(
                title=spec.title,
                category_id=category.id,
                location=spec.location,
                description=spec.description,
                open_to_all=spec.open_to_all,
            ),
            inputs,
            created_by_id=leader_id,
        )
        tally.add("events", True)
        tally.add("shifts", True, len(inputs))
        # Shifts are created in the order of their inputs, so ids match the specs' order.
        shifts = db.session.scalars(
            select(Shift).where(Shift.event_id == event.id).order_by(Shift.id)
        ).all()
        for offset, (shift, shift_spec) in enumerate(zip(shifts, shift_specs, strict=True)):
            for k in range(min(shift_spec.signups, len(members))):
                person = members[(offset * 3 + k) % len(members)]
                sign_up(shift.id, person.id, SignupSource.LEADER, acted_by_id=leader_id, now=now)
                tally.add("signups", True)


#: months of past service the demo teams get, so the hour reports have something to show
HISTORY_MONTHS = 6


def _seed_service_history(teams: dict[str, Team], tally: Tally, now: datetime) -> None:
    """Past service of each named team: for every member, one or two services a month
    over the last HISTORY_MONTHS months in the team's field, entered and verified by the
    leader (the last month's left pending), then the roll-ups built from them. Entered as
    unplanned service so that every demo shift stays upcoming."""
    from volunteer_hub.auth.permissions import viewer_for
    from volunteer_hub.hours.models import ServiceRecord
    from volunteer_hub.hours.records import add_unplanned
    from volunteer_hub.hours.rollups import rebuild_all

    zone = ZoneInfo(current_app.config.get("TIMEZONE") or "Asia/Shanghai")
    field_of = {spec.team: spec.category for spec in EVENTS}
    rng = random.Random(20261201)
    added = False
    for name, team in teams.items():
        present = db.session.scalar(select(func.count()).where(ServiceRecord.team_id == team.id))
        if present:
            tally.add("service records", False, present)
            continue
        leader, members = _team_people(team.id)
        category = find_category(field_of.get(name, "文明创建"))
        if leader is None or not members or category is None:
            continue
        viewer = viewer_for(leader)
        title = HISTORY_CONTENT.get(category.name, "志愿服务")
        for back in range(HISTORY_MONTHS, 0, -1):
            for person in members:
                for _ in range(rng.choice((1, 1, 2))):
                    day = (now - timedelta(days=30 * back - rng.randint(0, 25))).astimezone(zone)
                    start = day.replace(hour=rng.choice((8, 9, 14)), minute=0, second=0)
                    add_unplanned(
                        team.id,
                        person.id,
                        viewer=viewer,
                        category_id=category.id,
                        content=title,
                        started_at=start,
                        ended_at=start + timedelta(hours=rng.choice((2, 3, 4))),
                        verified=back > 1,
                        now=now,
                    )
                    tally.add("service records", True)
                    added = True
    if added:
        db.session.flush()
        rebuild_all()  # the roll-up actors may have no worker in this process


HISTORY_CONTENT = {
    "防汛抗旱": "长江江堤巡查值守",
    "红色宣讲": "红色故事宣讲",
    "护苗护学": "校门口护学岗",
    "长江大保护": "长江岸线清洁巡护",
    "基层治理": "社区网格巡查",
    "文明创建": "文明城市创建志愿服务",
}


def _shift_input(spec: ShiftSpec, today: date, zone: ZoneInfo) -> ShiftInput:
    day = today + timedelta(days=spec.day)
    hour, minute = spec.start
    starts = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(
        hours=hour, minutes=minute
    )
    ends = starts + timedelta(hours=spec.hours)
    return ShiftInput(
        starts_at=starts.astimezone(UTC),
        ends_at=ends.astimezone(UTC),
        capacity=spec.capacity,
        title=spec.title,
    )


# -- accounts ---------------------------------------------------------------------------------
def _seed_accounts(
    units: dict[tuple[str, ...], Unit], teams: dict[str, Team], tally: Tally
) -> list[Account]:
    leader, _members = _team_people(teams[LEADER_TEAM].id)
    ezhou = units[EZHOU]
    wanted = [
        ("admin", ADMIN_PHONE, "演示管理员", {}, "全部"),
        ("coordinator", COORDINATOR_PHONE, "鄂州市协调员", {"unit_id": ezhou.id}, "鄂州市"),
        ("leader", leader.phone, leader.name, {"team_id": teams[LEADER_TEAM].id}, LEADER_TEAM),
    ]
    # scrypt is slow on purpose: hash the demo password once, check each stored hash once.
    passwords = _DemoPassword()
    accounts = []
    for role, phone, name, scope_ids, scope in wanted:
        person = db.session.scalar(select(Person).where(Person.phone == phone))
        ready = (
            person is not None
            and passwords.matches(person.password_hash)
            and _has_role(person, role, scope_ids)
        )
        tally.add("accounts", not ready)
        if not ready:
            person = create_user(phone, name if person is None else "", role, **scope_ids)
            if not passwords.matches(person.password_hash):
                person.password_hash = passwords.hash()
        accounts.append(Account(role, person.phone, person.name, scope))
    db.session.flush()
    return accounts


class _DemoPassword:
    def __init__(self) -> None:
        self._hash: str | None = None
        self._checked: dict[str, bool] = {}

    def hash(self) -> str:
        if self._hash is None:
            self._hash = generate_password_hash(DEMO_PASSWORD)  # as auth.services does
        return self._hash

    def matches(self, stored: str | None) -> bool:
        if not stored:
            return False
        if stored not in self._checked:
            self._checked[stored] = check_password_hash(stored, DEMO_PASSWORD)
        return self._checked[stored]


def _has_role(person: Person, role: str, scope_ids: dict) -> bool:
    if role == "admin":
        return person.is_admin
    if role == "coordinator":
        return person.coordinator_unit_id == scope_ids["unit_id"]
    return (
        db.session.scalar(
            select(Membership.role).where(
                Membership.team_id == scope_ids["team_id"], Membership.person_id == person.id
            )
        )
        == MemberRole.LEADER
    )


# -- synthetic load: bulk inserts -------------------------------------------------------------
def synthetic_team_name(index: int) -> str:
    """1-based: 鄂州合成志愿服务队0001."""
    return f"{SYNTHETIC_TEAM_PREFIX}{index:04d}"


def synthetic_phone(index: int) -> str:
    """0-based: +8613901000000, +8613901000001 ..."""
    return f"{SYNTHETIC_PHONE_PREFIX}{index:06d}"


def _seed_synthetic(
    scale: int, volunteers: int, units: dict[tuple[str, ...], Unit], tally: Tally
) -> None:
    """N teams over Ezhou's communities and towns, M volunteers, one membership each.

    Core ``insert()`` with lists of dicts in chunks; existing rows are found by their
    natural keys (team name, phone) first, so a second run inserts nothing.
    """
    homes = _ezhou_leaf_units(units[EZHOU])
    now = utcnow()
    team_table, person_table, membership_table = (
        Team.__table__,
        Person.__table__,
        Membership.__table__,
    )

    names = [synthetic_team_name(i) for i in range(1, scale + 1)]
    have_teams = set(
        db.session.scalars(select(Team.name).where(Team.name.startswith(SYNTHETIC_TEAM_PREFIX)))
    )
    new_teams = [
        {
            "unit_id": homes[(i - 1) % len(homes)],
            "name": name,
            "description": "",
            "created_at": now,
            "updated_at": now,
        }
        for i, name in enumerate(names, start=1)
        if name not in have_teams
    ]
    phones = [synthetic_phone(i) for i in range(volunteers)]
    have_phones = set(
        db.session.scalars(
            select(Person.phone).where(Person.phone.startswith(SYNTHETIC_PHONE_PREFIX))
        )
    )
    new_people = []
    for i, phone in enumerate(phones):
        if phone in have_phones:
            continue
        rng = random.Random(i)
        skill = rng.choice(("", "", "驾驶", "急救", "讲解", "巡堤", "水上救援", "护学"))
        new_people.append(
            {
                "name": synthetic_name(rng),
                "phone": phone,
                "is_veteran": rng.random() < 0.9,
                "skills": skill,
                "password_hash": None,
                "is_admin": False,
                "coordinator_unit_id": None,
                "is_active": True,
                "last_login_at": None,
                "created_at": now,
                "updated_at": now,
            }
        )

    total = len(new_teams) + 2 * len(new_people)
    with _progress(total, "合成数据 synthetic data") as bar:
        for rows in _chunks(new_teams):
            db.session.execute(insert(team_table), rows)
            bar.update(len(rows))
        for rows in _chunks(new_people):
            db.session.execute(insert(person_table), rows)
            bar.update(len(rows))

        team_ids = dict(
            db.session.execute(
                select(Team.name, Team.id).where(Team.name.startswith(SYNTHETIC_TEAM_PREFIX))
            ).all()
        )
        person_ids = dict(
            db.session.execute(
                select(Person.phone, Person.id).where(
                    Person.phone.startswith(SYNTHETIC_PHONE_PREFIX)
                )
            ).all()
        )
        synthetic_teams = select(Team.id).where(Team.name.startswith(SYNTHETIC_TEAM_PREFIX))
        placed = set(
            db.session.scalars(
                select(Membership.person_id).where(Membership.team_id.in_(synthetic_teams))
            )
        )
        new_memberships = [
            {
                "team_id": team_ids[names[i % scale]],
                "person_id": person_ids[phone],
                "role": MemberRole.MEMBER.value,
                "joined_at": now,
            }
            for i, phone in enumerate(phones)
            if person_ids[phone] not in placed
        ]
        for rows in _chunks(new_memberships):
            db.session.execute(insert(membership_table), rows)
            bar.update(len(rows))
        bar.update(total)  # people already placed

    promoted = _promote_first_members(synthetic_teams)
    db.session.commit()

    tally.add("synthetic teams", True, len(new_teams))
    tally.add("synthetic teams", False, scale - len(new_teams))
    tally.add("synthetic volunteers", True, len(new_people))
    tally.add("synthetic volunteers", False, volunteers - len(new_people))
    tally.add("synthetic memberships", True, len(new_memberships))
    tally.add("synthetic memberships", False, volunteers - len(new_memberships))
    tally.add("synthetic leaders", True, promoted)


def _promote_first_members(team_ids_query) -> int:
    """Each synthetic team without a leader gets its first member as leader (one UPDATE)."""
    leader = aliased(Membership)
    first_members = (
        select(func.min(Membership.id))
        .where(
            Membership.team_id.in_(team_ids_query),
            ~exists().where(
                and_(leader.team_id == Membership.team_id, leader.role == MemberRole.LEADER.value)
            ),
        )
        .group_by(Membership.team_id)
    )
    # Ids first, then a plain UPDATE … WHERE id IN (…): the same SQL on PostgreSQL and SQLite.
    ids = list(db.session.scalars(first_members))
    for chunk in _chunks(ids):
        db.session.execute(
            update(Membership.__table__)
            .where(Membership.__table__.c.id.in_(chunk))
            .values(role=MemberRole.LEADER.value)
        )
    return len(ids)


def _ezhou_leaf_units(ezhou: Unit) -> list[int]:
    """Ezhou's communities, and its streets and towns without communities of their own."""
    child = aliased(Unit)
    return list(
        db.session.scalars(
            select(Unit.id)
            .where(
                subtree_condition(ezhou.path),
                Unit.level.in_([UnitLevel.STREET.value, UnitLevel.COMMUNITY.value]),
                ~exists().where(child.parent_id == Unit.id),
            )
            .order_by(Unit.id)
        )
    )


def _chunks(rows: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


class _progress:
    """click's progress bar on stderr (shown on a terminal only), clamped to its length."""

    def __init__(self, length: int, label: str):
        self.length = max(length, 1)
        self.done = 0
        self.bar = click.progressbar(length=self.length, label=label, file=sys.stderr)

    def __enter__(self):
        self.bar.__enter__()
        return self

    def update(self, n: int) -> None:
        step = min(n, self.length - self.done)
        if step > 0:
            self.done += step
            self.bar.update(step)

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)


# -- console ----------------------------------------------------------------------------------
ORDER = (
    "units",
    "teams",
    "people",
    "memberships",
    "events",
    "shifts",
    "signups",
    "service records",
    "accounts",
    "synthetic teams",
    "synthetic volunteers",
    "synthetic memberships",
    "synthetic leaders",
)


def _login_url() -> str:
    # `dev.py run` hands its PORT to this command; a deployment has its public origin.
    origin = current_app.config.get("PUBLIC_BASE_URL")
    if not origin:
        origin = f"http://127.0.0.1:{os.environ.get('PORT') or 5000}"
    return f"{origin}/login"


def _report(echo: Callable[[str], object], tally: Tally, accounts: list[Account], seconds: float):
    echo(f"演示数据 demo data ({seconds:.1f} s):")
    for kind in ORDER:
        created, present = tally.created.get(kind, 0), tally.present.get(kind, 0)
        if created or present:
            echo(f"  {kind:<22} created {created:>6}   already present {present:>6}")
    echo("")
    echo("演示账号 demo accounts — password for all: " + DEMO_PASSWORD)
    echo("  !! 仅供演示：密码是公开的，切勿用于真实部署 / demo only: the password is public,")
    echo("  !! never seed a real deployment with these accounts.")
    for account in accounts:
        echo(f"  {account.role:<12} {account.phone[3:]:<12} {account.name}（{account.scope}）")
    echo(f"登录 log in: {_login_url()}")
