"""The words of a call-out's texts, as renderings of the SMS template catalogue.

Each function picks the ``callout_*`` template (``sms/catalogue.py``) and gives its
variables: the duty's title, time span, place and code. ``sms.templates`` cleans and cuts
the free text (title, place, the caller's message) to what a provider takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from volunteer_hub.sms.replies import choices, span
from volunteer_hub.sms.templates import Rendered, format_time, render


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

    def what(self) -> dict[str, str]:
        """The variables that name the duty: title, span and place."""
        return {
            "title": self.title,
            "span": span(self.starts_at, self.ends_at),
            "place": self.location,
        }


def call(duty: Duty, *, message: str, code: str, urgent: bool) -> Rendered:
    """The call-out itself: what, when, where, and how to answer."""
    key = "callout_urgent" if urgent else "callout"
    if message.strip():
        return render(f"{key}_message", **duty.what(), code=code, message=message)
    return render(key, **duty.what(), code=code)


def seated(duty: Duty) -> Rendered:
    return render("callout_seated", **duty.what(), code=duty.code)


def waitlisted(duty: Duty, position: int) -> Rendered:
    when = format_time(duty.starts_at)
    return render(
        "callout_waitlisted", position=position, title=duty.title, when=when, place=duty.location
    )


def already_on(duty: Duty) -> Rendered:
    when = format_time(duty.starts_at)
    return render("callout_already_on", title=duty.title, when=when, place=duty.location)


def declined(title: str) -> Rendered:
    return render("callout_declined", title=title)


def closed(title: str) -> Rendered:
    return render("callout_closed", title=title)


def choose(items: list[tuple[str, str]]) -> Rendered:
    """Several open call-outs and a reply without a code: (code, title) of each."""
    listed = choices([(title, f"回复“1 {code}”") for code, title in items[:3]])
    return render("callout_choose", count=len(items), choices=listed)


def stand_down_seated(duty: Duty) -> Rendered:
    return render("callout_stand_down_seated", **duty.what(), code=duty.code)


def stand_down_waitlisted(title: str) -> Rendered:
    return render("callout_stand_down_waitlisted", title=title)


def note(duty: Duty, message: str) -> Rendered:
    """The caller's word to the seated people (a meeting point), with their 签到 code."""
    return render("callout_note", title=duty.title, message=message, code=duty.code)
