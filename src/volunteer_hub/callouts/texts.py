"""The words of a call-out's texts. Pure functions of their arguments.

Plain Chinese like ``sms.replies`` (whose time and place helpers they use), to become
entries of the SMS template catalogue. No 【】 or 「」 inside: the signature's brackets
are the provider's, and some providers refuse a template that has more.
"""

from __future__ import annotations

from datetime import datetime

from volunteer_hub.sms.replies import _place, _span, _truncate, format_time

#: the caller's message is cut to this many characters in the call-out text
MESSAGE_CHARS = 70
TITLE_CHARS = 20


def _what(title: str, starts_at: datetime, ends_at: datetime, location: str) -> str:
    place = _place(location)
    return f"{_truncate(' '.join(title.split()), TITLE_CHARS)}，{_span(starts_at, ends_at)}" + (
        f"，{place}" if place else ""
    )


def call(
    *,
    message: str,
    title: str,
    starts_at: datetime,
    ends_at: datetime,
    location: str,
    code: str,
    urgent: bool,
) -> str:
    """The call-out itself: what, when, where, and how to answer."""
    head = "紧急召集" if urgent else "召集"
    words = _truncate(" ".join(message.split()), MESSAGE_CHARS)
    said = f"{words}。" if words else ""
    return (
        f"{head}：{said}{_what(title, starts_at, ends_at, location)}。"
        f"能来请回复1（或“1 {code}”），不能来回复2。"
    )


def seated(*, title: str, starts_at: datetime, ends_at: datetime, location: str, code: str) -> str:
    return (
        f"已为您留位：{_what(title, starts_at, ends_at, location)}。"
        f"请按时到达，到场回复“签到 {code}”。"
    )


def waitlisted(*, position: int, title: str, starts_at: datetime, location: str) -> str:
    place = _place(location)
    return (
        f"名额已满，您在候补第{position}位：{_truncate(title, TITLE_CHARS)}，"
        f"{format_time(starts_at)}{'，' + place if place else ''}。有空位会短信通知您。"
    )


def already_on(*, title: str, starts_at: datetime, location: str) -> str:
    place = _place(location)
    return (
        f"您已报名：{_truncate(title, TITLE_CHARS)}，{format_time(starts_at)}"
        f"{'，' + place if place else ''}。"
    )


def declined(*, title: str) -> str:
    return f"已记下您这次不能参加{_truncate(title, TITLE_CHARS)}，谢谢。如能来了，回复1即可。"


def closed(*, title: str) -> str:
    return f"{_truncate(title, TITLE_CHARS)}的召集已结束，谢谢您的响应。"


def choose(items: list[tuple[str, str]]) -> str:
    """Several open call-outs and a reply without a code: which one?"""
    listed = "；".join(f"{_truncate(title, 10)}回复“1 {code}”" for code, title in items[:3])
    return f"您有{len(items)}个召集：{listed}。不能来把1换成2。"


def stand_down_seated(
    *, title: str, starts_at: datetime, ends_at: datetime, location: str, code: str
) -> str:
    return (
        f"召集结束，人已到齐。请按时到达：{_what(title, starts_at, ends_at, location)}。"
        f"到场回复“签到 {code}”。"
    )


def stand_down_waitlisted(*, title: str) -> str:
    return f"{_truncate(title, TITLE_CHARS)}的召集已结束，您仍在候补名单上，有空位会短信通知您。"
