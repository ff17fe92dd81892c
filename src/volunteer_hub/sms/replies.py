"""The texts we answer and notify with, as renderings of the template catalogue.

Each function picks the template (``sms/catalogue.py``) for what happened and gives its
variables in our words (a time as "11月25日 08:00", minutes as hours); ``sms.templates``
does the rest (free text cleaned and cut to fit one segment where it can, phone-like
digits masked). What comes back is a :class:`~volunteer_hub.sms.templates.Rendered`:
the text for the console and Twilio, and the key and variables for a template backend.

Lists (my shifts, a call-out's shifts, several invitations) are built here to fit the
one variable a provider allows them: at most ``MAX_VARIABLE`` characters.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime

from volunteer_hub.i18n import as_shown
from volunteer_hub.sms.catalogue import MY_PAGE, RESULT_LISTS
from volunteer_hub.sms.commands import CommandKind
from volunteer_hub.sms.templates import (
    MAX_VARIABLE,
    Rendered,
    clean,
    cut,
    format_time,
    render,
    units,
)

# What to text for each command that needs a code.
_CODE_KEYWORD = {
    CommandKind.SIGN_UP: "报名",
    CommandKind.CANCEL: "取消",
    CommandKind.CHECK_IN: "签到",
    CommandKind.CHECK_OUT: "签退",
    CommandKind.CORRECTION: "更正",
}
_EXAMPLE_CODE = "1234"
#: a title is never cut shorter than this in a list
MIN_TITLE = 4


# -- help, hints, people we do not know ------------------------------------------------


def help_text() -> Rendered:
    return render("help")


def unknown_command() -> Rendered:
    """The answer to a text we could not read: say so, then the help."""
    return render("unknown_command")


def need_code(kind: CommandKind) -> Rendered:
    """The hint for a command sent without its code ("报名" alone)."""
    keyword = _CODE_KEYWORD.get(kind)
    if keyword is None:
        return help_text()
    if kind == CommandKind.CORRECTION:
        return correction_need_note()
    return render("need_code", keyword=keyword)


def unknown_number() -> Rendered:
    """To a phone we have no volunteer for: the way to join."""
    return render("unknown_number")


def opted_out() -> Rendered:
    """The only text an opted-out person ever receives (rule 4)."""
    return render("opted_out")


def opted_in() -> Rendered:
    return render("opted_in")


# -- signing up ------------------------------------------------------------------------
# Every sign-up answer names the team and the place as well as the event, so that a
# code typed wrong (or another team's code) shows at once whose event it is and where.


def reminder(*, title: str, starts_at: datetime, location: str, code: str) -> Rendered:
    """Before a shift: what, when, where, and how to confirm or cancel."""
    return render("reminder", title=title, when=format_time(starts_at), place=location, code=code)


def signup_confirmed(
    *, title: str, starts_at: datetime, code: str, team: str = "", location: str = ""
) -> Rendered:
    when = format_time(starts_at)
    return render("signup_confirmed", team=team, title=title, when=when, place=location, code=code)


def signup_waitlisted(
    *,
    title: str,
    starts_at: datetime,
    code: str,
    position: int,
    team: str = "",
    location: str = "",
) -> Rendered:
    return render(
        "signup_waitlisted",
        team=team,
        title=title,
        when=format_time(starts_at),
        place=location,
        position=position,
    )


def already_signed_up(
    *, title: str, starts_at: datetime, code: str, team: str = "", location: str = ""
) -> Rendered:
    when = format_time(starts_at)
    return render("already_signed_up", team=team, title=title, when=when, place=location)


def shift_started(*, title: str, code: str, team: str = "", location: str = "") -> Rendered:
    return render("shift_started", team=team, title=title, code=code, place=location)


def event_cancelled(*, title: str, code: str, team: str = "", location: str = "") -> Rendered:
    return render("event_cancelled", team=team, title=title, code=code, place=location)


def members_only(*, title: str, code: str, team: str, location: str = "") -> Rendered:
    """A code of a members-only event texted by someone not in its team: nothing done."""
    return render("members_only", team=team, title=title, code=code, place=location)


def unknown_code(*, code: str) -> Rendered:
    return render("unknown_code", code=code)


def waitlist_promoted(
    *, title: str, starts_at: datetime, code: str, team: str = "", location: str = ""
) -> Rendered:
    when = format_time(starts_at)
    return render("waitlist_promoted", team=team, title=title, when=when, place=location, code=code)


# -- cancelling, confirming, checking in -----------------------------------------------


def cancel_done(*, title: str, starts_at: datetime, code: str) -> Rendered:
    return render("cancel_done", title=title, when=format_time(starts_at))


def checked_in_stays(*, title: str, code: str) -> Rendered:
    return render("checked_in_stays", title=title, code=code)


def not_signed_up(*, code: str) -> Rendered:
    return render("not_signed_up", code=code)


def confirm_thanks(*, title: str | None = None, starts_at: datetime | None = None) -> Rendered:
    """Thanks for confirming; names the shift when the caller knows which one."""
    if title is None or starts_at is None:
        return render("confirm_thanks")
    return render("confirm_thanks_shift", title=title, when=format_time(starts_at))


def nothing_to_confirm() -> Rendered:
    return render("nothing_to_confirm")


def checked_in(*, title: str, at: datetime, code: str | None = None) -> Rendered:
    if code is None:
        return render("checked_in_any", title=title, when=format_time(at))
    return render("checked_in", title=title, when=format_time(at), code=code)


def checked_out(*, title: str, at: datetime, minutes: int | None = None) -> Rendered:
    """With ``minutes``: the time this record counts, still to be verified."""
    if minutes is None:
        return render("checked_out", title=title, when=format_time(at))
    hours = format_hours(minutes)
    return render("checked_out_hours", title=title, when=format_time(at), hours=hours)


def check_in_not_open(*, title: str, opens_at: datetime) -> Rendered:
    """Too early: when the check-in opens."""
    return render("check_in_not_open", title=title, opens_at=format_time(opens_at))


def check_in_closed(*, title: str, code: str) -> Rendered:
    """The shift is over: no check-in any more; the leader records attendance."""
    return render("check_in_closed", title=title, code=code)


def already_checked_in(*, title: str, at: datetime, code: str) -> Rendered:
    return render("already_checked_in", when=format_time(at), title=title, code=code)


def waitlisted_no_check_in(*, code: str) -> Rendered:
    return render("waitlisted_no_check_in", code=code)


def shift_cancelled(*, title: str, code: str) -> Rendered:
    return render("shift_cancelled", title=title, code=code)


def record_decided(*, title: str, code: str) -> Rendered:
    """The leader already verified or rejected the record: only a correction changes it."""
    return render("record_decided", title=title, code=code)


def not_checked_in(*, code: str) -> Rendered:
    return render("not_checked_in", code=code)


def already_checked_out(*, title: str, at: datetime | None, code: str) -> Rendered:
    """Twice, or after the check-out was closed at the shift's end (``at`` None)."""
    if at is None:
        return render("checked_out_at_end", title=title, code=code)
    return render("already_checked_out", when=format_time(at), title=title, code=code)


