"""The bodies of the texts we answer with: short, Chinese, one segment where possible.

Pure functions of their arguments. A Chinese text travels as UCS-2, 70 UTF-16 units in
one segment; the outbox prepends ``SMS_SIGNATURE`` (【退役军人志愿服务】, 10 units), so
a body aims at :data:`BODY_BUDGET` (60) units. Titles are the only free text and are cut
with "…" to fit; digit runs that could be a phone number are masked in them (rule 8: a
reply never carries another person's phone number, and a leader may type one into a
title). Times are shown in Asia/Shanghai, like "11月25日 08:00".

Plain Chinese strings rather than ``flask_babel.gettext``: SMS is Chinese-only for now,
these functions must work in workers without an app context, and the strings would
otherwise need catalog entries that nothing would translate.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from volunteer_hub.sms.commands import CommandKind

__all__ = [
    "BODY_BUDGET",
    "already_checked_in",
    "already_checked_out",
    "already_signed_up",
    "broadcast_call",
    "cancel_done",
    "check_in_closed",
    "check_in_not_open",
    "check_out_closed",
    "checked_in",
    "checked_out",
    "confirm_thanks",
    "correction_need_note",
    "correction_no_record",
    "correction_received",
    "correction_too_long",
    "event_cancelled",
    "event_changed",
    "format_hours",
    "format_time",
    "help_text",
    "members_only",
    "my_hours",
    "my_shifts",
    "need_code",
    "no_records",
    "not_checked_in",
    "not_signed_up",
    "nothing_to_confirm",
    "opted_in",
    "opted_out",
    "organizer_cancelled",
    "record_decided",
    "shift_cancelled",
    "shift_started",
    "signup_confirmed",
    "signup_waitlisted",
    "units",
    "unknown_code",
    "unknown_command",
    "unknown_number",
    "waitlist_promoted",
    "waitlisted_no_check_in",
]

#: UTF-16 units a body may use so that signature + body stay in one UCS-2 segment
BODY_BUDGET = 60
#: a title is never cut shorter than this, even if the text then needs two segments
MIN_TITLE = 4
ELLIPSIS = "…"
SHANGHAI = ZoneInfo("Asia/Shanghai")

# 7 or more digits, possibly split by spaces or dashes ("138 0013 8000", "027-8888888"):
# long enough to be a mobile or a landline number. ASCII and full-width digits.
_PHONE_LIKE = re.compile(r"[0-9０-９](?:[\s\-－]?[0-9０-９]){6,}")

# What to text for each command that needs a code.
_CODE_KEYWORD = {
    CommandKind.SIGN_UP: "报名",
    CommandKind.CANCEL: "取消",
    CommandKind.CHECK_IN: "签到",
    CommandKind.CHECK_OUT: "签退",
    CommandKind.CORRECTION: "更正",
}
_EXAMPLE_CODE = "1234"


def units(text: str) -> int:
    """Length in UTF-16 code units, what a UCS-2 segment counts (an emoji is two)."""
    return len(text.encode("utf-16-le")) // 2


def format_time(value: datetime) -> str:
    """ "11月25日 08:00"; an aware time is shown in Asia/Shanghai, a naive one as given."""
    if value.tzinfo is not None:
        value = value.astimezone(SHANGHAI)
    return f"{value.month}月{value.day}日 {value:%H:%M}"


def _mask_phone_like(text: str) -> str:
    def mask(match: re.Match[str]) -> str:
        digits = re.sub(r"[\s\-－]", "", match.group())
        return f"{digits[:3]}****{digits[-4:]}" if len(digits) >= 11 else "****"

    return _PHONE_LIKE.sub(mask, text)


def _clean(text: str) -> str:
    """Free text as a text carries it: whitespace collapsed, phone-like digits masked."""
    return _mask_phone_like(" ".join((text or "").split()))


def _clean_title(title: str) -> str:
    return _clean(title) or "活动"


def _truncate(text: str, max_units: int) -> str:
    """``text`` cut to ``max_units`` UTF-16 units, ending with "…" when cut."""
    if units(text) <= max_units:
        return text
    out = ""
    for ch in text:
        if units(out + ch + ELLIPSIS) > max_units:
            break
        out += ch
    return out + ELLIPSIS


def _fit(build: Callable[[str], str], title: str, budget: int = BODY_BUDGET) -> str:
    """``build(title)`` with the title cut just enough to fit the budget."""
    title = _clean_title(title)
    text = build(title)
    overflow = units(text) - budget
    if overflow <= 0:
        return text
    room = max(MIN_TITLE, units(title) - overflow)
    return build(_truncate(title, room))


# -- help, hints, people we do not know ------------------------------------------------


def help_text() -> str:
    return (
        "回复：报名/取消/签到/签退+编号；确认；我的 安排；我的时长；更正+编号+说明；退订 停收短信"
    )


def unknown_command() -> str:
    """The answer to a text we could not read: say so, then the help."""
    return "未能识别。" + help_text()


def need_code(kind: CommandKind) -> str:
    """The hint for a command sent without its code ("报名" alone)."""
    keyword = _CODE_KEYWORD.get(kind)
    if keyword is None:
        return help_text()
    if kind == CommandKind.CORRECTION:
        return correction_need_note()
    return f"请回复 {keyword}+编号，如：{keyword} {_EXAMPLE_CODE}"


def unknown_number() -> str:
    """To a phone we have no volunteer for: the way to join."""
    return "您好，您尚未登记为志愿者，请联系所在服务队队长登记后即可短信报名。"


# -- consent ---------------------------------------------------------------------------


def opted_out() -> str:
    """The only text an opted-out person ever receives (rule 4)."""
    return "您已退订，将不再收到本平台短信。回复“订阅”可恢复。"


def opted_in() -> str:
    return "您已恢复接收短信。回复“帮助”查看指令，回复“退订”停止接收。"


# -- signing up ------------------------------------------------------------------------


def reminder(*, title: str, starts_at: datetime, location: str, code: str) -> str:
    """Before a shift: what, when, where, and how to confirm or cancel; two segments at
    most, phone-like digits masked."""
    when = format_time(starts_at)
    where = _where(_place(location))
    return _fit(
        lambda t: (
            f"提醒：您报名的「{t}」将于{when}开始{where}。"
            f"回复“确认”确认参加，回复“取消 {code}”取消。"
        ),
        title,
        budget=2 * BODY_BUDGET,
    )


# Every sign-up answer names the team and the place as well as the event, so that a
# code typed wrong (or another team's code) shows at once whose event it is and where.
# Team, title and place are free text: the longest is cut first, none below MIN_TITLE.


def _fit_all(template: str, title: str, team: str, location: str, **values: object) -> str:
    """``template`` filled in, ``{named}`` with the team and the title (see ``_named``),
    ``{where}`` with the place, the rest from ``values``; the longest of title, team and
    place cut until the text fits BODY_BUDGET."""
    parts = [_clean_title(title), _clean(team), _clean(location)]
    limits = [units(part) for part in parts]

    def render() -> str:
        cut_title, cut_team, place = (
            _truncate(part, limit) for part, limit in zip(parts, limits, strict=True)
        )
        return template.format(named=_named(cut_title, cut_team), where=_where(place), **values)

    text = render()
    while (overflow := units(text) - BODY_BUDGET) > 0:
        longest = max(range(3), key=lambda i: limits[i])
        if limits[longest] <= MIN_TITLE:
            break  # all as short as they may be: two segments rather than nothing
        runner_up = max(limits[i] for i in range(3) if i != longest)
        if runner_up < limits[longest]:  # down to the next one's length at most
            limits[longest] = max(MIN_TITLE, runner_up, limits[longest] - overflow)
        else:  # as long as another: take turns, a unit each
            limits[longest] -= 1
        text = render()
    return text


def _named(title: str, team: str) -> str:
    """长江卫士服务队「防汛巡堤」, or only 「防汛巡堤」 when the team is not given."""
    return f"{team}「{title}」"


def _where(place: str) -> str:
    return f"，地点：{place}" if place else ""


#: the answers about an event's shift: ``{named}`` is its team and title, ``{where}`` its place
_CONFIRMED = "报名成功：{named}，{when}{where}。取消请回复 取消 {code}"
_WAITLISTED = "{named}（{when}{where}）已满，您在候补第{position}位，有空位将短信通知。"
_ALREADY = "您已报名{named}（{when}{where}），无需重复报名。"
_STARTED = "{named}（编号{code}{where}）已开始或已结束，无法报名。"
_CANCELLED = "{named}（编号{code}{where}）已取消，无法报名。"
_MEMBERS_ONLY = "{named}（编号{code}{where}）仅限该队队员报名，未为您报名。请核对编号。"
_PROMOTED = "您已从候补转为正式报名：{named}，{when}{where}。如需取消请回复 取消 {code}"


def signup_confirmed(
    *, title: str, starts_at: datetime, code: str, team: str = "", location: str = ""
) -> str:
    return _fit_all(_CONFIRMED, title, team, location, when=format_time(starts_at), code=code)


def signup_waitlisted(
    *,
    title: str,
    starts_at: datetime,
    code: str,
    position: int,
    team: str = "",
    location: str = "",
) -> str:
    when = format_time(starts_at)
    return _fit_all(_WAITLISTED, title, team, location, when=when, position=position)


def already_signed_up(
    *, title: str, starts_at: datetime, code: str, team: str = "", location: str = ""
) -> str:
    return _fit_all(_ALREADY, title, team, location, when=format_time(starts_at))


def shift_started(*, title: str, code: str, team: str = "", location: str = "") -> str:
    return _fit_all(_STARTED, title, team, location, code=code)


def event_cancelled(*, title: str, code: str, team: str = "", location: str = "") -> str:
    return _fit_all(_CANCELLED, title, team, location, code=code)


def members_only(*, title: str, code: str, team: str, location: str = "") -> str:
    """A code of a members-only event texted by someone not in its team: nothing done."""
    return _fit_all(_MEMBERS_ONLY, title, team, location, code=code)


def unknown_code(*, code: str) -> str:
    return f"未找到编号{code}的活动，请核对编号。回复“我的”查看您的安排。"


# -- cancelling, confirming, checking in -----------------------------------------------


def cancel_done(*, title: str, starts_at: datetime, code: str) -> str:
    when = format_time(starts_at)
    return _fit(lambda t: f"已取消报名：{t}，{when}。", title)


def not_signed_up(*, code: str) -> str:
    return f"您没有报名编号{code}的活动。回复“我的”查看您的安排。"


def confirm_thanks(*, title: str | None = None, starts_at: datetime | None = None) -> str:
    """Thanks for confirming; names the shift when the caller knows which one."""
    if title is None or starts_at is None:
        return "已确认参加，谢谢！"
    when = format_time(starts_at)
    return _fit(lambda t: f"已确认参加{t}（{when}），谢谢！", title)


def nothing_to_confirm() -> str:
    return "您近期没有需要确认的活动。回复“我的”查看您的安排。"


def checked_in(*, title: str, at: datetime, code: str | None = None) -> str:
    out = f"签退 {code}" if code else "签退+编号"
    return _fit(lambda t: f"签到成功：{t}，{format_time(at)}。结束时请回复 {out}", title)


def checked_out(*, title: str, at: datetime, minutes: int | None = None) -> str:
    """With ``minutes``: the time this record counts, still to be verified."""
    if minutes is None:
        return _fit(lambda t: f"签退成功：{t}，{format_time(at)}。辛苦了！", title)
    counted = format_hours(minutes)
    return _fit(
        lambda t: f"签退成功：{t}，{format_time(at)}。本次计{counted}小时，待队长审核。", title
    )


def check_in_not_open(*, title: str, opens_at: datetime) -> str:
    """Too early: when the check-in opens."""
    return _fit(lambda t: f"「{t}」签到时间未到，{format_time(opens_at)}起可签到。", title)


def check_in_closed(*, title: str, code: str) -> str:
    """The shift is over: no check-in any more; the leader records attendance."""
    return _fit(lambda t: f"{t}（编号{code}）已结束，不能签到；如已到场请联系队长登记。", title)


def already_checked_in(*, title: str, at: datetime, code: str) -> str:
    return _fit(
        lambda t: f"您已于{format_time(at)}签到「{t}」，无需重复。结束时请回复 签退 {code}", title
    )


def waitlisted_no_check_in(*, code: str) -> str:
    return f"您在编号{code}的候补名单上，尚未获得名额，不能签到签退。有空位将短信通知。"


def shift_cancelled(*, title: str, code: str) -> str:
    return _fit(lambda t: f"{t}（编号{code}）已取消，无需签到签退。", title)


def record_decided(*, title: str, code: str) -> str:
    """The leader already verified or rejected the record: only a correction changes it."""
    return _fit(lambda t: f"「{t}」的服务记录已审核。如有出入请回复 更正 {code} 说明", title)


def not_checked_in(*, code: str) -> str:
    return f"您还没有签到编号{code}的班次，不能签退。如已到场请联系队长登记。"


def already_checked_out(*, title: str, at: datetime | None, code: str) -> str:
    """Twice, or after the check-out was closed at the shift's end (``at`` None)."""
    if at is None:
        return _fit(
            lambda t: f"「{t}」已按班次结束时间签退。如有出入请回复 更正 {code} 说明", title
        )
    return _fit(
        lambda t: f"您已于{format_time(at)}签退「{t}」。如有出入请回复 更正 {code} 说明", title
    )


