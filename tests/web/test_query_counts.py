"""Pages run a fixed number of queries, however many shifts, signups and members there are."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import login
from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.signups.services import sign_up
from volunteer_hub.teams.models import MemberRole, Membership


def add_shifts(make, team, count: int, people):
    """Events of ``team`` holding ``count`` shifts in all, each with one confirmed and one
    waitlisted person. Beyond the form's limit of 100 per event, rows are added directly:
    the pages must cope with whatever is stored."""
    events = []
    made = 0
    while made < count:
        n = min(100, count - made)
        event = make.event(
            team, shifts=n, capacity=1, starts_at=make.future(48 + made * 2), open_to_all=True
        )
        events.append(event)
        made += n
    shifts = [s for e in events for s in make.shifts_of(e)]
    for i, shift in enumerate(shifts):
        sign_up(shift.id, people[i % len(people)].id, "sms")
        sign_up(shift.id, people[(i + 1) % len(people)].id, "web")
    db.session.commit()
    return events


def add_rows_directly(make, event, count: int, people):
    last = make.shifts_of(event)[-1]
    for i in range(count):
        start = last.ends_at + timedelta(hours=2 * i)
        shift = Shift(
            event_id=event.id,
            title=f"加班{i}",
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            capacity=1,
            code=f"{800000 + event.id * 1000 + i}",
        )
        db.session.add(shift)
        db.session.flush()
        sign_up(shift.id, people[i % len(people)].id, "sms")
        sign_up(shift.id, people[(i + 1) % len(people)].id, "web")
    db.session.commit()


def people_for(make, team, members: int, outsiders: int):
    return [make.member(team) for _ in range(members)] + [make.person() for _ in range(outsiders)]


def measure(client, count_queries, url: str) -> int:
    db.session.remove()  # an empty identity map, as a fresh request in production has
    with count_queries() as counter:
        response = client.get(url)
    assert response.status_code == 200, url
    return counter.count


def lead(team, person):
    db.session.add(Membership(team_id=team.id, person_id=person.id, role=MemberRole.LEADER))
    db.session.commit()


def test_team_page_queries_do_not_grow_with_shifts_or_members(client, make, count_queries):
    small, large = make.team(), make.team()
    leader = make.leader(small)
    lead(large, leader)
    add_shifts(make, small, 10, people_for(make, small, 3, 2))
    add_shifts(make, large, 200, people_for(make, large, 30, 10))
    login(client, leader)
    small_url, large_url = f"/teams/{small.id}", f"/teams/{large.id}"

    few = measure(client, count_queries, small_url)
    many = measure(client, count_queries, large_url)
    assert few == many
    assert few <= 12


def test_event_page_queries_do_not_grow_with_shifts_or_roster(client, make, count_queries):
    team = make.team()
    leader = make.leader(team)
    people = people_for(make, team, 20, 10)
    (small,) = add_shifts(make, team, 10, people)
    (large,) = add_shifts(make, team, 100, people)
    add_rows_directly(make, large, 100, people)
    assert len(make.shifts_of(large)) == 200
    login(client, leader)
    small_url, large_url = f"/events/{small.id}", f"/events/{large.id}"

    few = measure(client, count_queries, small_url)
    many = measure(client, count_queries, large_url)
    assert few == many
    assert few <= 12


def test_edit_and_cancel_pages_do_not_grow_with_shifts(client, make, count_queries):
    team = make.team()
    leader = make.leader(team)
    people = people_for(make, team, 5, 5)
    (small,) = add_shifts(make, team, 3, people)
    (large,) = add_shifts(make, team, 100, people)
    login(client, leader)
    small_id, large_id = small.id, large.id
    for suffix in ("edit", "cancel"):
        few = measure(client, count_queries, f"/events/{small_id}/{suffix}")
        many = measure(client, count_queries, f"/events/{large_id}/{suffix}")
        assert few == many, suffix


def test_overview_and_my_teams_queries_do_not_grow_with_rows(client, make, count_queries):
    city = make.unit("鄂州市")
    quiet, busy = make.unit("梁子湖区", parent=city), make.unit("鄂城区", parent=city)
    coordinator_quiet = make.coordinator(quiet)
    coordinator_busy = make.coordinator(busy)
    add_shifts(make, make.team(quiet), 2, [make.person(), make.person()])
    for _ in range(6):
        team = make.team(make.unit(parent=busy))
        people = people_for(make, team, 4, 1)
        for _event in range(5):
            make.event(team, shifts=3)
        add_shifts(make, team, 3, people)

    login(client, coordinator_quiet)
    assert coordinator_busy.phone  # loaded now: measure() clears the session
    quiet_overview = measure(client, count_queries, "/overview")
    quiet_teams = measure(client, count_queries, "/teams")
    client.post("/logout")
    login(client, coordinator_busy)
    assert measure(client, count_queries, "/overview") == quiet_overview
    assert measure(client, count_queries, "/teams") == quiet_teams