def check_out_closed(*, title: str, code: str) -> Rendered:
    """Too late to check out: the record ends at the shift's end."""
    return render("check_out_closed", title=title, code=code)


# -- my hours and corrections ----------------------------------------------------------


def format_hours(minutes: int) -> str:
    """ "2", "1.5", "0.25": minutes as hours, without trailing zeros."""
    return f"{minutes / 60:.2f}".rstrip("0").rstrip(".") or "0"


def my_hours(*, verified_minutes: int, year_minutes: int, year: int, pending: int) -> Rendered:
    """我的时长: the verified total, this year's, and how many records wait."""
    values = {
        "total": format_hours(verified_minutes),
        "year": year,
        "year_hours": format_hours(year_minutes),
    }
    if pending:
        return render("my_hours_pending", **values, pending=pending)
    return render("my_hours", **values)


def no_records() -> Rendered:
    return render("no_records")


def correction_received(*, title: str, day: datetime) -> Rendered:
    local = as_shown(day)
    return render("correction_received", title=title, day=f"{local.month}月{local.day}日")


def correction_need_note(code: str | None = None) -> Rendered:
    return render("correction_need_note", code=code or _EXAMPLE_CODE)


def correction_no_record(*, code: str) -> Rendered:
    return render("correction_no_record", code=code)


def correction_too_long(*, limit: int) -> Rendered:
    return render("correction_too_long", limit=limit)


# -- my shifts -------------------------------------------------------------------------

#: a title in the list is cut to this many units so that a page fits two segments
_MY_TITLE_UNITS = 8


def _my_item(code: str, title: str, starts_at: datetime) -> str:
    return f"{format_time(starts_at)} {cut(clean(title) or '活动', _MY_TITLE_UNITS)} {code}"


