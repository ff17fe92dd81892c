"""Change notices (issue 16, item 6): one segment by cutting the title, never the time,
the place or the code, and never to a stub when it buys nothing; a change made during
the quiet hours is told in the morning unless its shift starts before then."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from volunteer_hub.config import DEFAULT_SMS_SIGNATURE
from volunteer_hub.db import utcnow
from volunteer_hub.events.services import cancel_event
from volunteer_hub.extensions import db
from volunteer_hub.i18n import to_local
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import SignupSource
from volunteer_hub.sms import replies
from volunteer_hub.sms.models import OutgoingSms, SmsKind
from volunteer_hub.sms.segments import count_segments

START = datetime(2026, 12, 1, 8, 0)
END = datetime(2026, 12, 1, 12, 0)
LONG_TITLE = "2026年汛期长江干堤鄂州段防汛巡堤暨退役军人志愿服务队应急抢险拉练"
LONG_PLACE = "湖北省鄂州市鄂城区凤凰街道东塔社区长江干堤三江港码头"
HOUR = timedelta(hours=1)


def _segments(text) -> int:
    return count_segments(DEFAULT_SMS_SIGNATURE + text.text)


@pytest.mark.parametrize(
    "change",
    [
        {"starts_at": START, "ends_at": END},
        {"location": "汉口江滩三阳路码头"},
        {"location": LONG_PLACE},
        {"starts_at": START, "ends_at": END, "location": "三阳路码头"},
    ],
)
def test_a_change_notice_stays_in_one_segment_by_cutting_the_title(change):
    text = replies.event_changed(title=LONG_TITLE, code="7503", **change)
    assert _segments(text) == 1, text.text
    assert text.variables["title"].endswith("…")
    assert len(text.variables["title"]) >= 6  # five characters and "…" at least
    if "location" in change:
        assert f"地点改为{change['location']}" in text.text or change["location"] in text.text
    if "starts_at" in change:
        assert "12月1日 08:00–12:00" in text.text
    assert text.text.endswith("不能参加请回复 取消 7503")


def test_a_short_title_is_not_cut():
    text = replies.event_changed(title="防汛巡堤", code="7503", location=LONG_PLACE)
    assert text.text == (f"活动变更：“防汛巡堤”地点改为{LONG_PLACE}。不能参加请回复 取消 7503")
    assert _segments(text) == 1


def test_when_one_segment_is_out_of_reach_the_title_is_not_cut_for_nothing():
    text = replies.event_changed(
        title="防汛巡堤暨应急抢险拉练",
        code="7503",
        starts_at=START,
        ends_at=END,
        location=LONG_PLACE,
    )
    assert "“防汛巡堤暨应急抢险拉练”" in text.text  # whole: a stub would not save the segment
    assert LONG_PLACE in text.text and "12月1日 08:00–12:00" in text.text
    assert _segments(text) == 2


# -- quiet hours -------------------------------------------------------------------------


@pytest.fixture
def night(app, monkeypatch):
    """Quiet hours from an hour ago to three hours ahead, local time: it is night now."""
    now = to_local(utcnow())
    start, end = now - HOUR, now + 3 * HOUR
    monkeypatch.setitem(app.config, "SMS_QUIET_HOURS", f"{start:%H:%M}-{end:%H:%M}")
    return (utcnow() + 3 * HOUR).replace(second=0, microsecond=0)


def _event_with_people(make, team, starts_in):
    start = utcnow().replace(second=0, microsecond=0) + starts_in
    event = make.event(
        team, shifts=[{"starts_at": start, "ends_at": start + 2 * HOUR, "capacity": 5}]
    )
    shift = make.shifts_of(event)[0]
    person = make.member(team)
    signups.sign_up(shift.id, person.id, SignupSource.WEB)
    db.session.commit()
    return event, person


def _change_notices(person) -> list[OutgoingSms]:
    return list(
        db.session.scalars(
            select(OutgoingSms).where(
                OutgoingSms.kind == SmsKind.NOTICE,
                OutgoingSms.person_id == person.id,
                OutgoingSms.dedupe_key.like("notice:cancelled:%"),
            )
        )
    )


def test_a_change_at_night_waits_for_the_morning(make, night):
    team = make.team()
    event, person = _event_with_people(make, team, starts_in=48 * HOUR)
    cancel_event(event.id)
    db.session.commit()
    [notice] = _change_notices(person)
    assert abs(notice.send_after - night) < timedelta(minutes=2)


def test_a_change_at_night_to_a_shift_before_the_morning_goes_at_once(make, night):
    team = make.team()
    event, person = _event_with_people(make, team, starts_in=HOUR)
    cancel_event(event.id)
    db.session.commit()
    [notice] = _change_notices(person)
    assert notice.send_after is None


def test_a_change_in_the_day_goes_at_once(app, make, monkeypatch):
    monkeypatch.setitem(app.config, "SMS_QUIET_HOURS", "off")
    team = make.team()
    event, person = _event_with_people(make, team, starts_in=48 * HOUR)
    cancel_event(event.id)
    db.session.commit()
    [notice] = _change_notices(person)
    assert notice.send_after is None
