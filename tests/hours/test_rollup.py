"""The roll-up always agrees with the raw records.

A seeded random run of thousands of operations — check-ins, check-outs, the leader's
marks, verifications, rejections, edits that move a record to another month, deletions,
unplanned service, corrections, events moved to another category — with a real worker
recomputing keys after each commit. At the end the roll-up equals, row for row, a GROUP
BY over the verified records; running every key's actor again changes nothing; and so
does ``flask hours rebuild``.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.hours.support import (
    AFTER,
    HOUR,
    MINUTE,
    START,
    expected_rollup_rows,
    expected_team_rows,
    rollup_rows,
    shift_with_people,
    team_rollup_rows,
    viewer,
)
from volunteer_hub.broker import queue_depth
from volunteer_hub.errors import DomainError
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.events.services import EventInput, ShiftInput, update_event
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance as hours_attendance
from volunteer_hub.hours import records as hours_records
from volunteer_hub.hours import rollups, verification
from volunteer_hub.hours.models import HoursRollup, ServiceRecord, TeamHoursRollup
from volunteer_hub.hours.tasks import QUEUE, recompute_rollup
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import SignupSource

OPERATIONS = 2_000
#: when the leader acts on records: after every shift and every time typed here
LATER = START + 400 * 24 * HOUR
CATEGORIES = ("防汛抗旱", "红色宣讲", "护苗护学")


def _world(make, rng: random.Random):
    """Two teams of six under one district, each with events of two shifts spread over
    several months; some shifts start late on a month's last day (local time)."""
    district = make.unit("鄂城区")
    teams = []
    for _ in range(2):
        team = make.team(make.unit(parent=district))
        leader = make.leader(team)
        members = [make.member(team) for _ in range(6)]
        shifts = []
        for index in range(4):
            # 31 July 23:00 local is 15:00 UTC: a shift there crosses into August.
            start = START + timedelta(days=30 * index) + timedelta(hours=rng.choice([2, 15]))
            event = make.event(
                team,
                shifts=[
                    {"starts_at": start, "ends_at": start + 2 * HOUR, "capacity": 10},
                    {"starts_at": start + 3 * HOUR, "ends_at": start + 6 * HOUR, "capacity": 10},
                ],
                category_name=rng.choice(CATEGORIES),
            )
            shifts += make.shifts_of(event)
        for shift in shifts:
            for person in members:
                signups.sign_up(shift.id, person.id, SignupSource.WEB, now=START - 48 * HOUR)
        db.session.commit()
        teams.append((team, viewer(leader), members, shifts))
    return teams


