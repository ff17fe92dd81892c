"""The words of a call-out's texts. Pure functions of their arguments.

Plain Chinese like ``sms.replies`` (whose time and place helpers they use), to become
entries of the SMS template catalogue. No 【】 or 「」 inside: the signature's brackets
are the provider's, and some providers refuse a template that has more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from volunteer_hub.sms.replies import _place, _span, _truncate, format_time

#: the caller's message is cut to this many characters in the call-out text
MESSAGE_CHARS = 70
TITLE_CHARS = 20


@dataclass(frozen=True)
class Duty:
    """What a text says of the duty: the event's title and place, a shift's time and code."""

    title: str
    location: str
    starts_at: datetime
    ends_at: datetime
    #: the shift's code, for 签到
    code: str = ""

    @classmethod
    def of(cls, event, shift, last_shift=None) -> Duty:
        """``last_shift``: the call-out's last, when it spans several."""
        ends_at = (last_shift or shift).ends_at
        return cls(event.title, event.location, shift.starts_at, ends_at, shift.code)

    @property
    def name(self) -> str:
        return _truncate(" ".join(self.title.split()), TITLE_CHARS)

    @property
    def place(self) -> str:
        place = _place(self.location)
        return f"，{place}" if place else ""

    @property
    def what(self) -> str:
        return f"{self.name}，{_span(self.starts_at, self.ends_at)}{self.place}"


def call(duty: Duty, *, message: str, code: str, urgent: bool) -> str:
    """The call-out itself: what, when, where, and how to answer."""
    head = "紧急召集" if urgent else "召集"
    words = _truncate(" ".join(message.split()), MESSAGE_CHARS)
    said = f"{words}。" if words else ""
    return f"{head}：{said}{duty.what}。能来请回复1（或“1 {code}”），不能来回复2。"


def seated(duty: Duty) -> str:
    return f"已为您留位：{duty.what}。请按时到达，到场回复“签到 {duty.code}”。"


def waitlisted(duty: Duty, position: int) -> str:
    return (
        f"名额已满，您在候补第{position}位：{duty.name}，{format_time(duty.starts_at)}"
        f"{duty.place}。有空位会短信通知您。"
    )


def already_on(duty: Duty) -> str:
    return f"您已报名：{duty.name}，{format_time(duty.starts_at)}{duty.place}。"


def declined(title: str) -> str:
    return f"已记下您这次不能参加{_truncate(title, TITLE_CHARS)}，谢谢。如能来了，回复1即可。"


def closed(title: str) -> str:
    return f"{_truncate(title, TITLE_CHARS)}的召集已结束，谢谢您的响应。"


def choose(items: list[tuple[str, str]]) -> str:
    """Several open call-outs and a reply without a code: (code, title) of each."""
    listed = "；".join(f"{_truncate(title, 10)}回复“1 {code}”" for code, title in items[:3])
    return f"您有{len(items)}个召集：{listed}。不能来把1换成2。"


def stand_down_seated(duty: Duty) -> str:
    return f"召集已结束。请按时到达：{duty.what}。到场回复“签到 {duty.code}”。"


def stand_down_waitlisted(title: str) -> str:
    return f"{_truncate(title, TITLE_CHARS)}的召集已结束，您仍在候补名单上，有空位会短信通知您。"