def check_out_closed(*, title: str, code: str) -> str:
    """Too late to check out: the record ends at the shift's end."""
    return _fit(
        lambda t: f"「{t}」签退时间已过，按班次结束时间计。如有出入请回复 更正 {code} 说明", title
    )


# -- my hours and corrections ----------------------------------------------------------


def format_hours(minutes: int) -> str:
    """ "2", "1.5", "0.25": minutes as hours, without trailing zeros."""
    return f"{minutes / 60:.2f}".rstrip("0").rstrip(".") or "0"


def my_hours(*, verified_minutes: int, year_minutes: int, year: int, pending: int) -> str:
    """我的时长: the verified total, this year's, and how many records wait."""
    text = (
        f"您的志愿服务时长：累计认定{format_hours(verified_minutes)}小时，"
        f"{year}年{format_hours(year_minutes)}小时"
    )
    if pending:
        return text + f"；另有{pending}条记录待审核。"
    return text + "。"


def no_records() -> str:
    return "您还没有志愿服务记录。活动时回复 签到+编号、签退+编号 即可记录。"


def correction_received(*, title: str, day: datetime) -> str:
    local = day.astimezone(SHANGHAI) if day.tzinfo else day
    when = f"{local.month}月{local.day}日"
    return _fit(lambda t: f"已收到您对「{t}」（{when}）记录的更正申请，队长将核实处理。", title)


