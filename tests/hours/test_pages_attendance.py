"""The attendance page of a shift: marks, adjusted times, the bulk button, flags."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from tests.conftest import login
from tests.hours.page_support import HOUR, MINUTE, page, past_shift, record_of, tables
from tests.hours.support import shift_with_people
from tests.volunteers.conftest import me_login
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance
from volunteer_hub.hours.forms import nearest
from volunteer_hub.hours.models import Attendance, RecordChange
from volunteer_hub.i18n import to_local


def hhmm(at) -> str:
    return to_local(at).strftime("%H:%M")


def test_the_event_page_links_to_each_shifts_attendance(client, make):
    team = make.team()
    leader = make.leader(team)
    shift, _people = past_shift(team)
    login(client, leader)
    html = page(client.get(f"/events/{shift.event_id}"))
    assert f'href="/shifts/{shift.id}/attendance"' in html
    html = page(client.get(f"/shifts/{shift.id}/attendance"))
    assert "出勤登记" in html and "全部按计划出勤" in html
    assert html.count('name="attendance" value="present"') == 2


def test_the_leader_marks_late_with_the_time_of_arrival_and_a_no_show(client, make):
    team = make.team()
    leader = make.leader(team)
    shift, (late, absent) = past_shift(team)
    login(client, leader)
    arrived = shift.starts_at + 25 * MINUTE
    response = client.post(
        f"/shifts/{shift.id}/attendance",
        data={
            "person_id": late.id,
            "attendance": "late",
            "start": hhmm(arrived),
            "end": hhmm(shift.ends_at),
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/shifts/{shift.id}/attendance#person-{late.id}")
    record = record_of(late.id)
    assert record.attendance == Attendance.LATE
    assert (record.started_at, record.ended_at) == (arrived, shift.ends_at)
    assert record.minutes == 90  # 1 h 35 on site, to the nearest half hour

    client.post(
        f"/shifts/{shift.id}/attendance",
        data={"person_id": absent.id, "attendance": "absent", "start": "", "end": ""},
    )
    no_show = record_of(absent.id)
    assert no_show.attendance == Attendance.ABSENT and no_show.minutes == 0
    html = page(client.get(f"/shifts/{shift.id}/attendance"))
    assert f"已登记 {absent.name}：缺勤" in html
    assert "缺勤 1 人" in html and "已登记 2 人" in html
    actors = set(db.session.scalars(select(RecordChange.actor_id)))
    assert actors == {leader.id}


def test_times_left_as_shown_keep_the_stored_time_to_the_second(client, make):
    team = make.team()
    leader = make.leader(team)
    shift, (person, _other) = past_shift(team)
    checked_in = shift.starts_at + 3 * MINUTE + timedelta(seconds=27)
    attendance.check_in(shift.id, person.id, now=checked_in)
    attendance.check_out(shift.id, person.id, now=shift.ends_at)
    db.session.commit()
    login(client, leader)
    html = page(client.get(f"/shifts/{shift.id}/attendance"))
    assert f'value="{hhmm(checked_in)}"' in html
    client.post(
        f"/shifts/{shift.id}/attendance",
        data={
            "person_id": person.id,
            "attendance": "present",
            "start": hhmm(checked_in),
            "end": hhmm(shift.ends_at),
        },
    )
    record = record_of(person.id)
    assert record.started_at == checked_in and record.attendance == Attendance.PRESENT


def test_all_confirmed_attended_as_planned(client, make):
    team = make.team()
    leader = make.leader(team)
    shift, people = past_shift(team, people=3)
    login(client, leader)
    client.post(
        f"/shifts/{shift.id}/attendance",
        data={"person_id": people[0].id, "attendance": "absent"},
    )
    response = client.post(f"/shifts/{shift.id}/attendance/all", follow_redirects=True)
    assert "已按计划为 2 人登记出勤" in page(response)
    assert record_of(people[0].id).attendance == Attendance.ABSENT  # left alone
    for person in people[1:]:
        record = record_of(person.id)
        assert record.attendance == Attendance.PRESENT and record.minutes == 120
    response = client.post(f"/shifts/{shift.id}/attendance/all", follow_redirects=True)
    assert "名单上的人都已登记，没有改动" in page(response)


def test_nothing_is_marked_before_the_shift_starts(client, make):
    team = make.team()
    leader = make.leader(team)
    shift, (person, _other) = past_shift(team, started_ago=-2)
    login(client, leader)
    html = page(client.get(f"/shifts/{shift.id}/attendance"))
    assert "开始后才能登记出勤" in html and 'name="attendance"' not in html
    before = tables()
    response = client.post(
        f"/shifts/{shift.id}/attendance", data={"person_id": person.id, "attendance": "present"}
    )
    assert response.status_code == 400 and "班次尚未开始，不能登记出勤" in page(response)
    response = client.post(f"/shifts/{shift.id}/attendance/all", follow_redirects=True)
    assert "班次尚未开始，不能登记出勤" in page(response)
    assert tables() == before


def test_bad_input_shows_the_error_on_the_row_and_changes_nothing(client, make):
    team = make.team()
    leader = make.leader(team)
    shift, (person, _other) = past_shift(team)
    login(client, leader)
    url = f"/shifts/{shift.id}/attendance"
    before = tables()
    cases = [
        ({"attendance": "present", "start": "25:61"}, "请填写正确的时间（如 08:30）"),
        (
            {
                "attendance": "present",
                "start": hhmm(shift.ends_at),
                "end": hhmm(shift.starts_at + 30 * MINUTE),
            },
            "结束时间不能早于开始时间",
        ),
        ({"attendance": "maybe"}, "出勤状态不正确"),
    ]
    for data, message in cases:
        response = client.post(url, data={"person_id": person.id, **data})
        assert response.status_code == 400, data
        html = page(response)
        row = html[html.index(f'id="person-{person.id}"') :]
        assert message in row.split("</li>")[0], data
    response = client.post(url, data={"person_id": _other.id + 1000, "attendance": "present"})
    assert response.status_code == 400 and "该志愿者没有报名这个班次" in page(response)
    assert tables() == before


def test_forgotten_check_outs_and_no_shows_are_flagged(client, make, app):
    team = make.team()
    leader = make.leader(team)
    shift, (forgot, stayed_home) = past_shift(team, started_ago=5)
    attendance.check_in(shift.id, forgot.id, now=shift.starts_at + 5 * MINUTE)
    late = app.config["CHECK_OUT_LATE_MINUTES"] * MINUTE
    assert attendance.close_forgotten_check_outs(shift.ends_at + late + MINUTE) == 1
    db.session.commit()
    login(client, leader)
    html = page(client.get(f"/shifts/{shift.id}/attendance"))
    forgot_row = html[html.index(f'id="person-{forgot.id}"') :].split("</li>")[0]
    assert "未签退" in forgot_row and "未签退，按班次结束时间计" in forgot_row
    home_row = html[html.index(f'id="person-{stayed_home.id}"') :].split("</li>")[0]
    assert "未签到" in home_row
    assert "未签退 1 人" in html


def test_the_header_counts_people_on_site_without_check_out(client, make):
    team = make.team()
    leader = make.leader(team)
    shift, people = past_shift(team, started_ago=1, hours=3, people=4)
    for person in people[:3]:
        attendance.check_in(shift.id, person.id, now=shift.starts_at + 5 * MINUTE)
    attendance.check_out(shift.id, people[2].id, now=shift.starts_at + 50 * MINUTE)
    db.session.commit()
    login(client, leader)
    html = page(client.get(f"/shifts/{shift.id}/attendance"))
    assert html.count("在岗，尚未签退") == 2
    assert "未签退 2 人" in html


def test_another_teams_leader_and_a_volunteer_get_404(client, make):
    team = make.team()
    leader = make.leader(team)
    shift, (person, _other) = past_shift(team)
    stranger = make.leader(make.team())
    before = tables()
    login(client, stranger)
    assert client.get(f"/shifts/{shift.id}/attendance").status_code == 404
    data = {"person_id": person.id, "attendance": "present"}
    assert client.post(f"/shifts/{shift.id}/attendance", data=data).status_code == 404
    assert client.post(f"/shifts/{shift.id}/attendance/all").status_code == 404
    client.post("/logout")
    # The team's own leader, logged in with a texted code, has no staff powers.
    me_login(client, leader)
    assert client.get(f"/shifts/{shift.id}/attendance").status_code == 404
    assert client.post(f"/shifts/{shift.id}/attendance/all").status_code == 404
    assert tables() == before


def test_a_time_typed_on_a_night_shift_is_taken_on_the_nearest_day(make):
    # 22:00–02:00 Shanghai time; arrival typed as 00:30 is after midnight.
    starts = datetime(2031, 7, 1, 14, 0, tzinfo=UTC)
    typed = datetime.strptime("00:30", "%H:%M").time()
    assert nearest(typed, starts) == starts + 2.5 * HOUR
    typed = datetime.strptime("21:40", "%H:%M").time()
    assert nearest(typed, starts) == starts - 20 * MINUTE


def test_people_with_a_record_who_left_the_roster_are_still_listed(client, make):
    team = make.team()
    leader = make.leader(team)
    _team, shift, (person,) = shift_with_people(
        team,
        starts_at=datetime.now(UTC).replace(second=0, microsecond=0) - 3 * HOUR,
        people=1,
    )
    from volunteer_hub.signups.models import Signup

    login(client, leader)
    client.post(f"/shifts/{shift.id}/attendance/all")
    signup = db.session.scalar(db.select(Signup).where(Signup.person_id == person.id))
    signup.status = "cancelled"
    db.session.commit()
    html = page(client.get(f"/shifts/{shift.id}/attendance"))
    assert person.name in html and "已不在报名名单中" in html