def my_shifts(shifts: Iterable[tuple[str, str, datetime]], *, page: int = 1) -> Rendered:
    """Upcoming shifts as "11月25日 08:00 防汛巡堤 1234", soonest first, MY_PAGE a page.

    ``shifts`` holds (code, title, starts_at) with starts_at already in the display zone.
    When more follow the page, the text says how many and how to see them: "我的 2" for
    the next page, or the volunteer page after login. A page past the end says how many
    there are in all.
    """
    ordered = sorted(shifts, key=lambda shift: shift[2])
    if not ordered:
        return render("my_shifts_none")
    first = (page - 1) * MY_PAGE
    if first >= len(ordered):
        return render("my_shifts_no_page", total=len(ordered), page=page)
    shown = ordered[first : first + MY_PAGE]
    items = {f"shift_{i}": _my_item(*shift) for i, shift in enumerate(shown, start=1)}
    more = len(ordered) - first - len(shown)
    if more:
        return render(f"my_shifts_{len(shown)}_more", **items, more=more, next=page + 1)
    return render(f"my_shifts_{len(shown)}", **items)


# -- several codes in one text ---------------------------------------------------------

#: a title in a list of outcomes is cut to this many units
_RESULT_TITLE_UNITS = 5
#: what each single-code answer comes to in a list of outcomes (template key → words)
_OUTCOMES = {
    "signup_confirmed": "成功",
    "signup_waitlisted": "候补第{position}位",
    "already_signed_up": "已报过",
    "shift_started": "已开始",
    "event_cancelled": "活动已取消",
    "members_only": "仅限队员",
    "cancel_done": "已取消",
    "checked_in_stays": "已签到",
    "not_signed_up": "未报名",
    "unknown_code": "无此编号",
}
_RESULT_KEYS = {CommandKind.SIGN_UP: "signup_results", CommandKind.CANCEL: "cancel_results"}


def results(kind: CommandKind, outcomes: Sequence[tuple[str, Rendered]]) -> Rendered:
    """报名 / 取消 of several codes: (code, the answer a text of that code alone gets) of
    each, said in a few words each ("7503 防汛巡堤 成功；7290 无此编号")."""
    items = []
    for code, answer in outcomes:
        said = _OUTCOMES[answer.key].format(**answer.variables)
        title = answer.variables.get("title")
        named = f" {cut(title, _RESULT_TITLE_UNITS)}" if title else ""
        items.append(f"{code}{named} {said}")
    lists = pack(items)
    key = _RESULT_KEYS[kind] + ("" if len(lists) == 1 else f"_{len(lists)}")
    return render(key, **dict(zip(RESULT_LISTS, lists, strict=False)))


def pack(items: Sequence[str], separator: str = "；") -> list[str]:
    """``items`` joined into as few list variables of at most MAX_VARIABLE as they fit."""
    lists: list[list[str]] = [[]]
    for item in items:
        if lists[-1] and units(separator.join([*lists[-1], item])) > MAX_VARIABLE:
            lists.append([])
        lists[-1].append(item)
    return [separator.join(chunk) for chunk in lists]


def too_many_codes(*, limit: int) -> Rendered:
    return render("too_many_codes", limit=limit)


def choose_shift(kind: CommandKind, shifts: Sequence[tuple[str, str]]) -> Rendered:
    """签到 / 签退 without a code while several shifts are open for it: (title, code) of
    each, soonest first, as many as fit, and how many there are."""
    key = "check_in_choose" if kind == CommandKind.CHECK_IN else "check_out_choose"
    listed = choices([(title, f" {code}") for title, code in shifts])
    return render(key, count=len(shifts), choices=listed)


# -- notices: texts we send on our own when a signup or an event changes ----------------
# The confirmation of a signup made on the web, by a leader or through the API uses
# signup_confirmed / signup_waitlisted above: the same words an SMS signup gets as reply.


def span(starts_at: datetime, ends_at: datetime | None) -> str:
    """ "12月1日 08:00–12:00", or with the end's date when it is another day."""
    if ends_at is None:
        return format_time(starts_at)
    starts_at, ends_at = as_shown(starts_at), as_shown(ends_at)
    end = f"{ends_at:%H:%M}" if ends_at.date() == starts_at.date() else format_time(ends_at)
    return f"{format_time(starts_at)}–{end}"


def organizer_cancelled(
    *, title: str, starts_at: datetime, code: str, whole_event: bool, reason: str = ""
) -> Rendered:
    """The organizer ended the person's signup: the whole event, or just this shift; with
    the leader's reason, shortened, when they gave one."""
    values: dict[str, object] = {"title": title, "when": format_time(starts_at)}
    key = "organizer_cancelled_event" if whole_event else "organizer_cancelled_shift"
    if not whole_event:
        values["code"] = code
    if clean(reason):
        return render(f"{key}_reason", **values, reason=reason)
    return render(key, **values)