def correction_need_note(code: str | None = None) -> str:
    example = code or _EXAMPLE_CODE
    return f"请写明更正内容，如：更正 {example} 实际8点到"


def correction_no_record(*, code: str) -> str:
    return f"未找到您在编号{code}班次的服务记录，请核对编号。回复“我的时长”查看时长。"


def correction_too_long(*, limit: int) -> str:
    return f"更正说明请不超过{limit}字，请精简后重发。"


# -- my shifts -------------------------------------------------------------------------

_MY_HEADER = "您的安排："
_MY_SEPARATOR = "；"
#: a title in the list is cut to this many units so that two or three shifts fit
_MY_TITLE_UNITS = 8


def _my_item(code: str, title: str, starts_at: datetime, title_units: int) -> str:
    return f"{format_time(starts_at)} {_truncate(_clean_title(title), title_units)} {code}"


def my_shifts(shifts: Iterable[tuple[str, str, datetime]], *, budget: int = BODY_BUDGET) -> str:
    """Upcoming shifts as "11月25日 08:00 防汛巡堤 1234", soonest first.

    ``shifts`` holds (code, title, starts_at) with starts_at already in Asia/Shanghai.
    As many as fit the budget are listed; when some are left out the text ends with
    "等N个" (N = all of them). The soonest one is always listed, its title cut further
    if needed.
    """
    ordered = sorted(shifts, key=lambda shift: shift[2])
    if not ordered:
        return "您近期没有已报名的活动。回复“帮助”查看指令。"
    total = len(ordered)
    more = f" 等{total}个"

    items: list[str] = []
    for index, (code, title, starts_at) in enumerate(ordered):
        item = _my_item(code, title, starts_at, _MY_TITLE_UNITS)
        is_last = index == total - 1
        candidate = _MY_HEADER + _MY_SEPARATOR.join([*items, item])
        if units(candidate) + (0 if is_last else units(more)) <= budget:
            items.append(item)
            continue
        break
    if not items:
        # Even the soonest shift does not fit with an 8-unit title: cut it harder.
        code, title, starts_at = ordered[0]
        suffix = "" if total == 1 else more
        fixed = units(f"{_MY_HEADER}{format_time(starts_at)}  {code}{suffix}")
        room = max(MIN_TITLE, budget - fixed)
        items.append(_my_item(code, title, starts_at, room))
    text = _MY_HEADER + _MY_SEPARATOR.join(items)
    if len(items) < total:
        text += more
    return text