def _random_operation(rng: random.Random, teams, make) -> str:
    team, leader, members, shifts = rng.choice(teams)
    shift = rng.choice(shifts)
    person = rng.choice(members)
    records = db.session.scalars(
        select(ServiceRecord.id).where(ServiceRecord.team_id == team.id)
    ).all()
    record_id = rng.choice(records) if records else None
    start, end = shift.starts_at, shift.ends_at
    kind = rng.choices(
        [
            "check_in",
            "check_out",
            "mark",
            "mark_all",
            "verify",
            "reject",
            "edit",
            "delete",
            "recategorize",
            "unplanned",
            "correction",
            "close_forgotten",
        ],
        weights=[14, 12, 10, 3, 22, 5, 12, 3, 2, 5, 4, 2],
    )[0]
    if kind == "check_in":
        hours_attendance.check_in(shift.id, person.id, now=start + rng.randint(-30, 120) * MINUTE)
    elif kind == "check_out":
        on_site = db.session.execute(
            select(ServiceRecord.shift_id, ServiceRecord.person_id).where(
                ServiceRecord.team_id == team.id,
                ServiceRecord.checked_in_at.is_not(None),
                ServiceRecord.checked_out_at.is_(None),
            )
        ).all()
        if on_site and rng.random() < 0.8:
            shift_id, person_id = rng.choice(on_site)
            shift = db.session.get(Shift, shift_id)
            hours_attendance.check_out(
                shift_id, person_id, now=shift.starts_at + rng.randint(0, 240) * MINUTE
            )
        else:
            hours_attendance.check_out(
                shift.id, person.id, now=start + rng.randint(0, 240) * MINUTE
            )
    elif kind == "mark":
        attendance = rng.choice(["present", "late", "absent"])
        began = start + rng.randint(-20, 60) * MINUTE
        hours_attendance.mark_attendance(
            shift.id,
            person.id,
            attendance,
            viewer=leader,
            started_at=began,
            ended_at=began + rng.randint(10, 300) * MINUTE,
            now=LATER,
        )
    elif kind == "mark_all":
        hours_attendance.mark_all_attended(shift.id, viewer=leader, now=end + HOUR)
    elif kind == "verify" and records:
        picked = rng.sample(records, min(len(records), rng.randint(1, 4)))
        verification.verify(picked, viewer=leader, now=LATER)
    elif kind == "reject" and record_id:
        verification.reject(record_id, viewer=leader, reason="核实未到岗")
    elif kind == "edit" and record_id:
        moved = rng.choice([0, 0, 1, -1]) * timedelta(days=rng.randint(1, 40))
        began = start + moved + rng.randint(-30, 30) * MINUTE
        hours_records.edit_record(
            record_id,
            viewer=leader,
            reason="队长更正",
            started_at=began,
            ended_at=began + rng.randint(0, 400) * MINUTE,
            over_shift_length=rng.random() < 0.3,
            attendance=rng.choice([None, "present", "late", "absent"]),
            now=LATER,
        )
    elif kind == "delete" and record_id:
        hours_records.delete_record(record_id, viewer=leader, reason="重复登记")
    elif kind == "recategorize":
        event = db.session.get(Event, shift.event_id)
        current = db.session.scalars(
            select(Shift).where(Shift.event_id == event.id).order_by(Shift.id)
        ).all()
        others = [c for c in CATEGORIES if make.category(c).id != event.category_id]
        update_event(
            event.id,
            EventInput(
                title=event.title,
                category_id=make.category(rng.choice(others)).id,
                location=event.location,
            ),
            [
                ShiftInput(starts_at=s.starts_at, ends_at=s.ends_at, capacity=s.capacity, id=s.id)
                for s in current
            ],
        )
    elif kind == "unplanned":
        began = start + rng.randint(-1000, 1000) * MINUTE
        hours_records.add_unplanned(
            team.id,
            person.id,
            viewer=leader,
            category_id=make.category(rng.choice(CATEGORIES)).id,
            content="夜间巡堤",
            started_at=began,
            ended_at=began + rng.randint(30, 600) * MINUTE,
            verified=rng.random() < 0.5,
            now=LATER,
        )
    elif kind == "correction" and record_id:
        owner = db.session.get(ServiceRecord, record_id).person_id
        if rng.random() < 0.5:
            hours_records.request_correction(record_id, owner, "时间不对")
        else:
            hours_records.resolve_correction(
                record_id,
                viewer=leader,
                reason="已核实",
                ended_at=end + rng.randint(0, 60) * MINUTE,
                now=LATER,
            )
    elif kind == "close_forgotten":
        hours_attendance.close_forgotten_check_outs(start + rng.randint(0, 600) * MINUTE)
    else:
        return "skipped"
    return kind