def event_changed(
    *,
    title: str,
    code: str,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
    location: str | None = None,
) -> Rendered:
    """A moved shift (give ``starts_at``/``ends_at``), a new place (give ``location``), or
    both. One segment when it fits; a place may take the text to two."""
    if location is None:
        return render("event_moved", title=title, code=code, span=span(starts_at, ends_at))
    if starts_at is None:
        return render("event_place_changed", title=title, code=code, place=location)
    return render(
        "event_moved_and_place_changed",
        title=title,
        code=code,
        span=span(starts_at, ends_at),
        place=location,
    )


# -- a leader's call-out ---------------------------------------------------------------

#: a shift's own name, when shown to tell apart shifts starting together
CALL_SHIFT_TITLE_UNITS = 6
#: a call-out's list of shifts takes at most this many variables (broadcast_many_3)
CALL_LISTS = 3


def broadcast_call(
    *, title: str, location: str, shifts: Sequence[tuple[str, datetime, str]]
) -> Rendered:
    """Announce an event to a team: its title, place and the codes to text.

    ``shifts`` holds (code, starts_at, shift title) of the shifts still open, soonest
    first. One shift: "新活动：“长江巡堤”12月1日 08:00，地点：…。回复“报名 1234”报名".
    Several: the codes with their times ("1234 12月1日 08:00；5678 10:00"), the date only
    when it changes, and the shift's name only where two start together; as many as fit
    three variables of MAX_VARIABLE characters (what a provider takes), then "等N个班次".
    """
    if len(shifts) == 1:
        code, starts_at, _name = shifts[0]
        when = format_time(starts_at)
        return render("broadcast_one", title=title, when=when, place=location, code=code)
    together = {when for when, n in Counter(s for _c, s, _n in shifts).items() if n > 1}
    more = f"；等{len(shifts)}个班次"
    chunks: list[list[str]] = [[]]
    last_day = None
    for index, (code, starts_at, name) in enumerate(shifts):
        local = as_shown(starts_at)
        item = f"{code} {f'{local:%H:%M}' if local.date() == last_day else format_time(local)}"
        if starts_at in together and name.strip():
            item += " " + cut(clean(name) or "活动", CALL_SHIFT_TITLE_UNITS)
        # The last list must leave room for "等N个班次" unless this is the last shift.
        tail = more if index < len(shifts) - 1 and len(chunks) == CALL_LISTS else ""
        if units("；".join([*chunks[-1], item]) + tail) > MAX_VARIABLE:
            if len(chunks) == CALL_LISTS:
                break
            chunks.append([])
        chunks[-1].append(item)
        last_day = local.date()
    lists = ["；".join(chunk) for chunk in chunks]
    if sum(map(len, chunks)) < len(shifts):
        lists[-1] += more
    names = ["shifts", "shifts_2", "shifts_3"]
    key = "broadcast_many" + ("" if len(lists) == 1 else f"_{len(lists)}")
    return render(key, title=title, place=location, **dict(zip(names, lists, strict=False)))


# -- teams -----------------------------------------------------------------------------


def team_invitation(*, team: str) -> Rendered:
    return render("team_invitation", team=team)


def invitation_unknown_code(*, code: str, accept: bool) -> Rendered:
    key = "invitation_unknown_code" if accept else "invitation_decline_unknown_code"
    return render(key, code=code)


def invitation_none() -> Rendered:
    return render("invitation_none")


def choices(items: Sequence[tuple[str, str]]) -> str:
    """(name, how to answer) of each choice as one list variable: the names cut evenly so
    the list fits MAX_VARIABLE characters, and as many choices as fit."""
    listed = ""
    for shown in range(len(items), 0, -1):
        answers = [answer for _name, answer in items[:shown]]
        share = (MAX_VARIABLE - units("；".join(answers))) // shown
        listed = "；".join(
            f"{cut(clean(name) or '活动', max(MIN_TITLE, share))}{answer}"
            for name, answer in items[:shown]
        )
        if units(listed) <= MAX_VARIABLE:
            break
    return listed


def invitation_choose(items: Sequence[tuple[str, str]], *, accept: bool) -> Rendered:
    """Several invitations wait: each team, ("name", code), with the words that answer it;
    the count says how many there are when not all of them fit."""
    word = "加入" if accept else "不加入"
    listed = choices([(name, f"回复“{word}{code}”") for name, code in items])
    return render("invitation_choose", count=len(items), choices=listed)


def invitation_answered(*, team: str, outcome: str) -> Rendered:
    """``outcome``: accepted, declined or expired."""
    return render(f"invitation_{outcome}", team=team)