# -- notices: texts we send on our own when a signup or an event changes ----------------
# The confirmation of a signup made on the web, by a leader or through the API uses
# signup_confirmed / signup_waitlisted above: the same words an SMS signup gets as reply.

#: a notice that carries a place may take two segments (signature included)
TWO_SEGMENTS = 2 * 67 - 10
#: a place is cut to this many units in a reminder, a notice or a call-out
PLACE_UNITS = 30


def _place(location: str) -> str:
    return _truncate(_clean(location), PLACE_UNITS)


def _span(starts_at: datetime, ends_at: datetime | None) -> str:
    """ "12月1日 08:00–12:00", or with the end's date when it is another day."""
    if ends_at is None:
        return format_time(starts_at)
    if starts_at.tzinfo is not None:
        starts_at, ends_at = starts_at.astimezone(SHANGHAI), ends_at.astimezone(SHANGHAI)
    end = f"{ends_at:%H:%M}" if ends_at.date() == starts_at.date() else format_time(ends_at)
    return f"{format_time(starts_at)}–{end}"


def waitlist_promoted(
    *, title: str, starts_at: datetime, code: str, team: str = "", location: str = ""
) -> str:
    return _fit_all(_PROMOTED, title, team, location, when=format_time(starts_at), code=code)


#: how much of the leader's cancellation reason a notice carries
REASON_UNITS = 40


