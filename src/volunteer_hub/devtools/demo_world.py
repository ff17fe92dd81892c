"""The demo world, drawn from the source documents: the units, teams, events and names
``flask seed-demo`` creates (``volunteer_hub.devtools.demo``). Data only.

* the unit tree 湖北省 › 武汉市 / 鄂州市 › 区 › 街道/乡镇 › 社区, with the communities the
  Ezhou report names (莲花山, 东塔, 菜园头, 邓平);
* the teams the documents name — Wuhan's 长江卫士 teams and 英烈讲解员, Ezhou's award-winning
  teams and 宣讲团 — each with a leader and 8–15 members (synthetic names);
* upcoming events of several categories, placed relative to the day the command runs so
  the demo never looks stale (one shift of several is full and has a waitlist).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

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


def _fixed(*shifts: ShiftSpec) -> Callable[[date], list[ShiftSpec]]:
    """Shifts that do not depend on the weekday."""
    return lambda today: list(shifts)


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
        _fixed(ShiftSpec("宣讲", 4, (9, 30), 1.5, 6, 8)),
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
        _fixed(ShiftSpec("宣讲与咨询", 6, (15, 0), 1.5, 5, 3)),
    ),
    EventSpec(
        "东塔社区“五老”邻里退役军人志愿服务队",
        "走访慰问困难退役军人和军烈属",
        "走访慰问",
        "鄂州市鄂城区凤凰街道东塔社区",
        "入户走访，了解急难愁盼，登记需要协调解决的问题。",
        _fixed(
            ShiftSpec("上午走访组", 3, (9, 0), 2.5, 4, 2),
            ShiftSpec("下午走访组", 3, (14, 30), 2.5, 4, 3),
        ),
    ),
    EventSpec(
        "菜园头社区“高性宽”老兵志愿服务队",
        "文明创建·小区环境整治",
        "文明创建",
        "鄂州市鄂城区凤凰街道菜园头社区",
        "清理楼道杂物、整治乱停乱放。",
        _fixed(ShiftSpec("环境整治", 5, (8, 30), 2, 10, 5)),
    ),
    EventSpec(
        "鄂州市关心下一代退役军人志愿队",
        "全民国防教育进校园",
        "红色宣讲",
        "鄂州市鄂城区（学校另行通知）",
        "“全民国防教育宣传月”主题宣讲，面向中小学生。",
        _fixed(ShiftSpec("宣讲", 8, (14, 30), 1.5, 4, 2)),
    ),
    EventSpec(
        "鄂城老兵红色宣讲团",
        "“老兵永远跟党走”主题宣讲",
        "红色宣讲",
        "鄂州市鄂城区（单位另行通知）",
        "走进机关、企事业单位开展主题宣讲。",
        _fixed(ShiftSpec("宣讲", 9, (9, 0), 1.5, 5, 3)),
    ),
    EventSpec(
        "武汉市退役军人长江卫士应急救援队",
        "长江水上应急救援演练",
        "应急救援",
        "武汉市江岸区汉口江滩",
        "冲锋舟操作、落水人员救援和岸上保障演练。",
        _fixed(
            ShiftSpec("水上救援组", 6, (9, 0), 3, 8, 9),
            ShiftSpec("岸上保障组", 6, (9, 0), 3, 6, 4),
        ),
    ),
    EventSpec(
        "江岸区“长江卫士”退役军人志愿服务队",
        "长江大保护·汉口江滩净滩行动",
        "长江大保护",
        "武汉市江岸区汉口江滩",
        "捡拾江滩垃圾、劝导文明游园。请自带手套和水。",
        _fixed(ShiftSpec("净滩", 4, (8, 30), 2.5, 12, 7)),
    ),
    EventSpec(
        "江岸区“长江卫士”退役军人志愿服务队",
        "“八个一”走访慰问重点优抚对象",
        "走访慰问",
        "武汉市江岸区大智街道",
        "“八个一”拥军优属活动：走访慰问重点优抚对象。",
        _fixed(ShiftSpec("走访", 10, (9, 0), 3, 4, 2)),
    ),
    EventSpec(
        "武昌区“长江卫士”退役军人志愿服务队",
        "武昌江滩巡江护岸",
        "长江大保护",
        "武汉市武昌区武昌江滩",
        "沿江巡查，劝阻非法垂钓和下水游泳。",
        _fixed(
            ShiftSpec("早班", 5, (8, 0), 2, 5, 3),
            ShiftSpec("晚班", 5, (16, 0), 2, 5, 2),
        ),
    ),
    EventSpec(
        "青山区“长江卫士”退役军人志愿服务队",
        "青山江滩防汛巡堤",
        "防汛抗旱",
        "武汉市青山区青山江滩",
        "夜间巡堤查险，发现险情立即上报。",
        _fixed(ShiftSpec("夜间巡堤", 7, (19, 0), 3, 6, 4)),
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
