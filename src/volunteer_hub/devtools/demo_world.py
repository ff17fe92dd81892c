"""The demo world, drawn from the source documents: the units, teams, events and names
``flask seed-demo`` creates (``volunteer_hub.devtools.demo``). Data only.

* the unit tree 湖北省 › 武汉市 / 鄂州市 › 区 › 街道/乡镇 › 社区, with the communities the
  Ezhou report names (莲花山, 东塔, 菜园头, 邓平);
* the teams the documents name — Wuhan's 长江卫士 teams and 英烈讲解员, Ezhou's award-winning
  teams and 宣讲团 — each with a leader and 8–15 members (synthetic names), in
  ``demo_world.toml``;
* upcoming events of several categories (also in the TOML file), placed relative to the day
  the command runs so the demo never looks stale (one shift of several is full and has a
  waitlist).
"""

from __future__ import annotations

import random
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from importlib import resources

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


# -- the named teams and their events ---------------------------------------------------------
# Data, kept in demo_world.toml beside this module: the teams the documents name, each with a
# leader and 8–15 members (synthetic names), and their upcoming events.
@dataclass(frozen=True)
class TeamSpec:
    unit: tuple[str, ...]
    name: str
    description: str
    members: int  # besides the leader, 8–15
    skills: tuple[str, ...] = ()


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


#: shifts that depend on the weekday, by the name an event's ``rota`` gives
ROTAS: dict[str, Callable[[date], list[ShiftSpec]]] = {
    "flood": _flood_rota,
    "weekday_mornings": _weekday_mornings,
    "weekend_guides": _weekend_guides,
}


def _shift(row: dict) -> ShiftSpec:
    hour, minute = (int(part) for part in row["start"].split(":"))
    return ShiftSpec(
        row["title"], row["day"], (hour, minute), row["hours"], row["capacity"], row["signups"]
    )


def _event(row: dict) -> EventSpec:
    if "rota" in row:
        shifts = ROTAS[row["rota"]]
    else:
        fixed = [_shift(shift) for shift in row["shifts"]]
        shifts = lambda today: list(fixed)  # noqa: E731 - the same shifts whatever the day
    fields = ("team", "title", "category", "location", "description")
    return EventSpec(*(row[name] for name in fields), shifts=shifts)


_DATA = tomllib.loads(resources.files(__package__).joinpath("demo_world.toml").read_text("utf-8"))

#: order matters: a team's place fixes its members' phone numbers
TEAMS: tuple[TeamSpec, ...] = tuple(
    TeamSpec(
        ("湖北省", *row["unit"].split("/")),
        row["name"],
        row["description"],
        row["members"],
        tuple(row["skills"]),
    )
    for row in _DATA["teams"]
)
EVENTS: tuple[EventSpec, ...] = tuple(_event(row) for row in _DATA["events"])

LEADER_TEAM = "莲花山社区戎马志愿服务队"
#: where the synthetic teams of `seed-demo --scale` go, and the demo coordinator's unit
EZHOU = ("湖北省", "鄂州市")


#: what a team's past service is called in the hour reports, by the team's field
HISTORY_CONTENT = {
    "防汛抗旱": "长江江堤巡查值守",
    "红色宣讲": "红色故事宣讲",
    "护苗护学": "校门口护学岗",
    "长江大保护": "长江岸线清洁巡护",
    "基层治理": "社区网格巡查",
    "文明创建": "文明城市创建志愿服务",
}


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