def organizer_cancelled(
    *, title: str, starts_at: datetime, code: str, whole_event: bool, reason: str = ""
) -> str:
    """The organizer ended the person's signup: the whole event, or just this shift; with
    the leader's reason, shortened, when they gave one."""
    when = format_time(starts_at)
    reason = _truncate(_clean(reason), REASON_UNITS)
    because = f"原因：{reason}。" if reason else ""
    if whole_event:
        return _fit(
            lambda t: f"活动取消：{t}已取消，您{when}的报名随之取消。{because}敬请谅解。", title
        )
    return _fit(
        lambda t: f"班次取消：{t}{when}的班次（编号{code}）已取消，您的报名随之取消。{because}",
        title,
    )


def event_changed(
    *,
    title: str,
    code: str,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    location: str | None = None,
) -> str:
    """A moved shift (give ``starts_at``/``ends_at``), a new place (give ``location``), or
    both. One segment when it fits; a place may take the text to two."""
    changes = []
    if starts_at is not None:
        changes.append(f"时间改为{_span(starts_at, ends_at)}")
    if location is not None:
        place = _place(location)
        changes.append(f"地点改为{place}" if place else "地点另行通知")
    change = "，".join(changes)
    budget = BODY_BUDGET if location is None else TWO_SEGMENTS
    return _fit(
        lambda t: f"活动变更：{t}（编号{code}）{change}。如不能参加请回复 取消 {code}",
        title,
        budget,
    )


# -- a leader's call-out ---------------------------------------------------------------

#: an event title is cut to this many units in a call-out
CALL_TITLE_UNITS = 20
#: a shift's own name, when shown to tell apart shifts starting together
CALL_SHIFT_TITLE_UNITS = 6


def broadcast_call(
    *, title: str, location: str, shifts: Sequence[tuple[str, datetime, str]], budget: int
) -> str:
    """Announce an event to a team: its title, place and the codes to text.

    ``shifts`` holds (code, starts_at, shift title) of the shifts still open, soonest
    first. One shift: "新活动：「长江巡堤」12月1日 08:00，地点：…。回复“报名 1234”报名".
    Several: the codes with their times ("1234 12月1日 08:00；5678 10:00"), the date only
    when it changes, and the shift's name only where two start together; as many as fit
    ``budget`` (UTF-16 units, what 2–3 segments leave after the signature), then "等N个班次".
    """
    head = f"新活动：「{_truncate(_clean_title(title), CALL_TITLE_UNITS)}」"
    where = _where(_place(location))
    if len(shifts) == 1:
        code, starts_at, _name = shifts[0]
        return f"{head}{format_time(starts_at)}{where}。回复“报名 {code}”报名"
    text = f"{head}{where}。回复“报名+编号”报名："
    together = {when for when, n in Counter(s for _c, s, _n in shifts).items() if n > 1}
    more = f"；等{len(shifts)}个班次"
    items: list[str] = []
    last_day = None
    for index, (code, starts_at, name) in enumerate(shifts):
        local = starts_at.astimezone(SHANGHAI) if starts_at.tzinfo else starts_at
        item = f"{code} {f'{local:%H:%M}' if local.date() == last_day else format_time(local)}"
        if starts_at in together and name.strip():
            item += " " + _truncate(_clean_title(name), CALL_SHIFT_TITLE_UNITS)
        # Room must be left for "等N个班次" unless this is the last shift.
        tail = more if index < len(shifts) - 1 else ""
        if items and units(text + "；".join([*items, item]) + tail) > budget:
            break
        items.append(item)
        last_day = local.date()
    text += "；".join(items)
    return text + (more if len(items) < len(shifts) else "")
