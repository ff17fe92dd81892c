"""Who a call-out texts: the audience, the reasons people are left out, the texts written."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.callouts.helpers import data, texts_to, viewer
from volunteer_hub.callouts import services
from volunteer_hub.callouts.models import CalloutRecipient, CalloutRing
from volunteer_hub.errors import NotFound, ValidationFailed
from volunteer_hub.extensions import db
from volunteer_hub.people.skills import set_skills
from volunteer_hub.signups import services as signups
from volunteer_hub.sms.services import opt_out

HOUR = timedelta(hours=1)


def _shift(make, team, starts_at, hours=2, capacity=50):
    event = make.event(
        team,
        shifts=[
            {"starts_at": starts_at, "ends_at": starts_at + hours * HOUR, "capacity": capacity}
        ],
    )
    return make.shifts_of(event)[0]


def _on(shift, person, status="confirmed"):
    result = signups.sign_up(shift.id, person.id, "leader", overseer=True)
    assert result.signup.status == status
    db.session.commit()
    return result.signup


def test_fatigue_and_overlap_leave_out_exactly_the_right_people(make, app):
    """The call-out's shift runs T..T+4h; rest time is 8 hours."""
    assert app.config["CALLOUT_REST_HOURS"] == 8
    team, other = make.team(), make.team()
    leader = make.leader(team)
    start = make.future(72)
    target = _shift(make, team, start, hours=4, capacity=20)
    people = {name: make.member(team, name=name) for name in "ABCDEFGHIJ"}

    # B: on another team's shift overlapping the end of the call-out's
    _on(_shift(make, other, start + 3 * HOUR), people["B"])
    # C: waitlisted on an overlapping shift still counts as busy
    full = _shift(make, other, start - HOUR, capacity=1)
    _on(full, make.person())
    _on(full, people["C"], status="waitlisted")
    # D: a shift that ended 7 hours before the start: resting
    _on(_shift(make, other, start - 9 * HOUR), people["D"])
    # E: ended 9 hours before: rested
    _on(_shift(make, other, start - 11 * HOUR), people["E"])
    # F: cancelled an overlapping shift: free
    signups.cancel(_on(_shift(make, other, start + HOUR), people["F"]).id)
    # G: ends exactly when the call-out starts: resting, not busy
    _on(_shift(make, other, start - 2 * HOUR), people["G"])
    # H: opted out
    opt_out(people["H"].id, channel="sms")
    # I: already on the call-out's own shift: busy
    _on(target, people["I"])
    # J: a shift that starts just after the call-out's ends: free (not rest, not overlap)
    _on(_shift(make, other, start + 4 * HOUR), people["J"])
    db.session.commit()

    preview = services.preview(viewer(leader), data([target], teams=[team], urgent=True))
    assert preview.left_out == {
        "opted_out": 1,
        "no_skill": 0,
        "busy": 3,
        "resting": 2,
        "capped": 0,
    }
    assert preview.recipients == 4  # A E F J; the leader is not texted

    callout, started = services.start(viewer(leader), data([target], teams=[team], urgent=True))
    db.session.commit()
    assert started.recipients == 4
    texted = set(
        db.session.scalars(
            select(CalloutRecipient.person_id).where(CalloutRecipient.callout_id == callout.id)
        )
    )
    assert texted == {people[n].id for n in "AEFJ"}
    assert {row.person_id for row in texts_to()} == texted


def test_skills_filter_keeps_people_with_one_of_them(make):
    team = make.team()
    leader = make.leader(team)
    shift = make.shifts_of(make.event(team))[0]
    boat, medic, driver, _nobody = (make.member(team) for _ in range(4))
    set_skills(boat.id, ["冲锋舟驾驶", "水上救援"])
    set_skills(medic.id, ["急救"])
    set_skills(driver.id, ["驾驶"])
    db.session.commit()
    preview = services.preview(
        viewer(leader), data([shift], teams=[team], skills=["水上救援", "急救"], urgent=True)
    )
    assert preview.recipients == 2
    assert preview.left_out["no_skill"] == 2

    with pytest.raises(ValidationFailed) as refused:
        services.preview(viewer(leader), data([shift], teams=[team], skills=["潜水"]))
    assert "skills" in refused.value.errors


