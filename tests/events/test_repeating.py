"""Weekly repeating events (汛期每周巡堤): created through the service, edited through the
ordinary edit flow, read back as the one-event .ics clients would import."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import recurring_ical_events
from dateutil.rrule import rrulestr
from icalendar import Calendar
from sqlalchemy import func, select

from tests import factories
from volunteer_hub.calendar.content import single_event_ics
from volunteer_hub.errors import ValidationFailed
from volunteer_hub.events import services as events
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import SignupSource, SignupStatus

SHANGHAI = ZoneInfo("Asia/Shanghai")


def next_monday_at(hh: int, weeks_ahead: int = 1) -> datetime:
    today = datetime.now(SHANGHAI).date()
    monday = today + timedelta(days=7 * weeks_ahead - today.weekday())
    return datetime.combine(monday, time(hh), tzinfo=SHANGHAI).astimezone(UTC)


def patrol_input(category_name: str = "防汛抗旱") -> events.EventInput:
    return events.EventInput(
        title="汛期每周巡堤",
        category_id=factories.category(category_name).id,
        location="鄂州市鄂城区长江江堤",
    )


def template(start: datetime, hours: int = 3, capacity: int = 6) -> events.ShiftInput:
    return events.ShiftInput(
        starts_at=start, ends_at=start + timedelta(hours=hours), capacity=capacity, title="巡堤"
    )


def create(team, start: datetime, **repeat) -> Event:
    event = events.create_repeating_event(
        team.id, patrol_input(), template(start), events.RepeatInput(**repeat), None
    )
    db.session.commit()
    return event


def shifts_of(event_id: int) -> list[Shift]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(Shift).where(Shift.event_id == event_id).order_by(Shift.series_starts_at)
        )
    )


def rule_starts(event_id: int) -> list[datetime]:
    """The occurrences the stored rule gives, from the first week's start."""
    event = db.session.get(Event, event_id)
    first = min(s.series_starts_at for s in shifts_of(event_id)).astimezone(SHANGHAI)
    return [d.astimezone(UTC) for d in rrulestr(event.recurrence_rule, dtstart=first)]


def occurrences(event_id: int) -> list[tuple[datetime, datetime]]:
    calendar = Calendar.from_ical(single_event_ics(event_id))
    found = recurring_ical_events.of(calendar).between(
        datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC)
    )
    return sorted((o["DTSTART"].dt.astimezone(UTC), o["DTEND"].dt.astimezone(UTC)) for o in found)


def edit(event_id: int, shifts: list[events.ShiftInput]) -> None:
    event = db.session.get(Event, event_id)
    data = events.EventInput(
        title=event.title,
        category_id=event.category_id,
        location=event.location,
        description=event.description,
        status=event.status,
    )
    events.update_event(event_id, data, shifts)
    db.session.commit()


def as_input(shift: Shift, move: timedelta = timedelta(0)) -> events.ShiftInput:
    return events.ShiftInput(
        id=shift.id,
        starts_at=shift.starts_at + move,
        ends_at=shift.ends_at + move,
        capacity=shift.capacity,
        title=shift.title,
    )


def test_n_weeks_are_n_shifts_at_the_same_local_time_under_a_count_rule(make):
    team = make.team()
    start = next_monday_at(9)
    event = create(team, start, weeks=12)

    shifts = shifts_of(event.id)
    assert len(shifts) == 12
    assert [s.starts_at for s in shifts] == [start + timedelta(weeks=n) for n in range(12)]
    for shift in shifts:
        local = shift.starts_at.astimezone(SHANGHAI)
        assert (local.weekday(), local.hour, local.minute) == (0, 9, 0)
        assert shift.ends_at - shift.starts_at == timedelta(hours=3)
        assert shift.series_starts_at == shift.starts_at
        assert (shift.capacity, shift.title) == (6, "巡堤")
    assert len({s.code for s in shifts}) == 12  # each week is texted on its own
    db.session.expire_all()
    stored = db.session.get(Event, event.id)
    assert stored.recurrence_rule == "FREQ=WEEKLY;COUNT=12"
    assert (stored.starts_at, stored.ends_at) == (shifts[0].starts_at, shifts[-1].ends_at)
    assert rule_starts(event.id) == [s.series_starts_at for s in shifts]
    assert occurrences(event.id) == [(s.starts_at, s.ends_at) for s in shifts]