@pytest.mark.slow
def test_the_roll_up_equals_a_group_by_over_the_records_after_thousands_of_changes(
    make, broker, worker, runner
):
    rng = random.Random(20261201)
    teams = _world(make, rng)
    done, refused = Counter(), Counter()
    for _ in range(OPERATIONS):
        try:
            kind = _random_operation(rng, teams, make)
        except DomainError as refusal:
            db.session.rollback()
            refused[type(refusal).__name__] += 1
            continue
        db.session.commit()
        done[kind] += 1
    broker.join(QUEUE)
    worker.join()

    # The run did what it says: every kind of change happened, many times.
    for kind in ("check_in", "check_out", "mark", "verify", "reject", "edit", "delete"):
        assert done[kind] >= 20, (kind, done, refused)
    assert done["recategorize"] >= 5 and done["unplanned"] >= 20
    expected = expected_rollup_rows()
    assert len(expected) >= 30
    assert len({row[3] for row in expected}) >= 4  # several months

    assert rollup_rows() == expected
    assert team_rollup_rows() == expected_team_rows()

    # Every key's actor, run twice more, finds nothing to change.
    keys = db.session.execute(
        select(
            ServiceRecord.person_id,
            ServiceRecord.team_id,
            ServiceRecord.category_id,
            ServiceRecord.month,
        ).distinct()
    ).all()
    for _ in range(2):
        for person_id, team_id, category_id, month in keys:
            recompute_rollup(person_id, team_id, category_id, month.isoformat())
    assert rollup_rows() == expected
    assert team_rollup_rows() == expected_team_rows()

    result = runner.invoke(args=["hours", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "\n0 rows changed" in "\n" + result.output, result.output


def test_rebuild_repairs_a_damaged_roll_up_and_says_what_it_changed(make):
    team, shift, people = shift_with_people(people=3)
    leader = viewer(make.leader(team))
    hours_attendance.mark_all_attended(shift.id, viewer=leader, now=START + 3 * HOUR)
    db.session.commit()
    record_ids = db.session.scalars(select(ServiceRecord.id)).all()
    verification.verify(record_ids, viewer=leader, now=AFTER)
    db.session.commit()
    first = rollups.rebuild_all()
    db.session.commit()
    assert first.person_rows["inserted"] == 3 and first.team_rows["inserted"] == 1
    assert rollups.rebuild_all().changed == 0
    db.session.commit()

    # Damage it: one row gone, one wrong, one that should not exist; the team row wrong.
    db.session.execute(update(TeamHoursRollup).values(minutes=7))
    db.session.execute(HoursRollup.__table__.delete().where(HoursRollup.person_id == people[0].id))
    db.session.execute(
        update(HoursRollup).where(HoursRollup.person_id == people[1].id).values(minutes=1)
    )
    other = make.member(team)
    db.session.execute(
        HoursRollup.__table__.insert().values(
            person_id=other.id,
            team_id=team.id,
            category_id=shift_category(shift),
            month=START.date().replace(day=1),
            minutes=60,
            services=1,
        )
    )
    db.session.commit()
    report = rollups.rebuild_all()
    db.session.commit()
    assert report.person_rows == {"inserted": 1, "updated": 1, "deleted": 1, "unchanged": 1}
    assert report.team_rows == {"inserted": 0, "updated": 1, "deleted": 0, "unchanged": 0}
    assert rollup_rows() == expected_rollup_rows()
    assert team_rollup_rows() == expected_team_rows()


def shift_category(shift) -> int:
    return db.session.scalar(select(Event.category_id).where(Event.id == shift.event_id))


def test_only_counted_changes_send_roll_up_work(make, broker):
    team, shift, (person, _other) = shift_with_people()
    leader = viewer(make.leader(team))
    queue = QUEUE

    def queued() -> int:
        return queue_depth(broker, queue)

    hours_attendance.check_in(shift.id, person.id, now=START)
    hours_attendance.check_out(shift.id, person.id, now=START + HOUR)
    db.session.commit()
    assert queued() == 0  # pending: nothing in the roll-ups changes
    record_id = db.session.scalar(select(ServiceRecord.id))
    verification.verify([record_id], viewer=leader, now=AFTER)
    db.session.rollback()
    assert queued() == 0  # rolled back: nothing sent
    verification.verify([record_id], viewer=leader, now=AFTER)
    db.session.commit()
    assert queued() == 1
