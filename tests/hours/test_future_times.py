"""Hours only for time that has happened (issue 11, defect 9): attendance, edits and
corrections refuse times later than now (give or take FUTURE_TOLERANCE), and a record is
verified only once its shift is over; on the web, in the API and in the services."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from tests.conftest import login
from tests.hours.page_support import page, past_shift, record_of, tables
from tests.hours.support import HOUR, MINUTE, START, shift_with_people, viewer
from volunteer_hub.db import utcnow
from volunteer_hub.errors import Conflict, DomainError, ValidationFailed
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance, records, verification
from volunteer_hub.hours.models import RecordStatus, ServiceRecord
from volunteer_hub.i18n import to_local

#: an hour into the default shift (08:00–10:00 local on 1 July 2031)
DURING = START + HOUR


def hhmm(at) -> str:
    return to_local(at).strftime("%H:%M")


def record_count() -> int:
    return db.session.scalar(select(func.count()).select_from(ServiceRecord))


# -- the rules, at a fixed now ------------------------------------------------------------


def test_attendance_during_the_shift_refuses_an_arrival_and_a_departure_ahead(make):
    team, shift, (person, _other) = shift_with_people()
    leader = viewer(make.leader(team))
    for times in (
        {"started_at": DURING + 20 * MINUTE},
        {"ended_at": DURING + 7 * HOUR},
        {"started_at": DURING + 20 * MINUTE, "ended_at": DURING + 7 * HOUR},
        {"ended_at": shift.ends_at},  # the plan's end, typed, has not happened either
    ):
        with pytest.raises(ValidationFailed) as refused_:
            attendance.mark_attendance(
                shift.id, person.id, "present", viewer=leader, now=DURING, **times
            )
        assert set(refused_.value.errors) == set(times)
        assert "不能晚于现在（09:00）" in refused_.value.message
        db.session.rollback()
    assert record_count() == 0


def test_a_few_minutes_ahead_is_tolerated_and_blank_keeps_the_plan_until_it_ends(make):
    team, shift, (early, late) = shift_with_people()
    leader = viewer(make.leader(team))
    # A phone clock running fast: within FUTURE_TOLERANCE.
    came = attendance.mark_attendance(
        shift.id, early.id, "present", viewer=leader, ended_at=DURING + 4 * MINUTE, now=DURING
    )
    # No departure yet: the plan's end stands, and the record waits for it.
    stays = attendance.mark_attendance(shift.id, late.id, "late", viewer=leader, now=DURING)
    db.session.commit()
    assert came.ended_at == DURING + 4 * MINUTE
    assert stays.ended_at == shift.ends_at
    for record in (came, stays):
        with pytest.raises(Conflict, match="10:00 结束，结束后才能审核"):
            verification.verify([record.id], viewer=leader, now=DURING + 30 * MINUTE)
        db.session.rollback()
        assert record.status == RecordStatus.PENDING
    assert verification.verify([came.id, stays.id], viewer=leader, now=shift.ends_at) == 2


def test_attendance_before_the_shift_starts_is_refused(make):
    team, shift, (person, _other) = shift_with_people()
    with pytest.raises(attendance.OutsideWindow, match="班次尚未开始"):
        attendance.mark_attendance(
            shift.id, person.id, "absent", viewer=viewer(make.leader(team)), now=START - MINUTE
        )
    db.session.rollback()
    assert record_count() == 0


def test_a_record_checked_out_early_is_verified_only_after_the_shift(make):
    team, shift, (person, _other) = shift_with_people()
    leader = viewer(make.leader(team))
    attendance.check_in(shift.id, person.id, now=START)
    record = attendance.check_out(shift.id, person.id, now=DURING)
    db.session.commit()
    with pytest.raises(Conflict) as refused_:
        verification.verify([record.id], viewer=leader, now=DURING + MINUTE)
    assert refused_.value.code == "service-not-over"
    db.session.rollback()
    assert verification.verify([record.id], viewer=leader, now=shift.ends_at + MINUTE) == 1


def test_edits_and_corrections_cannot_move_times_into_the_future(make):
    team, shift, (person, _other) = shift_with_people()
    leader = viewer(make.leader(team))
    record = attendance.mark_attendance(
        shift.id, person.id, "present", viewer=leader, ended_at=DURING, now=DURING
    )
    records.request_correction(record.id, person.id, "我干到十点", now=DURING)
    db.session.commit()
    before = (record.started_at, record.ended_at, record.minutes, record.correction_note)
    with pytest.raises(ValidationFailed) as refused_:
        records.edit_record(
            record.id, viewer=leader, reason="延长", ended_at=DURING + 3 * HOUR, now=DURING
        )
    assert set(refused_.value.errors) == {"ended_at"}
    db.session.rollback()
    with pytest.raises(ValidationFailed):
        records.resolve_correction(
            record.id, viewer=leader, reason="属实", ended_at=shift.ends_at, now=DURING
        )
    db.session.rollback()
    db.session.refresh(record)
    assert (record.started_at, record.ended_at, record.minutes, record.correction_note) == before
    # Once ten o'clock has come, the same correction goes through.
    records.resolve_correction(
        record.id, viewer=leader, reason="属实", ended_at=shift.ends_at, now=shift.ends_at
    )
    db.session.commit()
    assert record.minutes == 120 and record.correction_note is None


def test_unplanned_service_cannot_end_in_the_future_even_verified_at_once(make):
    team = make.team()
    leader, member = viewer(make.leader(team)), make.member(team)
    with pytest.raises(ValidationFailed) as refused_:
        records.add_unplanned(
            team.id,
            member.id,
            viewer=leader,
            category_id=make.category("抢险救灾").id,
            content="夜间抢险",
            started_at=DURING - HOUR,
            ended_at=DURING + 6 * HOUR,
            verified=True,
            now=DURING,
        )
    assert set(refused_.value.errors) == {"ended_at"}
    db.session.rollback()
    assert record_count() == 0


# -- the web and the API, now -------------------------------------------------------------


@pytest.fixture
def running(make):
    """A shift that started an hour ago and ends in three, with a leader and two people."""
    team = make.team()
    leader = make.leader(team)
    shift, people = past_shift(team, started_ago=1, hours=4)
    return leader, shift, people


def test_the_attendance_page_refuses_an_arrival_and_departure_ahead(client, running):
    leader, shift, (person, _other) = running
    login(client, leader)
    now = utcnow()
    before = tables()
    for times in (
        {"start": hhmm(now + 20 * MINUTE), "end": ""},
        {"start": hhmm(shift.starts_at), "end": hhmm(now + 2 * HOUR)},
        {"start": hhmm(now + 20 * MINUTE), "end": hhmm(shift.ends_at)},
    ):
        response = client.post(
            f"/shifts/{shift.id}/attendance",
            data={"person_id": person.id, "attendance": "late", **times},
        )
        assert response.status_code == 400, times
        assert "尚未发生的时间不能登记" in page(response), times
        assert tables() == before  # nothing stored
    assert record_of(person.id) is None


def test_mid_shift_the_departure_is_left_blank_and_the_record_waits(client, running):
    leader, shift, (person, _other) = running
    login(client, leader)
    html = page(client.get(f"/shifts/{shift.id}/attendance"))
    assert re.search(r'name="end"\s+value=""', html)  # no departure to submit yet
    assert f"按班次 {hhmm(shift.ends_at)} 结束计" in html
    response = client.post(
        f"/shifts/{shift.id}/attendance",
        data={"person_id": person.id, "attendance": "present", "start": hhmm(shift.starts_at)},
    )
    assert response.status_code == 302
    record = record_of(person.id)
    assert record.ended_at == shift.ends_at and record.status == RecordStatus.PENDING

    # Verify, one or several at once: refused with the reason, nothing changed.
    response = client.post(f"/hours/records/{record.id}/verify", follow_redirects=True)
    assert "结束后才能审核" in page(response)
    response = client.post(
        f"/teams/{shift.event.team_id}/hours/records/verify", data={"record_id": [record.id]}
    )
    assert response.status_code == 400
    assert f"{person.name} 的班次" in page(response) and "结束后才能审核" in page(response)
    assert record_of(person.id).status == RecordStatus.PENDING


def test_the_record_page_refuses_an_end_ahead(client, running):
    leader, shift, (person, _other) = running
    record = attendance.mark_attendance(
        shift.id, person.id, "present", viewer=viewer(leader), ended_at=utcnow() - 10 * MINUTE
    )
    db.session.commit()
    login(client, leader)
    before = tables()
    local = to_local(record.started_at)
    for form in ("edit", "resolve"):
        if form == "resolve":
            records.request_correction(record.id, person.id, "我还在岗")
            db.session.commit()
            before = tables()
        response = client.post(
            f"/hours/records/{record.id}/{form}",
            data={
                "attendance": "present",
                "date": local.date().isoformat(),
                "start": local.strftime("%H:%M"),
                "end": hhmm(shift.ends_at),
                "content": record.content,
                "reason": "延长到结束",
            },
        )
        assert response.status_code == 400, form
        assert "尚未发生的时间不能登记" in page(response), form
        assert tables() == before


def test_the_sms_check_in_and_out_use_the_clock(make):
    """Nothing to type there: the times are the server's; check-out before the end
    leaves a record that still waits for the shift."""
    team, shift, (person, _other) = shift_with_people()
    attendance.check_in(shift.id, person.id, now=DURING)
    record = attendance.check_out(shift.id, person.id, now=DURING + 30 * MINUTE)
    db.session.commit()
    assert (record.checked_in_at, record.ended_at) == (DURING, DURING + 30 * MINUTE)
    with pytest.raises(DomainError):
        verification.verify([record.id], viewer=viewer(make.leader(team)), now=DURING + 50 * MINUTE)