def test_until_a_date_gives_the_weeks_on_or_before_it_and_a_utc_until(make):
    team = make.team()
    start = next_monday_at(20)  # 20:00 local is 12:00 UTC the same day
    first_day = start.astimezone(SHANGHAI).date()
    event = create(team, start, until=first_day + timedelta(weeks=3, days=2))

    shifts = shifts_of(event.id)
    assert len(shifts) == 4
    last = shifts[-1].series_starts_at.astimezone(UTC)
    db.session.expire_all()
    assert db.session.get(Event, event.id).recurrence_rule == (
        f"FREQ=WEEKLY;UNTIL={last:%Y%m%dT%H%M%SZ}"
    )
    assert rule_starts(event.id) == [s.series_starts_at for s in shifts]

    # The until day itself counts.
    exact = create(team, start, until=first_day + timedelta(weeks=2))
    assert len(shifts_of(exact.id)) == 3


@pytest.mark.parametrize(
    ("repeat", "key", "message"),
    [
        ({"weeks": 1}, "repeat.weeks", "每周重复的周数应为 2 到 52"),
        ({"weeks": 53}, "repeat.weeks", "每周重复的周数应为 2 到 52"),
        ({}, "repeat", "每周重复：请填写重复的周数或截止日期（二选一）"),
        ({"weeks": 4, "until": date(2099, 1, 1)}, "repeat", "二选一"),
        ({"until": "first"}, "repeat.until", "重复截止日期应使活动重复 2 到 52 周"),
        ({"until": "before"}, "repeat.until", "重复截止日期应使活动重复 2 到 52 周"),
        ({"until": "a year"}, "repeat.until", "重复截止日期应使活动重复 2 到 52 周"),
    ],
)
def test_a_series_outside_2_to_52_weeks_is_refused_and_nothing_is_created(
    make, repeat, key, message
):
    team = make.team()
    start = next_monday_at(9)
    first_day = start.astimezone(SHANGHAI).date()
    until = {
        "first": first_day + timedelta(days=6),  # one week only
        "before": first_day - timedelta(days=1),
        "a year": first_day + timedelta(weeks=52),  # 53 weeks
    }.get(repeat.get("until"), repeat.get("until"))
    bad = events.RepeatInput(weeks=repeat.get("weeks"), until=until)
    with pytest.raises(ValidationFailed) as raised:
        events.create_repeating_event(team.id, patrol_input(), template(start), bad, None)
    assert message in raised.value.errors[key]
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Event)) == 0
    assert db.session.scalar(select(func.count()).select_from(Shift)) == 0


def test_template_errors_and_repeat_errors_are_reported_together(make):
    team = make.team()
    start = next_monday_at(9)
    broken = events.ShiftInput(starts_at=start, ends_at=start, capacity=0)
    with pytest.raises(ValidationFailed) as raised:
        events.create_repeating_event(
            team.id, patrol_input(), broken, events.RepeatInput(weeks=99), None
        )
    assert set(raised.value.errors) == {"shifts.0.ends_at", "shifts.0.capacity", "repeat.weeks"}


def test_skipping_a_week_cancels_its_shift_and_signups_and_feeds_show_an_exdate(make):
    team = make.team()
    volunteer = make.member(team)
    start = next_monday_at(9)
    event = create(team, start, weeks=4)
    shifts = shifts_of(event.id)
    signup = signups.sign_up(shifts[1].id, volunteer.id, SignupSource.WEB).signup
    db.session.commit()

    edit(event.id, [as_input(s) for s in shifts if s.id != shifts[1].id])

    after = shifts_of(event.id)
    assert [s.is_cancelled for s in after] == [False, True, False, False]
    db.session.refresh(signup)
    assert signup.status == SignupStatus.CANCELLED
    body = single_event_ics(event.id)
    skipped = shifts[1].series_starts_at.astimezone(SHANGHAI)
    assert f"EXDATE;TZID=Asia/Shanghai:{skipped:%Y%m%dT%H%M%S}" in body.decode()
    assert occurrences(event.id) == [(s.starts_at, s.ends_at) for s in after if not s.is_cancelled]


