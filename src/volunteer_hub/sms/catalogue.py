"""The catalogue: every kind of text we send, as a template written once.

Each :class:`Template` is what a provider's console asks for when a template is
registered: a key (our name for it), a type (通知 or 验证码), the content with ``${var}``
placeholders, an example value per variable, and why it is sent. ``sms.templates`` renders
them and checks them against the providers' rules; ``flask sms templates`` prints them.

A pure table of text: add a template here, then register it with each provider and map
its key to the provider's code in the ``SMS_TEMPLATES`` file. Optional parts of a text are
separate templates (``checked_out`` / ``checked_out_hours``), because providers refuse
empty variables. Wording rules (no 「」, simplified characters only …) are enforced by
tests/sms/test_templates.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

#: UTF-16 units a body may use so that signature (10) + body stay in one UCS-2 segment
BODY_BUDGET = 60
#: a notice that carries a place may take two segments (67 units each, signature included)
TWO_SEGMENTS = 2 * 67 - 10
#: the longest variable value the providers take (Aliyun 通知: 1–35 characters)
MAX_VARIABLE = 35
NOTICE, CODE = "通知", "验证码"
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")

# -- the catalogue's shapes ------------------------------------------------------------


@dataclass(frozen=True)
class Var:
    """One variable of a template."""

    example: str
    #: free text (a title, a name, a place): cleaned, cut with "…", shortened to fit
    free: bool = False
    #: units a free value is cut to (never above MAX_VARIABLE)
    limit: int = MAX_VARIABLE
    #: what an empty free value becomes: providers refuse empty variables
    fallback: str = ""
    #: units a free value is never cut below to fit a budget ("防汛…" says nothing)
    floor: int = 4


@dataclass(frozen=True)
class Template:
    key: str
    kind: str  # 通知 or 验证码
    content: str
    why: str
    variables: Mapping[str, Var] = field(default_factory=dict)
    #: units the text aims at; its ``fit`` variables are cut (longest first) to stay within
    budget: int | None = None
    fit: tuple[str, ...] = ()
    #: when the ``fit`` variables at their floor still overrun ``budget``: the budget the
    #: text takes instead, so that a title is cut only as far as it buys a segment
    then_budget: int | None = None

    @property
    def names(self) -> list[str]:
        """Variable names in order of first appearance (Tencent numbers them so: {1}, {2})."""
        return list(dict.fromkeys(PLACEHOLDER.findall(self.content)))

    def fill(self, values: Mapping[str, str]) -> str:
        return PLACEHOLDER.sub(lambda m: values[m.group(1)], self.content)

    def tencent_content(self) -> str:
        number = {name: str(i) for i, name in enumerate(self.names, start=1)}
        return PLACEHOLDER.sub(lambda m: "{" + number[m.group(1)] + "}", self.content)


# -- variables used by many templates --------------------------------------------------

TITLE = Var("防汛巡堤", free=True, fallback="活动")
TEAM = Var("江岸区“长江卫士”退役军人志愿服务队", free=True)
#: a place in a sign-up answer or notice; "待定" when the event has none yet
PLACE = Var("汉口江滩三阳路码头", free=True, limit=30, fallback="待定")
SHIFT_CODE = Var("1234")
WHEN = Var("11月25日 08:00")
HELP = "回复：报名/取消/签到/签退+编号；确认；我的 安排；我的时长；更正+编号+说明；退订 停收短信"
_SIGNUP_VARS = {"team": TEAM, "title": TITLE, "when": WHEN, "place": PLACE, "code": SHIFT_CODE}
#: a call-out names its duty shortly: the title cut to 20, the place with no label
CALL_TITLE = Var("防汛巡堤", free=True, limit=20, fallback="活动")
CALL_PLACE = Var("汉口江滩三阳路码头", free=True, limit=30, fallback="地点待定")
SPAN = Var("12月1日 08:00–12:00")
#: a change notice cuts the title, never the time, the place or the code, and not below
#: five characters: rather two segments than a title nobody recognises
NOTICE_TITLE = Var("防汛巡堤", free=True, fallback="活动", floor=6)
_WHEN_VARS = {"team": TEAM, "title": TITLE, "when": WHEN, "place": PLACE}
_ABOUT_VARS = {"team": TEAM, "title": TITLE, "code": SHIFT_CODE, "place": PLACE}
_SIGNUP_FIT = ("title", "team", "place")
#: several codes in one text: what was asked, and the template key of its outcomes
RESULTS = (("报名", "signup_results"), ("取消", "cancel_results"))


def _t(
    key, kind, content, why, variables=None, budget=BODY_BUDGET, fit=("title",), then_budget=None
):
    variables = dict(variables or {})
    fit = tuple(name for name in fit if name in variables)
    return Template(key, kind, content, why, variables, budget if fit else None, fit, then_budget)


#: shifts on one page of 我的 ("我的 2" shows the next page)
MY_PAGE = 3
_MY_EXAMPLES = (
    "11月25日 08:00 防汛巡堤 1234",
    "11月26日 08:00 长江巡堤 5678",
    "12月1日 14:00 红色宣讲 9012",
)


def _my_shifts(n: int, *, more: bool = False) -> Template:
    """我的: a page of ``n`` upcoming shifts, one variable each; ``more``: with how many
    are left and how to see them (the next page, or the volunteer page after login)."""
    names = [f"shift_{i}" for i in range(1, n + 1)]
    variables = {name: Var(example) for name, example in zip(names, _MY_EXAMPLES, strict=False)}
    content = "您的安排：" + "；".join(f"${{{name}}}" for name in names)
    why = f"志愿者回复“我的”查询近期报名的班次（{n}个）"
    if more:
        content += "。另有${more}个，回复“我的 ${next}”看下一页，或登录志愿者页面查看。"
        variables |= {"more": Var("4"), "next": Var("2")}
        why = "志愿者回复“我的”查询近期报名的班次（一页列不下，告知其余的个数和查看方法）"
    key = f"my_shifts_{n}" + ("_more" if more else "")
    return _t(key, NOTICE, content, why, variables, fit=())


#: codes one text may carry (报名 / 取消 several at once): each may need a list variable
MAX_CODES = 4
RESULT_LISTS = ("results", *(f"results_{n}" for n in range(2, MAX_CODES + 1)))


def _results(action: str, key: str, n: int) -> Template:
    """报名 / 取消 with several codes: each code's outcome, in 1–MAX_CODES list variables
    (one holds two outcomes when their codes and titles are short)."""
    lists = RESULT_LISTS[:n]
    examples = ["7503 防汛巡堤 成功；7290 长江巡堤 候补第2位", "7311 无此编号"] + [
        "7312 未报名"
    ] * 2
    return _t(
        key + ("" if n == 1 else f"_{n}"),
        NOTICE,
        f"{action}结果：" + "；".join(f"${{{name}}}" for name in lists) + "。回复“我的”查看安排。",
        f"志愿者一条短信{action}多个班次时，逐个告知每个编号的结果",
        {name: Var(example) for name, example in zip(lists, examples, strict=False)},
    )


def _broadcast_many(n: int) -> Template:
    """A call-out of several shifts: the list in 1–3 variables of at most 35 characters
    (one variable a provider takes), as many as the shifts need."""
    lists = ["shifts", "shifts_2", "shifts_3"][:n]
    examples = [
        "1234 12月1日 08:00；5678 14:00",
        "9012 12月2日 08:00",
        "3456 12月3日 08:00；等6个班次",
    ]
    return _t(
        "broadcast_many" + ("" if n == 1 else f"_{n}"),
        NOTICE,
        "新活动：“${title}”，地点：${place}。回复“报名+编号”报名："
        + "；".join(f"${{{name}}}" for name in lists),
        "队长发布志愿服务活动后通知本队队员报名（多个班次，列出编号和时间）",
        {
            "title": Var("防汛巡堤", True, 20, "活动"),
            "place": PLACE,
            **{name: Var(example) for name, example in zip(lists, examples, strict=False)},
        },
        fit=(),
    )


_TEMPLATES = [
    # -- help and hints --
    _t("help", NOTICE, HELP, "志愿者回复“帮助”时，告知可用的短信指令"),
    _t("unknown_command", NOTICE, "未能识别。" + HELP, "志愿者发来无法识别的短信时，说明指令"),
    _t(
        "need_code",
        NOTICE,
        "请回复 ${keyword}+编号，如：${keyword} 1234",
        "志愿者发送报名、取消、签到、签退等指令时漏写班次编号，提示写法",
        {"keyword": Var("报名")},
    ),
    _t(
        "unknown_number",
        NOTICE,
        "您好，您尚未登记为志愿者，请联系所在服务队队长登记后即可短信报名。",
        "未登记的号码发来短信时，告知如何登记",
    ),
    # -- consent --
    _t(
        "opted_out",
        NOTICE,
        "您已退订，将不再收到本平台短信。回复“订阅”可恢复。",
        "志愿者回复退订后的确认，此后不再向其发送任何短信",
    ),
    _t(
        "opted_in",
        NOTICE,
        "您已恢复接收短信。回复“帮助”查看指令，回复“退订”停止接收。",
        "志愿者回复订阅、恢复接收短信后的确认",
    ),
    # -- signing up --
    _t(
        "signup_confirmed",
        NOTICE,
        "报名成功：${team}“${title}”，${when}，地点：${place}。取消请回复 取消 ${code}",
        "志愿者报名志愿服务班次成功后的确认（短信、网页或队长代报名）",
        _SIGNUP_VARS,
        fit=_SIGNUP_FIT,
    ),
    _t(
        "signup_waitlisted",
        NOTICE,
        "${team}“${title}”（${when}，地点：${place}）已满，您在候补第${position}位，有空位将短信通知。",
        "班次名额已满，志愿者进入候补名单时告知候补位次",
        {**_WHEN_VARS, "position": Var("3")},
        fit=_SIGNUP_FIT,
    ),
    _t(
        "already_signed_up",
        NOTICE,
        "您已报名${team}“${title}”（${when}，地点：${place}），无需重复报名。",
        "志愿者重复报名同一班次时告知已报名",
        _WHEN_VARS,
        fit=_SIGNUP_FIT,
    ),
    _t(
        "shift_started",
        NOTICE,
        "${team}“${title}”（编号${code}，地点：${place}）已开始或已结束，无法报名。",
        "志愿者报名已开始的班次时告知无法报名",
        _ABOUT_VARS,
        fit=_SIGNUP_FIT,
    ),
    _t(
        "event_cancelled",
        NOTICE,
        "${team}“${title}”（编号${code}，地点：${place}）已取消，无法报名。",
        "志愿者报名已取消的活动时告知无法报名",
        _ABOUT_VARS,
        fit=_SIGNUP_FIT,
    ),
    _t(
        "members_only",
        NOTICE,
        "${team}“${title}”（编号${code}，地点：${place}）仅限该队队员报名，未为您报名。请核对编号。",
        "非本队队员报名仅限队员的活动时告知未报名",
        _ABOUT_VARS,
        fit=_SIGNUP_FIT,
    ),
    _t(
        "unknown_code",
        NOTICE,
        "未找到编号${code}的活动，请核对编号。回复“我的”查看您的安排。",
        "志愿者发来的班次编号不存在时提示核对",
        {"code": SHIFT_CODE},
    ),
    _t(
        "waitlist_promoted",
        NOTICE,
        "您已从候补转为正式报名：${team}“${title}”，${when}，地点：${place}。"
        "如需取消请回复 取消 ${code}",
        "有人取消后，候补第一位的志愿者自动转为正式报名时通知本人",
        _SIGNUP_VARS,
        fit=_SIGNUP_FIT,
    ),
    *(_results(action, key, n) for action, key in RESULTS for n in range(1, MAX_CODES + 1)),
    _t(
        "too_many_codes",
        NOTICE,
        "一条短信最多${limit}个编号，请分几次发送。",
        "志愿者一条短信写了过多的班次编号时，提示分开发送（未做任何改动）",
        {"limit": Var("4")},
    ),
    _t(
        "reminder",
        NOTICE,
        "提醒：您报名的“${title}”将于${when}开始，地点：${place}。"
        "回复“确认”确认参加，回复“取消 ${code}”取消。",
        "志愿服务班次开始前24小时和2小时提醒已报名的志愿者",
        {
            "title": TITLE,
            "when": WHEN,
            "place": PLACE,
            "code": SHIFT_CODE,
        },
        budget=2 * BODY_BUDGET,
    ),
    # -- cancelling, confirming, checking in and out --
    _t(
        "cancel_done",
        NOTICE,
        "已取消报名：${title}，${when}。",
        "志愿者短信取消报名后的确认",
        {"title": TITLE, "when": WHEN},
    ),
    _t(
        "checked_in_stays",
        NOTICE,
        "您已在${title}签到，报名不能取消。提前离开请回复 签退 ${code}",
        "志愿者签到后又发送取消时提示：改为签退",
        {"title": TITLE, "code": SHIFT_CODE},
    ),
    _t(
        "not_signed_up",
        NOTICE,
        "您没有报名编号${code}的活动。回复“我的”查看您的安排。",
        "志愿者取消或签到未报名的班次时提示",
        {"code": SHIFT_CODE},
    ),
    _t("confirm_thanks", NOTICE, "已确认参加，谢谢！", "志愿者收到提醒后回复确认参加的答复"),
    _t(
        "confirm_thanks_shift",
        NOTICE,
        "已确认参加${title}（${when}），谢谢！",
        "志愿者收到提醒后回复确认参加的答复，注明所确认的班次",
        {"title": TITLE, "when": WHEN},
    ),
    _t(
        "nothing_to_confirm",
        NOTICE,
        "您近期没有需要确认的活动。回复“我的”查看您的安排。",
        "志愿者回复确认但近期没有待确认的班次时提示",
    ),
    _t(
        "checked_in",
        NOTICE,
        "签到成功：${title}，${when}。结束时请回复 签退 ${code}",
        "志愿者在活动现场短信签到后的确认，用于记录志愿服务时长",
        {"title": TITLE, "when": WHEN, "code": SHIFT_CODE},
    ),
    _t(
        "checked_in_any",
        NOTICE,
        "签到成功：${title}，${when}。结束时请回复 签退+编号",
        "志愿者在活动现场短信签到后的确认（未注明班次编号时）",
        {"title": TITLE, "when": WHEN},
    ),
    *(
        _t(
            f"{key}_choose",
            NOTICE,
            f"您有${{count}}个班次可{word}，请回复 {word}+编号：${{choices}}",
            f"志愿者回复“{word}”未写编号、而有多个班次可{word}时，列出各班次及编号",
            {"count": Var("2"), "choices": Var("防汛巡堤 7503；长江巡堤 7290")},
            fit=(),
        )
        for key, word in (("check_in", "签到"), ("check_out", "签退"))
    ),
    _t(
        "checked_out",
        NOTICE,
        "签退成功：${title}，${when}。辛苦了！",
        "志愿者短信签退后的确认",
        {"title": TITLE, "when": WHEN},
    ),
    _t(
        "checked_out_hours",
        NOTICE,
        "签退成功：${title}，${when}。本次计${hours}小时，待队长审核。",
        "志愿者短信签退后的确认，告知本次记录的服务时长",
        {"title": TITLE, "when": WHEN, "hours": Var("2.5")},
    ),
    _t(
        "check_in_not_open",
        NOTICE,
        "“${title}”签到时间未到，${opens_at}起可签到。",
        "志愿者签到过早时告知可签到的时间",
        {"title": TITLE, "opens_at": WHEN},
    ),
    _t(
        "check_in_closed",
        NOTICE,
        "${title}（编号${code}）已结束，不能签到；如已到场请联系队长登记。",
        "班次结束后仍发来签到时提示联系队长",
        {"title": TITLE, "code": SHIFT_CODE},
    ),
    _t(
        "already_checked_in",
        NOTICE,
        "您已于${when}签到“${title}”，无需重复。结束时请回复 签退 ${code}",
        "志愿者重复签到时告知已签到",
        {"when": WHEN, "title": TITLE, "code": SHIFT_CODE},
    ),
    _t(
        "waitlisted_no_check_in",
        NOTICE,
        "您在编号${code}的候补名单上，尚未获得名额，不能签到签退。有空位将短信通知。",
        "候补中的志愿者发来签到或签退时说明",
        {"code": SHIFT_CODE},
    ),
    _t(
        "shift_cancelled",
        NOTICE,
        "${title}（编号${code}）已取消，无需签到签退。",
        "志愿者对已取消的班次签到或签退时说明",
        {"title": TITLE, "code": SHIFT_CODE},
    ),
    _t(
        "record_decided",
        NOTICE,
        "“${title}”的服务记录已审核。如有出入请回复 更正 ${code} 说明",
        "服务记录已由队长审核后仍发来签到签退时说明如何申请更正",
        {"title": TITLE, "code": SHIFT_CODE},
    ),
    _t(
        "not_checked_in",
        NOTICE,
        "您还没有签到编号${code}的班次，不能签退。如已到场请联系队长登记。",
        "未签到就签退时提示",
        {"code": SHIFT_CODE},
    ),
    _t(
        "already_checked_out",
        NOTICE,
        "您已于${when}签退“${title}”。如有出入请回复 更正 ${code} 说明",
        "志愿者重复签退时告知已签退的时间",
        {"when": WHEN, "title": TITLE, "code": SHIFT_CODE},
    ),
    _t(
        "checked_out_at_end",
        NOTICE,
        "“${title}”已按班次结束时间签退。如有出入请回复 更正 ${code} 说明",
        "班次结束时系统已自动签退，志愿者再发签退时说明",
        {"title": TITLE, "code": SHIFT_CODE},
    ),
    _t(
        "check_out_closed",
        NOTICE,
        "“${title}”签退时间已过，按班次结束时间计。如有出入请回复 更正 ${code} 说明",
        "签退时间已过时说明按班次结束时间计时",
        {"title": TITLE, "code": SHIFT_CODE},
    ),
    # -- my hours, corrections, my shifts --
    _t(
        "my_hours",
        NOTICE,
        "您的志愿服务时长：累计认定${total}小时，${year}年${year_hours}小时。",
        "志愿者回复“我的时长”查询已认定的志愿服务时长",
        {"total": Var("36.5"), "year": Var("2026"), "year_hours": Var("12")},
    ),
    _t(
        "my_hours_pending",
        NOTICE,
        "您的志愿服务时长：累计认定${total}小时，${year}年${year_hours}小时；"
        "另有${pending}条记录待审核。",
        "志愿者回复“我的时长”查询时长，并告知待审核的记录数",
        {"total": Var("36.5"), "year": Var("2026"), "year_hours": Var("12"), "pending": Var("2")},
    ),
    _t(
        "no_records",
        NOTICE,
        "您还没有志愿服务记录。活动时回复 签到+编号、签退+编号 即可记录。",
        "没有服务记录的志愿者查询时长时说明如何记录",
    ),
    _t(
        "correction_received",
        NOTICE,
        "已收到您对“${title}”（${day}）记录的更正申请，队长将核实处理。",
        "志愿者短信申请更正服务记录后的确认",
        {"title": TITLE, "day": Var("11月25日")},
    ),
    _t(
        "correction_need_note",
        NOTICE,
        "请写明更正内容，如：更正 ${code} 实际8点到",
        "志愿者申请更正时漏写说明，提示写法",
        {"code": SHIFT_CODE},
    ),
    _t(
        "correction_no_record",
        NOTICE,
        "未找到您在编号${code}班次的服务记录，请核对编号。回复“我的时长”查看时长。",
        "申请更正的班次没有该志愿者的服务记录时提示",
        {"code": SHIFT_CODE},
    ),
    _t(
        "correction_too_long",
        NOTICE,
        "更正说明请不超过${limit}字，请精简后重发。",
        "更正说明过长时提示精简",
        {"limit": Var("100")},
    ),
    _t(
        "correction_resolved",
        NOTICE,
        "您对“${title}”（${day}）记录的更正申请已处理：${reason}",
        "队长处理志愿者的更正申请后告知处理结果（队长的说明）",
        {
            "title": TITLE,
            "day": Var("11月25日"),
            "reason": Var("已改为8点到，计4小时", free=True, fallback="已处理"),
        },
        fit=("reason", "title"),
    ),
    _t(
        "my_shifts_none",
        NOTICE,
        "您近期没有已报名的活动。回复“帮助”查看指令。",
        "志愿者回复“我的”但近期没有报名时说明",
    ),
    *(_my_shifts(n) for n in range(1, MY_PAGE + 1)),
    _my_shifts(MY_PAGE, more=True),
    _t(
        "my_shifts_no_page",
        NOTICE,
        "您共有${total}个安排，没有第${page}页。回复“我的”从头查看。",
        "志愿者回复“我的+页码”但页码超出时说明",
        {"total": Var("4"), "page": Var("3")},
    ),
    # -- notices: a signup or an event changed --
    _t(
        "organizer_cancelled_event",
        NOTICE,
        "活动取消：${title}已取消，您${when}的报名随之取消。敬请谅解。",
        "组织方取消整个活动时通知已报名的志愿者",
        {"title": TITLE, "when": WHEN},
    ),
    _t(
        "organizer_cancelled_event_reason",
        NOTICE,
        "活动取消：${title}已取消，您${when}的报名随之取消。原因：${reason}。敬请谅解。",
        "组织方取消整个活动时通知已报名的志愿者，附取消原因",
        {"title": TITLE, "when": WHEN, "reason": Var("汛情变化，堤段封闭", free=True)},
    ),
    _t(
        "organizer_cancelled_shift",
        NOTICE,
        "班次取消：${title}于${when}的班次（编号${code}）已取消，您的报名随之取消。",
        "组织方取消某个班次时通知该班次已报名的志愿者",
        {"title": TITLE, "when": WHEN, "code": SHIFT_CODE},
    ),
    _t(
        "organizer_cancelled_shift_reason",
        NOTICE,
        "班次取消：${title}于${when}的班次（编号${code}）已取消，您的报名随之取消。原因：${reason}。",
        "组织方取消某个班次时通知该班次已报名的志愿者，附取消原因",
        {
            "title": TITLE,
            "when": WHEN,
            "code": SHIFT_CODE,
            "reason": Var("汛情变化，堤段封闭", free=True),
        },
    ),
    *(
        _t(
            key,
            NOTICE,
            f"活动变更：“${{title}}”{change}。不能参加请回复 取消 ${{code}}",
            why,
            {"title": NOTICE_TITLE, "code": SHIFT_CODE, **variables},
            then_budget=TWO_SEGMENTS,
        )
        for key, change, why, variables in (
            ("event_moved", "时间改为${span}", "已报名班次的时间变更时通知志愿者", {"span": SPAN}),
            (
                "event_place_changed",
                "地点改为${place}",
                "已报名活动的地点变更时通知志愿者",
                {"place": PLACE},
            ),
            (
                "event_moved_and_place_changed",
                "改为${span}，地点${place}",
                "已报名班次的时间和地点同时变更时通知志愿者",
                {"span": SPAN, "place": PLACE},
            ),
        )
    ),
    # -- a leader's call-out --
    _t(
        "broadcast_one",
        NOTICE,
        "新活动：“${title}”${when}，地点：${place}。回复“报名 ${code}”报名",
        "队长发布志愿服务活动后通知本队队员报名（一个班次）",
        {
            "title": Var("防汛巡堤", True, 20, "活动"),
            "when": WHEN,
            "place": PLACE,
            "code": SHIFT_CODE,
        },
        fit=(),
    ),
    *(_broadcast_many(n) for n in (1, 2, 3)),
    # -- call-outs (flood duty, rescue): answered with 1 or 2 --
    *(
        _t(
            key,
            NOTICE,
            f"{head}：{said}${{title}}，${{span}}，${{place}}。能来请回复1（或“1 ${{code}}”），不能来回复2。",
            "紧急任务（防汛、抢险）召集符合条件的志愿者，回复1或2表示能否参加",
            {
                "title": CALL_TITLE,
                "span": SPAN,
                "place": CALL_PLACE,
                "code": Var("482"),
                **({"message": Var("江堤出现管涌，急需人手", free=True)} if said else {}),
            },
            fit=(),
        )
        for key, head, said in (
            ("callout", "召集", ""),
            ("callout_urgent", "紧急召集", ""),
            ("callout_message", "召集", "${message}。"),
            ("callout_urgent_message", "紧急召集", "${message}。"),
        )
    ),
    *(
        _t(
            key,
            NOTICE,
            f"{head}${{title}}，${{span}}，${{place}}。{arrive}到场回复“签到 ${{code}}”。",
            why,
            {"title": CALL_TITLE, "span": SPAN, "place": CALL_PLACE, "code": SHIFT_CODE},
            fit=(),
        )
        for key, head, arrive, why in (
            (
                "callout_seated",
                "已为您留位：",
                "请按时到达，",
                "志愿者回复1应召后确认已留位，并告知到场签到方式",
            ),
            (
                "callout_stand_down_seated",
                "召集已结束。请按时到达：",
                "",
                "召集人数已满或结束时，提醒已留位的志愿者按时到达",
            ),
        )
    ),
    _t(
        "callout_waitlisted",
        NOTICE,
        "名额已满，您在候补第${position}位：${title}，${when}，${place}。有空位会短信通知您。",
        "志愿者回复1应召但名额已满时告知候补位次",
        {"position": Var("3"), "title": CALL_TITLE, "when": WHEN, "place": CALL_PLACE},
        fit=(),
    ),
    _t(
        "callout_already_on",
        NOTICE,
        "您已报名：${title}，${when}，${place}。",
        "已报名的志愿者再次回复召集时说明",
        {"title": CALL_TITLE, "when": WHEN, "place": CALL_PLACE},
        fit=(),
    ),
    _t(
        "callout_declined",
        NOTICE,
        "已记下您这次不能参加${title}，谢谢。如能来了，回复1即可。",
        "志愿者回复2表示不能参加时的确认",
        {"title": CALL_TITLE},
        fit=(),
    ),
    _t(
        "callout_closed",
        NOTICE,
        "${title}的召集已结束，谢谢您的响应。",
        "召集结束后仍收到回复时说明",
        {"title": CALL_TITLE},
        fit=(),
    ),
    _t(
        "callout_choose",
        NOTICE,
        "您有${count}个召集：${choices}。不能来把1换成2。",
        "志愿者同时有多个召集、回复未注明编号时，列出各召集的回复方式",
        {"count": Var("2"), "choices": Var("防汛巡堤回复“1 482”；抢险回复“1 517”")},
    ),
    _t(
        "callout_stand_down_waitlisted",
        NOTICE,
        "${title}的召集已结束，您仍在候补名单上，有空位会短信通知您。",
        "召集结束时告知仍在候补名单上的志愿者",
        {"title": CALL_TITLE},
        fit=(),
    ),
    _t(
        "callout_note",
        NOTICE,
        "${title}召集通知：${message}。到场回复“签到 ${code}”。",
        "召集人给已留位的志愿者发送集合地点等通知",
        {
            "title": CALL_TITLE,
            "message": Var("请7点前到三阳路码头集合", free=True),
            "code": SHIFT_CODE,
        },
        fit=(),
    ),
    # -- accounts and teams --
    _t(
        "login_code",
        CODE,
        "您的登录验证码是 ${code}，10分钟内有效。如非本人操作请忽略。",
        "志愿者用手机号登录志愿者页面时发送的验证码",
        {"code": Var("123456")},
    ),
    _t(
        "phone_change_code",
        CODE,
        "您正在把志愿服务账号的手机号改为本号码，验证码 ${code}，30分钟内有效。"
        "请把验证码告诉为您办理的队长；如非本人操作请忽略。",
        "队长为志愿者更换手机号时，向新号码发送验证码以确认号码属于本人",
        {"code": Var("123456")},
    ),
    _t(
        "password_reset_code",
        CODE,
        "您正在重置志愿服务平台的登录密码，验证码 ${code}，10分钟内有效。如非本人操作请忽略。",
        "队长、协调员忘记密码时，向账号绑定的手机号发送验证码以重设密码",
        {"code": Var("123456")},
    ),
    _t(
        "phone_changed",
        NOTICE,
        "您的志愿服务账号手机号已改为 ${phone}。如非本人操作，请联系队长。",
        "志愿者账号的手机号更换后通知原号码（新号码只显示前三位和后四位）",
        {"phone": Var("138****8000")},
    ),
    _t(
        "team_invitation",
        NOTICE,
        "${team}邀请您加入该队。同意请回复“加入”，不同意请回复“不加入”；也可登录志愿者页面处理。",
        "队长把志愿者加入服务队名册时，请本人确认是否加入",
        {"team": Var(TEAM.example, True, 20, "服务队")},
    ),
    _t(
        "invitation_unknown_code",
        NOTICE,
        "没有编号为 ${code} 的入队邀请。报名班次请回复“报名 ${code}”。",
        "志愿者回复“加入+编号”但没有该编号的入队邀请时提示",
        {"code": Var("001")},
    ),
    _t(
        "invitation_decline_unknown_code",
        NOTICE,
        "没有编号为 ${code} 的入队邀请。",
        "志愿者回复“不加入+编号”但没有该编号的入队邀请时提示",
        {"code": Var("001")},
    ),
    _t(
        "invitation_none",
        NOTICE,
        "您目前没有待处理的入队邀请。报名班次请回复“报名+编号”。",
        "志愿者回复“加入”但没有待处理的入队邀请时提示",
    ),
    _t(
        "invitation_choose",
        NOTICE,
        "您有${count}个入队邀请：${choices}。",
        "志愿者有多个入队邀请时列出各队及回复方式",
        {"count": Var("2"), "choices": Var("莲花山社区…回复“加入001”；邓平社区…回复“加入002”")},
    ),
    _t(
        "invitation_expired",
        NOTICE,
        "${team}的邀请已失效。",
        "志愿者回复的入队邀请已失效时说明",
        {"team": Var(TEAM.example, True, 20, "服务队")},
    ),
    _t(
        "invitation_accepted",
        NOTICE,
        "您已加入${team}，以后可以报名该队的活动。",
        "志愿者同意入队邀请后的确认",
        {"team": Var(TEAM.example, True, 20, "服务队")},
    ),
    _t(
        "invitation_declined",
        NOTICE,
        "已谢绝${team}的入队邀请。",
        "志愿者谢绝入队邀请后的确认",
        {"team": Var(TEAM.example, True, 20, "服务队")},
    ),
]

#: every template by key, in the order the command prints them
CATALOGUE: dict[str, Template] = {template.key: template for template in _TEMPLATES}
