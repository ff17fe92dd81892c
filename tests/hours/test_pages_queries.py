"""The hours pages run a fixed number of queries, however many records and people."""

from __future__ import annotations

from tests.conftest import login
from tests.hours.page_support import past_shift
from tests.hours.support import viewer
from tests.web.test_query_counts import measure
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance
from volunteer_hub.hours import records as hours_records


def team_with_records(make, shifts: int, people: int):
    team = make.team()
    leader = make.leader(team)
    made = []
    for index in range(shifts):
        shift, _members = past_shift(team, started_ago=3 + 3 * index, people=people)
        attendance.mark_all_attended(shift.id, viewer=viewer(leader))
        made.append(shift)
    db.session.commit()
    return team, leader, made


def test_records_page_does_not_query_per_row(client, make, count_queries):
    small, leader, (small_shift,) = team_with_records(make, 1, 2)
    large, large_leader, large_shifts = team_with_records(make, 4, 15)  # 60: two pages
    records = attendance.records_of_shift(large_shifts[0].id)
    first = next(iter(records.values()))
    hours_records.request_correction(first.id, first.person_id, "时间不对")
    db.session.commit()
    small_id, small_shift_id, large_id = small.id, small_shift.id, large.id
    large_shift_id = large_shifts[0].id
    login(client, leader)
    few = measure(client, count_queries, f"/teams/{small_id}/hours/records")
    few_shift = measure(client, count_queries, f"/shifts/{small_shift_id}/attendance")
    client.post("/logout")
    db.session.add(large_leader)
    login(client, large_leader)
    assert measure(client, count_queries, f"/teams/{large_id}/hours/records") == few
    assert measure(client, count_queries, f"/teams/{large_id}/hours/records?page=2") == few
    assert measure(client, count_queries, f"/shifts/{large_shift_id}/attendance") == few_shift
    assert few <= 12 and few_shift <= 12