def test_moving_one_week_is_an_override_of_that_week_only(make):
    team = make.team()
    start = next_monday_at(9)
    event = create(team, start, weeks=4)
    shifts = shifts_of(event.id)
    # Week 3 on Tuesday afternoon instead, and an hour longer.
    moved = events.ShiftInput(
        id=shifts[2].id,
        starts_at=shifts[2].starts_at + timedelta(days=1, hours=5),
        ends_at=shifts[2].ends_at + timedelta(days=1, hours=6),
        capacity=6,
        title="巡堤",
    )
    edit(event.id, [as_input(shifts[0]), as_input(shifts[1]), moved, as_input(shifts[3])])

    after = shifts_of(event.id)
    assert [s.series_starts_at for s in after] == [s.series_starts_at for s in shifts]
    assert after[2].starts_at == moved.starts_at
    body = single_event_ics(event.id).decode()
    rid = shifts[2].series_starts_at.astimezone(SHANGHAI)
    assert f"RECURRENCE-ID;TZID=Asia/Shanghai:{rid:%Y%m%dT%H%M%S}" in body
    assert body.count("BEGIN:VEVENT") == 2
    assert occurrences(event.id) == [
        (shifts[0].starts_at, shifts[0].ends_at),
        (shifts[1].starts_at, shifts[1].ends_at),
        (moved.starts_at, moved.ends_at),
        (shifts[3].starts_at, shifts[3].ends_at),
    ]


def test_moving_every_remaining_week_alike_moves_the_series(make):
    team = make.team()
    start = next_monday_at(9)
    first_day = start.astimezone(SHANGHAI).date()
    event = create(team, start, until=first_day + timedelta(weeks=3))
    shifts = shifts_of(event.id)
    rule_before = [s.series_starts_at for s in shifts]
    edit(event.id, [as_input(s) for s in shifts if s.id != shifts[1].id])  # skip week 2
    later = timedelta(hours=1, minutes=30)
    edit(event.id, [as_input(s, later) for s in shifts if s.id != shifts[1].id])

    after = shifts_of(event.id)
    assert [s.series_starts_at for s in after] == [d + later for d in rule_before]
    assert all(s.starts_at == s.series_starts_at for s in after if not s.is_cancelled)
    assert rule_starts(event.id) == [s.series_starts_at for s in after]
    body = single_event_ics(event.id).decode()
    assert "RECURRENCE-ID" not in body and body.count("EXDATE") == 1
    assert occurrences(event.id) == [(s.starts_at, s.ends_at) for s in after if not s.is_cancelled]


def test_a_shift_outside_the_series_cannot_be_added(make):
    team = make.team()
    start = next_monday_at(9)
    event = create(team, start, weeks=3)
    shifts = shifts_of(event.id)
    extra = template(start + timedelta(days=2))
    with pytest.raises(ValidationFailed) as raised:
        edit(event.id, [*(as_input(s) for s in shifts), extra])
    assert "每周重复的活动不能添加单独的班次" in raised.value.errors["shifts"]
    db.session.rollback()
    assert len(shifts_of(event.id)) == 3
    assert db.session.get(Event, event.id).revision == 0


def test_a_one_off_event_has_no_rule_and_keeps_accepting_new_shifts(make):
    team = make.team()
    event = make.event(team, shifts=1)
    assert event.recurrence_rule is None
    (shift,) = make.shifts_of(event)
    assert shift.series_starts_at is None
    edit(event.id, [as_input(shift), template(shift.starts_at + timedelta(days=1))])
    assert len(shifts_of(event.id)) == 2
