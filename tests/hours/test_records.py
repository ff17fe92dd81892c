"""Attendance into service records: the windows, the rules, the trail."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tests.hours.support import AFTER, HOUR, MINUTE, START, shift_with_people, viewer
from volunteer_hub.errors import NotFound, ValidationFailed
from volunteer_hub.events.models import Event
from volunteer_hub.events.services import EventInput, ShiftInput, update_event
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance, records, verification
from volunteer_hub.hours.models import Attendance, RecordChange, RecordStatus, ServiceRecord
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import SignupSource


def record_count() -> int:
    return db.session.scalar(select(func.count()).select_from(ServiceRecord))


def trail(record_id: int) -> list[tuple[str, int | None]]:
    return [
        tuple(row)
        for row in db.session.execute(
            select(RecordChange.action, RecordChange.actor_id)
            .where(RecordChange.record_id == record_id)
            .order_by(RecordChange.id)
        )
    ]


def test_check_in_and_out_count_the_time_on_site_rounded_to_the_half_hour():
    _team, shift, (person, _other) = shift_with_people()
    record = attendance.check_in(shift.id, person.id, now=START - 10 * MINUTE)
    db.session.commit()
    assert record.status == RecordStatus.PENDING
    assert record.attendance == Attendance.PRESENT
    attendance.check_out(shift.id, person.id, now=START + 80 * MINUTE)  # 1 h 30 on site
    db.session.commit()
    assert record.minutes == 90
    assert record.month == date(2031, 7, 1)
    assert [action for action, _ in trail(record.id)] == ["checked_in", "checked_out"]


def test_time_is_capped_at_the_shift_length_unless_the_leader_says_otherwise(make):
    team, shift, (person, _other) = shift_with_people()
    leader = make.leader(team)
    record = attendance.check_in(shift.id, person.id, now=START - 30 * MINUTE)
    attendance.check_out(shift.id, person.id, now=START + 2 * HOUR + 50 * MINUTE)
    db.session.commit()
    assert record.minutes == 120  # 3 h 20 on site, the shift is 2 h

    records.edit_record(
        record.id, viewer=viewer(leader), reason="抢险延长", over_shift_length=True, now=AFTER
    )
    db.session.commit()
    assert record.minutes == 210  # 3 h 20 on site, to the nearest half hour
    assert record.over_shift_length


def test_a_late_check_in_is_marked_late():
    _team, shift, (person, _other) = shift_with_people()
    record = attendance.check_in(shift.id, person.id, now=START + 20 * MINUTE)
    assert record.attendance == Attendance.LATE


@pytest.mark.parametrize(
    ("when", "error"),
    [
        (START - 31 * MINUTE, attendance.OutsideWindow),  # too early
        (START + 2 * HOUR + MINUTE, attendance.OutsideWindow),  # the shift is over
    ],
)
def test_check_in_outside_its_window_changes_nothing(when, error):
    _team, shift, (person, _other) = shift_with_people()
    with pytest.raises(error):
        attendance.check_in(shift.id, person.id, now=when)
    db.session.rollback()
    assert record_count() == 0


def test_check_in_twice_is_refused_and_keeps_the_first_time():
    _team, shift, (person, _other) = shift_with_people()
    attendance.check_in(shift.id, person.id, now=START - 5 * MINUTE)
    db.session.commit()
    with pytest.raises(attendance.AlreadyCheckedIn, match="07:55"):
        attendance.check_in(shift.id, person.id, now=START + 5 * MINUTE)
    db.session.rollback()
    record = db.session.scalar(select(ServiceRecord))
    assert record.checked_in_at == START - 5 * MINUTE
    assert len(trail(record.id)) == 1


def test_someone_not_signed_up_or_waitlisted_cannot_check_in(make):
    team, shift, _people = shift_with_people()
    stranger = make.member(team)
    with pytest.raises(attendance.NotSignedUp):
        attendance.check_in(shift.id, stranger.id, now=START)
    shift.capacity = 2  # full: the next one waits
    db.session.commit()
    waiting = make.member(team)
    signups.sign_up(shift.id, waiting.id, SignupSource.WEB, now=START - 10 * HOUR)
    db.session.commit()
    with pytest.raises(attendance.NotSignedUp, match="候补"):
        attendance.check_in(shift.id, waiting.id, now=START)
    db.session.rollback()
    assert record_count() == 0


def test_check_out_needs_a_check_in_and_comes_once():
    _team, shift, (person, _other) = shift_with_people()
    with pytest.raises(attendance.NotCheckedIn):
        attendance.check_out(shift.id, person.id, now=START + HOUR)
    attendance.check_in(shift.id, person.id, now=START)
    attendance.check_out(shift.id, person.id, now=START + HOUR)
    db.session.commit()
    with pytest.raises(attendance.AlreadyCheckedOut):
        attendance.check_out(shift.id, person.id, now=START + 90 * MINUTE)
    db.session.rollback()
    assert db.session.scalar(select(ServiceRecord.checked_out_at)) == START + HOUR


def test_a_forgotten_check_out_closes_at_the_shift_end_and_is_flagged(app):
    _team, shift, (person, _other) = shift_with_people()
    record = attendance.check_in(shift.id, person.id, now=START)
    db.session.commit()
    late = app.config["CHECK_OUT_LATE_MINUTES"] * MINUTE
    assert attendance.close_forgotten_check_outs(START + 2 * HOUR + late - MINUTE) == 0
    assert attendance.close_forgotten_check_outs(START + 2 * HOUR + late + MINUTE) == 1
    db.session.commit()
    assert record.auto_closed and record.checked_out_at is None
    assert record.ended_at == START + 2 * HOUR and record.minutes == 120
    assert trail(record.id)[-1] == ("auto_closed", None)
    assert attendance.close_forgotten_check_outs(START + 10 * HOUR) == 0  # once


def test_the_leader_marks_a_no_show_and_it_counts_nothing(make):
    team, shift, (came, stayed_home) = shift_with_people()
    leader = make.leader(team)
    attendance.mark_attendance(shift.id, came.id, "present", viewer=viewer(leader), now=AFTER)
    absent = attendance.mark_attendance(
        shift.id, stayed_home.id, "absent", viewer=viewer(leader), now=AFTER
    )
    db.session.commit()
    assert absent.attendance == Attendance.ABSENT and absent.minutes == 0
    assert verification.verify([absent.id], viewer=viewer(leader), now=AFTER) == 1
    db.session.commit()
    assert not absent.counts


def test_all_confirmed_attended_as_planned_leaves_existing_records_alone(make):
    team, shift, people = shift_with_people(people=4)
    leader = make.leader(team)
    attendance.check_in(shift.id, people[0].id, now=START + 30 * MINUTE)
    attendance.check_out(shift.id, people[0].id, now=START + HOUR)
    db.session.commit()
    made = attendance.mark_all_attended(shift.id, viewer=viewer(leader), now=START + 3 * HOUR)
    db.session.commit()
    assert made == 3
    minutes = dict(db.session.execute(select(ServiceRecord.person_id, ServiceRecord.minutes)).all())
    assert minutes == {people[0].id: 30, people[1].id: 120, people[2].id: 120, people[3].id: 120}
    assert attendance.mark_all_attended(shift.id, viewer=viewer(leader), now=START + 3 * HOUR) == 0


def test_a_leader_verifies_only_their_own_teams_records(make):
    team, shift, (person, _other) = shift_with_people()
    other_leader = make.leader(make.team())
    record = attendance.mark_attendance(
        shift.id, person.id, "present", viewer=viewer(make.leader(team)), now=AFTER
    )
    db.session.commit()
    with pytest.raises(NotFound):
        verification.verify([record.id], viewer=viewer(other_leader), now=AFTER)
    with pytest.raises(NotFound):
        attendance.mark_attendance(
            shift.id, person.id, "absent", viewer=viewer(other_leader), now=AFTER
        )
    db.session.rollback()
    assert record.status == RecordStatus.PENDING and record.attendance == Attendance.PRESENT


def test_a_coordinator_above_the_team_may_verify(make):
    district = make.unit("鄂城区")
    team = make.team(make.unit("凤凰街道", parent=district))
    _team, shift, (person, _other) = shift_with_people(team)
    record = attendance.mark_attendance(
        shift.id, person.id, "present", viewer=viewer(make.leader(team)), now=AFTER
    )
    db.session.commit()
    coordinator = make.coordinator(district)
    assert verification.verify([record.id], viewer=viewer(coordinator), now=AFTER) == 1
    db.session.commit()
    assert record.decided_by_id == coordinator.id


def test_a_record_still_on_site_waits_for_check_out(make):
    team, shift, (person, _other) = shift_with_people()
    record = attendance.check_in(shift.id, person.id, now=START)
    db.session.commit()
    with pytest.raises(verification.StillOnSite):
        verification.verify([record.id], viewer=viewer(make.leader(team)))


def test_rejecting_and_editing_need_a_reason(make):
    team, shift, (person, _other) = shift_with_people()
    leader = make.leader(team)
    record = attendance.mark_attendance(
        shift.id, person.id, "present", viewer=viewer(leader), now=AFTER
    )
    db.session.commit()
    with pytest.raises(ValidationFailed, match="原因"):
        verification.reject(record.id, viewer=viewer(leader), reason=" ")
    with pytest.raises(ValidationFailed, match="原因"):
        records.edit_record(
            record.id, viewer=viewer(leader), reason="", started_at=START + HOUR, now=AFTER
        )
    db.session.rollback()
    assert record.status == RecordStatus.PENDING and record.started_at == START
    verification.reject(record.id, viewer=viewer(leader), reason="未到岗")
    db.session.commit()
    change = db.session.scalars(select(RecordChange).order_by(RecordChange.id.desc())).first()
    assert (change.action, change.actor_id, change.reason) == ("rejected", leader.id, "未到岗")
    assert change.changes["status"] == ["pending", "rejected"]


def test_a_volunteer_asks_for_a_correction_and_the_leader_resolves_it(make):
    team, shift, (person, _other) = shift_with_people()
    leader = make.leader(team)
    record = attendance.mark_attendance(
        shift.id, person.id, "present", viewer=viewer(leader), ended_at=START + HOUR, now=AFTER
    )
    db.session.commit()
    with pytest.raises(NotFound):
        records.request_correction(record.id, _other.id, "不是我的")
    records.request_correction(record.id, person.id, "我一直干到十点", channel="sms")
    db.session.commit()
    assert record.correction_note == "我一直干到十点"
    records.resolve_correction(
        record.id, viewer=viewer(leader), reason="核实属实", ended_at=START + 2 * HOUR, now=AFTER
    )
    db.session.commit()
    assert record.correction_note is None and record.minutes == 120
    assert [a for a, _ in trail(record.id)][-3:] == [
        "correction_requested",
        "edited",
        "correction_resolved",
    ]


def test_unplanned_service_is_entered_for_a_member_and_marked_as_such(make):
    team = make.team()
    leader, member, outsider = make.leader(team), make.member(team), make.person()
    category_id = make.category("抢险救灾").id
    args = dict(
        category_id=category_id, content="夜间抢险转移群众", verified=True, now=START + 9 * HOUR
    )
    with pytest.raises(ValidationFailed) as refused:
        records.add_unplanned(
            team.id,
            outsider.id,
            viewer=viewer(leader),
            started_at=START,
            ended_at=START - HOUR,
            **args,
        )
    assert set(refused.value.errors) == {"person_id", "ended_at"}
    record = records.add_unplanned(
        team.id,
        member.id,
        viewer=viewer(leader),
        started_at=START,
        ended_at=START + 5 * HOUR + 10 * MINUTE,
        **args,
    )
    db.session.commit()
    assert record.is_unplanned and record.minutes == 300 and record.counts


def test_deleting_a_record_keeps_its_trail(make):
    team, shift, (person, _other) = shift_with_people()
    leader = make.leader(team)
    record = attendance.mark_attendance(
        shift.id, person.id, "present", viewer=viewer(leader), now=AFTER
    )
    db.session.commit()
    record_id = record.id
    records.delete_record(record_id, viewer=viewer(leader), reason="重复登记")
    db.session.commit()
    assert record_count() == 0
    actions = db.session.execute(
        select(RecordChange.action, RecordChange.record_id, RecordChange.person_id).order_by(
            RecordChange.id
        )
    ).all()
    assert [a for a, *_ in actions] == ["created", "deleted"]
    assert {(r, p) for _a, r, p in actions} == {(None, person.id)}
    deleted = db.session.scalars(select(RecordChange).where(RecordChange.action == "deleted")).one()
    assert deleted.changes["shift_id"] == shift.id


def test_records_follow_their_event_into_another_category(make):
    team, shift, (person, _other) = shift_with_people()
    leader = make.leader(team)
    record = attendance.mark_attendance(
        shift.id, person.id, "present", viewer=viewer(leader), now=AFTER
    )
    db.session.commit()
    event = db.session.get(Event, shift.event_id)
    new_category = make.category("红色宣讲")
    update_event(
        event.id,
        EventInput(title=event.title, category_id=new_category.id, location=event.location),
        [ShiftInput(starts_at=shift.starts_at, ends_at=shift.ends_at, capacity=10, id=shift.id)],
    )
    db.session.commit()
    db.session.refresh(record)
    assert record.category_id == new_category.id