def test_start_writes_ring_zero_recipients_and_texts_in_bulk(make, count_queries):
    unit = make.unit()
    teams = [make.team(unit) for _ in range(3)]
    coordinator = make.coordinator(unit)
    for team in teams:
        for _ in range(30):
            make.member(team)
    shift = make.shifts_of(make.event(teams[0], capacity=10))[0]
    with count_queries() as counter:
        callout, started = services.start(
            viewer(coordinator),
            data([shift], unit=unit, message="江堤管涌，速来", urgent=True),
        )
    db.session.commit()
    assert started.recipients == 90
    assert counter.count < 30, counter.statements  # not per person
    rows = texts_to()
    assert len(rows) == 90
    assert all(row.is_urgent and row.send_after is None for row in rows)
    body = rows[0].body
    assert "江堤管涌，速来" in body and callout.code in body
    assert not any(mark in body.removeprefix("【退役军人志愿服务】") for mark in "【】「」")
    ring0 = db.session.scalar(select(CalloutRing).where(CalloutRing.callout_id == callout.id))
    assert ring0.number == 0 and ring0.fired_at is not None and ring0.texted == 90


def test_not_urgent_waits_for_the_end_of_quiet_hours(make):
    team = make.team()
    leader = make.leader(team)
    make.member(team)
    shift = make.shifts_of(make.event(team))[0]
    night = datetime.now(UTC).replace(hour=15, minute=0, second=0, microsecond=0)  # 23:00 CST
    if night > shift.starts_at - 12 * HOUR:
        night -= timedelta(days=1)
    services.start(viewer(leader), data([shift], teams=[team]), now=night)
    db.session.commit()
    (row,) = texts_to()
    assert not row.is_urgent
    assert row.send_after == night + 9 * HOUR  # 08:00 CST


def test_leader_may_call_out_only_their_own_teams(make):
    unit = make.unit()
    mine, theirs = make.team(unit), make.team(unit)
    leader = make.leader(mine)
    my_shift = make.shifts_of(make.event(mine))[0]
    their_shift = make.shifts_of(make.event(theirs))[0]
    with pytest.raises(NotFound):
        services.preview(viewer(leader), data([their_shift], teams=[mine]))
    with pytest.raises(NotFound):
        services.preview(viewer(leader), data([my_shift], teams=[mine, theirs]))
    with pytest.raises(NotFound):
        services.preview(viewer(leader), data([my_shift], unit=unit))
    with pytest.raises(NotFound):
        services.start(
            viewer(leader),
            data(
                [my_shift],
                teams=[mine],
                rings=[services.RingInput(unit_id=unit.id, after_minutes=5)],
            ),
        )
    assert db.session.scalar(select(func.count()).select_from(CalloutRecipient)) == 0


def test_not_urgent_respects_the_daily_cap_urgent_does_not(make, app):
    assert app.config["BROADCAST_DAILY_CAP"] == 2
    team = make.team()
    leader = make.leader(team)
    members = [make.member(team) for _ in range(3)]
    noon = datetime.now(UTC).replace(hour=4, minute=0, second=0, microsecond=0)  # 12:00 CST
    shifts = [
        make.shifts_of(make.event(team, starts_at=noon + timedelta(days=3, hours=3 * i)))[0]
        for i in range(4)
    ]
    for shift in shifts[:2]:
        _callout, found = services.start(viewer(leader), data([shift], teams=[team]), now=noon)
        assert found.recipients == 3
    db.session.commit()
    third = services.preview(viewer(leader), data([shifts[2]], teams=[team]), now=noon)
    assert (third.recipients, third.left_out["capped"]) == (0, 3)
    # the next local day counts afresh; an urgent call-out is never capped
    tomorrow = services.preview(
        viewer(leader), data([shifts[2]], teams=[team]), now=noon + timedelta(days=1)
    )
    assert tomorrow.recipients == 3
    urgent = services.preview(
        viewer(leader), data([shifts[2]], teams=[team], urgent=True), now=noon
    )
    assert urgent.recipients == 3
    assert {row.person_id for row in texts_to()} == {m.id for m in members}
