"""The team's records to verify, one record's page and trail, unplanned service."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.conftest import login, token_from
from tests.hours.page_support import HOUR, MINUTE, page, past_shift, record_of, tables
from tests.hours.support import (
    expected_rollup_rows,
    expected_team_rows,
    rollup_rows,
    team_rollup_rows,
    viewer,
)
from tests.volunteers.conftest import me_login
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance, verification
from volunteer_hub.hours import records as hours_records
from volunteer_hub.hours.models import Attendance, RecordChange, RecordStatus, ServiceRecord
from volunteer_hub.i18n import to_local


def marked_shift(make, team, leader, people: int = 2, started_ago: float = 3):
    """A shift that has run, everyone marked present as planned: pending records."""
    shift, members = past_shift(team, people=people, started_ago=started_ago)
    attendance.mark_all_attended(shift.id, viewer=viewer(leader))
    db.session.commit()
    return shift, members, [record_of(person.id) for person in members]


def test_the_team_page_links_to_the_records_and_pending_come_first(client, make):
    team = make.team()
    leader = make.leader(team)
    _shift, _people, (first, second) = marked_shift(make, team, leader)
    verification.verify([first.id], viewer=viewer(leader))
    db.session.commit()
    login(client, leader)
    assert f'href="/teams/{team.id}/hours/records"' in page(client.get(f"/teams/{team.id}"))
    html = page(client.get(f"/teams/{team.id}/hours/records"))
    assert html.index(f'/hours/records/{second.id}"') < html.index(f'/hours/records/{first.id}"')
    assert "待审核 (1)" in html and "已认定 (1)" in html
    html = page(client.get(f"/teams/{team.id}/hours/records?status=verified"))
    assert f'/hours/records/{first.id}"' in html and f'/hours/records/{second.id}"' not in html


def test_several_records_verified_at_once(client, make):
    team = make.team()
    leader = make.leader(team)
    _shift, _people, records = marked_shift(make, team, leader, people=3)
    login(client, leader)
    response = client.post(
        f"/teams/{team.id}/hours/records/verify?status=pending",
        data={"record_id": [str(records[0].id), str(records[2].id)]},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/teams/{team.id}/hours/records?status=pending")
    statuses = [record_of(r.person_id).status for r in records]
    assert statuses == [RecordStatus.VERIFIED, RecordStatus.PENDING, RecordStatus.VERIFIED]
    assert record_of(records[0].person_id).decided_by_id == leader.id
    assert "已审核通过 2 条记录" in page(client.get(f"/teams/{team.id}/hours/records"))


def test_all_pending_records_of_the_page_verified_with_one_button(client, make):
    team = make.team()
    leader = make.leader(team)
    _shift, _people, records = marked_shift(make, team, leader, people=4)
    verification.verify([records[3].id], viewer=viewer(leader))
    db.session.commit()
    login(client, leader)
    html = page(client.get(f"/teams/{team.id}/hours/records?status=pending"))
    assert "全部认定（本页 3 条）" in html
    assert 'data-select-all="record_id"' in html  # the tick-all box, with the script
    # The button sends what the page listed, as a browser without script would.
    listed = [int(v) for v in re.findall(r'name="page_record_id" value="(\d+)"', html)]
    assert sorted(listed) == sorted(r.id for r in records[:3])
    response = client.post(
        f"/teams/{team.id}/hours/records/verify?status=pending",
        data={"page_record_id": listed, "verify_all": "1"},
    )
    assert response.status_code == 302
    assert all(record_of(r.person_id).status == RecordStatus.VERIFIED for r in records)
    assert "已审核通过 3 条记录" in page(client.get(f"/teams/{team.id}/hours/records"))


def test_verifying_nothing_or_anothers_record_changes_nothing(client, make):
    team, other_team = make.team(), make.team()
    leader = make.leader(team)
    _shift, _people, (mine, _second) = marked_shift(make, team, leader)
    _shift, _people, (theirs, _x) = marked_shift(make, other_team, make.leader(other_team))
    # The leader leads both teams: a record of the other team still does not belong here.
    make.leader(other_team)
    before = tables()
    login(client, leader)
    response = client.post(f"/teams/{team.id}/hours/records/verify", data={})
    assert response.status_code == 400 and "请先勾选要审核的记录" in page(response)
    response = client.post(
        f"/teams/{team.id}/hours/records/verify", data={"record_id": [mine.id, theirs.id]}
    )
    assert response.status_code == 404
    response = client.post(f"/teams/{team.id}/hours/records/verify", data={"record_id": ["x"]})
    assert response.status_code == 404
    assert tables() == before


def test_a_record_still_on_site_cannot_be_verified(client, make):
    team = make.team()
    leader = make.leader(team)
    shift, (person, _other) = past_shift(team, started_ago=1)
    record = attendance.check_in(shift.id, person.id, now=shift.starts_at)
    db.session.commit()
    login(client, leader)
    html = page(client.get(f"/teams/{team.id}/hours/records"))
    assert f'value="{record.id}"' not in html and "在岗，尚未签退" in html
    before = tables()
    response = client.post(
        f"/teams/{team.id}/hours/records/verify", data={"record_id": [record.id]}
    )
    assert response.status_code == 400 and "尚未签退，暂不能审核" in page(response)
    assert tables() == before


def test_reject_needs_a_reason_and_keeps_it_in_the_trail(client, make):
    team = make.team()
    leader = make.leader(team)
    _shift, _people, (record, _second) = marked_shift(make, team, leader)
    login(client, leader)
    before = tables()
    response = client.post(f"/hours/records/{record.id}/reject", data={"reason": "  "})
    assert response.status_code == 400 and "请说明不予认定的原因" in page(response)
    response = client.post(f"/hours/records/{record.id}/reject", data={"reason": "x" * 501})
    assert response.status_code == 400 and "原因不能超过 500 字" in page(response)
    assert tables() == before
    response = client.post(f"/hours/records/{record.id}/reject", data={"reason": "当天未到岗"})
    assert response.status_code == 302
    assert record_of(record.person_id).status == RecordStatus.REJECTED
    html = page(client.get(f"/hours/records/{record.id}"))
    trail = html[html.index("修改历史") :]
    assert "不予认定" in trail and "原因：当天未到岗" in trail and leader.name in trail


def edit_data(record, **changes):
    local_start, local_end = to_local(record.started_at), to_local(record.ended_at)
    data = {
        "attendance": record.attendance,
        "date": local_start.date().isoformat(),
        "start": local_start.strftime("%H:%M"),
        "end": local_end.strftime("%H:%M"),
        "content": record.content,
        "reason": "",
    }
    if record.over_shift_length:
        data["over_shift_length"] = "y"
    data.update(changes)
    return data


def test_edit_times_attendance_content_and_over_the_shift_length(client, make):
    team = make.team()
    leader = make.leader(team)
    # Ended two hours ago: the leader extends it by 70 minutes that have passed.
    shift, _people, (record, _second) = marked_shift(make, team, leader, started_ago=4)
    login(client, leader)
    end = to_local(shift.ends_at + 70 * MINUTE).strftime("%H:%M")
    data = edit_data(
        record,
        attendance="late",
        end=end,
        content="江堤巡查并抢修管涌",
        over_shift_length="y",
        reason="抢险延长",
    )
    response = client.post(f"/hours/records/{record.id}/edit", data=data)
    assert response.status_code == 302, page(response)[:2000]
    edited = record_of(record.person_id)
    assert edited.attendance == Attendance.LATE
    assert edited.ended_at == shift.ends_at + 70 * MINUTE
    assert edited.started_at == shift.starts_at  # unchanged
    assert edited.content == "江堤巡查并抢修管涌" and edited.over_shift_length
    assert edited.minutes == 180  # 3 h 10 on site
    html = page(client.get(f"/hours/records/{record.id}"))
    trail = html[html.index("修改历史") :]
    assert "原因：抢险延长" in trail and "计入时长：2 小时 → 3 小时" in trail


def test_bad_edits_show_their_error_and_change_nothing(client, make):
    team = make.team()
    leader = make.leader(team)
    _shift, _people, (record, _second) = marked_shift(make, team, leader)
    login(client, leader)
    before = tables()
    cases = [
        (edit_data(record, content="新内容", reason=""), "请说明修改原因"),
        (edit_data(record, reason="没改"), "没有需要保存的修改"),
        (edit_data(record, date="明天", reason="改日期"), "请填写日期（如 2026-07-01）"),
        (edit_data(record, start="8点", reason="改时间"), "请填写开始时间（如 08:00）"),
        (edit_data(record, content=" ", reason="清空"), "请填写服务内容（不超过 300 字）"),
        (edit_data(record, attendance="maybe", reason="改"), "出勤状态不正确"),
    ]
    for data, message in cases:
        response = client.post(f"/hours/records/{record.id}/edit", data=data)
        assert response.status_code == 400, data
        html = page(response)
        assert message in html[html.index('id="edit"') :], data
    assert tables() == before


def test_delete_needs_a_reason_and_the_trail_stays(client, make):
    team = make.team()
    leader = make.leader(team)
    _shift, _people, (record, _second) = marked_shift(make, team, leader)
    login(client, leader)
    before = tables()
    response = client.post(f"/hours/records/{record.id}/delete", data={"reason": ""})
    assert response.status_code == 400 and "请说明删除原因" in page(response)
    assert tables() == before
    response = client.post(f"/hours/records/{record.id}/delete", data={"reason": "重复登记"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/teams/{team.id}/hours/records")
    assert db.session.get(ServiceRecord, record.id) is None
    deleted = db.session.scalar(select(RecordChange).where(RecordChange.action == "deleted"))
    assert (deleted.reason, deleted.actor_id) == ("重复登记", leader.id)
    assert client.get(f"/hours/records/{record.id}").status_code == 404


def test_a_correction_request_is_shown_and_resolved(client, make):
    team = make.team()
    leader = make.leader(team)
    shift, (person, _other), (record, _second) = marked_shift(make, team, leader)
    hours_records.edit_record(
        record.id, viewer=viewer(leader), reason="早退", ended_at=shift.starts_at + HOUR
    )
    hours_records.request_correction(record.id, person.id, "我一直干到结束", channel="sms")
    db.session.commit()
    login(client, leader)
    html = page(client.get(f"/teams/{team.id}/hours/records"))
    assert "待处理的更正申请" in html and "我一直干到结束" in html
    assert f"/hours/records/{record.id}#resolve" in html
    record = record_of(person.id)
    before = tables()
    data = edit_data(record, end=to_local(shift.ends_at).strftime("%H:%M"), reason="")
    response = client.post(f"/hours/records/{record.id}/resolve", data=data)
    assert response.status_code == 400 and "请写明处理结果" in page(response)
    assert tables() == before
    data["reason"] = "核实属实，按班次结束计"
    response = client.post(f"/hours/records/{record.id}/resolve", data=data)
    assert response.status_code == 302
    resolved = record_of(person.id)
    assert resolved.correction_note is None and resolved.minutes == 120
    assert "待处理的更正申请" not in page(client.get(f"/teams/{team.id}/hours/records"))
    actions = list(
        db.session.scalars(
            select(RecordChange.action)
            .where(RecordChange.record_id == record.id)
            .order_by(RecordChange.id)
        )
    )
    assert actions[-2:] == ["edited", "correction_resolved"]


def test_unplanned_service_for_a_member(client, make):
    team = make.team()
    leader = make.leader(team)
    member = make.member(team, name="刘志强")
    outsider = make.person()
    category = make.category("抢险救灾")
    login(client, leader)
    html = page(client.get(f"/teams/{team.id}/hours/records/new"))
    assert f'name="person_ids" value="{member.id}"> 刘志强</label>' in html
    assert outsider.name not in html
    day = to_local(utcnow() - 30 * HOUR).date().isoformat()
    good = {
        "person_ids": str(member.id),
        "category": str(category.id),
        "content": "夜间抢险转移群众",
        "date": day,
        "start": "22:00",
        "end": "02:30",
        "verified": "y",
    }
    before = tables()
    cases = [
        ({"person_ids": ""}, "请选择队员"),
        ({"person_ids": str(outsider.id)}, "该志愿者不是本队队员"),
        ({"person_ids": [str(member.id), str(outsider.id)]}, "该志愿者不是本队队员"),
        ({"person_ids": [str(member.id), "x"]}, "请选择队员"),
        ({"category": ""}, "请选择有效的服务类别"),
        ({"content": ""}, "请填写服务内容（不超过 300 字）"),
        ({"date": ""}, "请填写日期（如 2026-07-01）"),
        ({"end": "25:00"}, "请填写结束时间（如 12:00）"),
        ({"date": to_local(utcnow() + 48 * HOUR).date().isoformat()}, "不能登记尚未发生的服务"),
    ]
    for change, message in cases:
        response = client.post(f"/teams/{team.id}/hours/records/new", data={**good, **change})
        assert response.status_code == 400, change
        assert message in page(response), change
    assert tables() == before
    response = client.post(f"/teams/{team.id}/hours/records/new", data=good)
    assert response.status_code == 302
    record = record_of(member.id)
    assert record.is_unplanned and record.status == RecordStatus.VERIFIED
    assert record.minutes == 270 and record.category_id == category.id
    assert "已登记 刘志强 的计划外服务 4.5 小时" in page(
        client.get(f"/teams/{team.id}/hours/records")
    )


def test_unplanned_service_for_several_members_at_once(client, make):
    """A night at the levee for three: one span typed once, a record each."""
    team = make.team()
    leader = make.leader(team)
    crew = [make.member(team, name=name) for name in ("刘志强", "陈建国", "赵卫东")]
    stays_home = make.member(team, name="孙立新")
    category = make.category("抢险救灾")
    login(client, leader)
    day = to_local(utcnow() - 30 * HOUR).date().isoformat()
    response = client.post(
        f"/teams/{team.id}/hours/records/new",
        data={
            "person_ids": [str(p.id) for p in crew],
            "category": str(category.id),
            "content": "夜间抢险转移群众",
            "date": day,
            "start": "22:00",
            "end": "01:00",
        },
    )
    assert response.status_code == 302
    made = [record_of(person.id) for person in crew]
    assert [(r.minutes, r.content, r.is_unplanned, r.status) for r in made] == [
        (180, "夜间抢险转移群众", True, RecordStatus.PENDING)
    ] * 3
    assert len({(r.started_at, r.ended_at) for r in made}) == 1
    assert record_of(stays_home.id) is None
    html = page(client.get(f"/teams/{team.id}/hours/records"))
    assert "已登记 刘志强、陈建国、赵卫东 的计划外服务 3 小时" in html


def test_another_teams_leader_gets_404_everywhere(client, make):
    team = make.team()
    leader = make.leader(team)
    _shift, _people, (record, _second) = marked_shift(make, team, leader)
    hours_records.request_correction(record.id, record.person_id, "时间不对")
    db.session.commit()
    stranger = make.leader(make.team())
    before = tables()
    login(client, stranger)
    for url in (
        f"/teams/{team.id}/hours/records",
        f"/teams/{team.id}/hours/records/new",
        f"/hours/records/{record.id}",
    ):
        assert client.get(url).status_code == 404, url
    reason = {"reason": "x"}
    for url, data in (
        (f"/teams/{team.id}/hours/records/verify", {"record_id": [record.id]}),
        (f"/teams/{team.id}/hours/records/new", {"person_ids": record.person_id}),
        (f"/hours/records/{record.id}/verify", {}),
        (f"/hours/records/{record.id}/edit", edit_data(record, reason="x", content="y")),
        (f"/hours/records/{record.id}/resolve", edit_data(record, reason="x")),
        (f"/hours/records/{record.id}/reject", reason),
        (f"/hours/records/{record.id}/delete", reason),
    ):
        assert client.post(url, data=data).status_code == 404, url
    client.post("/logout")
    me_login(client, leader)  # a texted code: no staff powers
    assert client.get(f"/hours/records/{record.id}").status_code == 404
    assert client.post(f"/hours/records/{record.id}/verify").status_code == 404
    assert tables() == before


def test_a_coordinator_above_the_team_verifies_one_below_does_not_see_it(client, make):
    district, other = make.unit("鄂城区"), make.unit("华容区")
    team = make.team(make.unit("凤凰街道", parent=district))
    leader = make.leader(team)
    _shift, _people, (record, _second) = marked_shift(make, team, leader)
    outside = make.coordinator(other)
    login(client, outside)
    assert client.get(f"/hours/records/{record.id}").status_code == 404
    client.post("/logout")
    coordinator = make.coordinator(district)
    login(client, coordinator)
    assert client.post(f"/hours/records/{record.id}/verify").status_code == 302
    assert record_of(record.person_id).decided_by_id == coordinator.id


def test_the_rollup_follows_a_verification_once_the_worker_ran(client, make, worker, broker):
    team = make.team()
    leader = make.leader(team)
    _shift, (first, _second), records = marked_shift(make, team, leader)
    login(client, leader)
    broker.join("hours")
    assert rollup_rows() == set()
    client.post(
        f"/teams/{team.id}/hours/records/verify", data={"record_id": [r.id for r in records]}
    )
    broker.join("hours")
    db.session.expire_all()
    rows = rollup_rows()
    assert rows == expected_rollup_rows()
    assert {(person, minutes) for person, *_key, _services, minutes in rows} == {
        (first.id, 120),
        (_second.id, 120),
    }
    assert team_rollup_rows() == expected_team_rows()
    # Rejecting one takes it out again.
    client.post(f"/hours/records/{records[0].id}/reject", data={"reason": "重复"})
    broker.join("hours")
    db.session.expire_all()
    assert {row[0] for row in rollup_rows()} == {_second.id}
    assert rollup_rows() == expected_rollup_rows()


def test_forms_need_the_csrf_token(client, make, csrf_on):
    team = make.team()
    leader = make.leader(team)
    _shift, _people, (record, _second) = marked_shift(make, team, leader)
    response = client.get("/login")
    client.post(
        "/login",
        data={
            "phone": leader.phone,
            "password": make.PASSWORD,
            "csrf_token": token_from(page(response)),
        },
    )
    before = tables()
    response = client.post(f"/hours/records/{record.id}/reject", data={"reason": "未到岗"})
    assert response.status_code == 400
    assert tables() == before
    token = token_from(page(client.get(f"/hours/records/{record.id}")))
    response = client.post(
        f"/hours/records/{record.id}/reject", data={"reason": "未到岗", "csrf_token": token}
    )
    assert response.status_code == 302
    assert record_of(record.person_id).status == RecordStatus.REJECTED
