"""The roster import as a service: preview, then apply team by team (issue 13, item 1)."""

from __future__ import annotations

import io

from openpyxl import load_workbook
from sqlalchemy import select

from tests.roster.conftest import HEADERS, count, csv_file, phone, run, xlsx
from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.roster import services, sheets
from volunteer_hub.roster.models import ImportStatus, RosterImport
from volunteer_hub.roster.tasks import apply_roster_import
from volunteer_hub.sms.models import OutgoingSms
from volunteer_hub.teams.models import InvitationStatus, Membership, Team, TeamInvitation


def outcomes(record: RosterImport) -> dict[int, str]:
    return {row[1]: (row[6] or row[5]) for row in record.preview["rows"]}


def test_every_row_outcome_is_previewed_and_nothing_changes(make):
    unit = make.unit("凤凰街道")
    team = make.team(unit, name="凤凰街道退役军人志愿服务队")
    leader = make.leader(team)
    other = make.team(unit, name="西山志愿服务队")
    registered = make.member(other, name="存档姓名", phone="+8613700000001")
    invited_already = make.member(other, phone="+8613700000002")
    db.session.add(TeamInvitation(team_id=team.id, person_id=invited_already.id, name_given="赵六"))
    db.session.commit()
    content = xlsx(
        (
            "Sheet1",
            [
                ["姓名", "手机号"],
                ["新人甲", phone(10)],  # 2 new
                [leader.name, leader.phone],  # 3 already a member
                ["王五", registered.phone],  # 4 registered elsewhere: invited
                ["赵六", invited_already.phone],  # 5 invited already
                ["", phone(11)],  # 6 no name
                ["坏号码", "12345"],  # 7 bad phone
                ["重复", phone(10)],  # 8 duplicate of row 2
            ],
        )
    )
    before = (count(Person), count(Membership), count(TeamInvitation), count(OutgoingSms))
    record = services.create_import(content, "r.xlsx", viewer_for(leader), team.id)
    db.session.commit()
    found = outcomes(record)
    assert found[2] == "new" and found[3] == "member"
    assert found[4] == "invite" and found[5] == "invited"
    assert found[6] == "缺少姓名"
    assert "手机号码" in found[7]
    assert found[8] == "手机号与第 2 行重复"
    assert (count(Person), count(Membership), count(TeamInvitation), count(OutgoingSms)) == before
    # The registered person's stored name is nowhere in the preview; the phone is masked.
    row4 = next(r for r in record.preview["rows"] if r[1] == 4)
    assert row4[3:5] == ["王五", "137****0001"]
    assert "存档姓名" not in str(record.preview)


def test_registered_people_are_invited_not_enrolled(make):
    team = make.team()
    leader = make.leader(team)
    registered = make.member(make.team(), name="存档姓名")
    record = run(
        xlsx(("Sheet1", [["姓名", "手机号"], ["王五", registered.phone], ["新人", phone(20)]])),
        leader,
        team.id,
    )
    assert (record.status, record.new_count, record.invited_count) == (ImportStatus.DONE, 1, 1)
    assert (
        count(Membership, Membership.person_id == registered.id, Membership.team_id == team.id) == 0
    )
    invitation = db.session.scalar(
        select(TeamInvitation).where(TeamInvitation.person_id == registered.id)
    )
    assert (invitation.status, invitation.name_given) == (InvitationStatus.PENDING, "王五")
    assert invitation.invited_by_id == leader.id
    (text,) = db.session.scalars(
        select(OutgoingSms).where(OutgoingSms.to_phone == registered.phone)
    )
    assert "邀请您加入" in text.body
    assert record.content is None  # the file is not kept once applied


def test_a_second_import_of_the_same_file_changes_nothing(make):
    team = make.team()
    leader = make.leader(team)
    registered = make.member(make.team())
    content = xlsx(
        ("Sheet1", [["姓名", "手机号"], ["王五", registered.phone], ["新人", phone(30)]])
    )
    first = run(content, leader, team.id)
    assert (first.new_count, first.invited_count) == (1, 1)
    state = (count(Person), count(Membership), count(TeamInvitation), count(OutgoingSms))
    second = run(content, leader, team.id)
    assert second.counts() == {
        "new": 0,
        "existing": 2,
        "invited": 0,
        "errors": 0,
        "teams_created": 0,
        "held_back": 0,
    }
    assert (count(Person), count(Membership), count(TeamInvitation), count(OutgoingSms)) == state


def test_each_team_is_all_or_nothing(make):
    district = make.unit("鄂城区")
    coordinator = make.coordinator(district)
    good = make.team(district, name="甲队")
    bad = make.team(district, name="乙队")
    content = xlsx(
        (
            "Sheet1",
            [
                HEADERS,
                ["张一", phone(40), "是", "", "甲队", ""],
                ["张二", phone(41), "否", "驾驶", "甲队", ""],
                ["李一", phone(42), "是", "", "乙队", ""],
                ["李二", "1234", "是", "", "乙队", ""],  # bad: holds 乙队 back
            ],
        )
    )
    record = run(content, coordinator)
    assert (record.new_count, record.error_count, record.held_back_count) == (2, 1, 1)
    assert count(Membership, Membership.team_id == good.id) == 2
    assert count(Membership, Membership.team_id == bad.id) == 0
    assert count(Person, Person.phone == f"+86{phone(42)}") == 0
    veteran = db.session.scalar(select(Person).where(Person.phone == f"+86{phone(41)}"))
    assert (veteran.is_veteran, veteran.skills) == (False, "驾驶")


def test_a_coordinator_creates_missing_teams_only_under_units_in_scope(make):
    city = make.unit("鄂州市")
    district = make.unit("鄂城区", parent=city)
    street = make.unit("凤凰街道", parent=district)
    elsewhere = make.unit("华容区", parent=city)
    outside_team = make.team(elsewhere, name="华容队")
    coordinator = make.coordinator(district)
    content = xlsx(
        (
            "Sheet1",
            [
                HEADERS,
                ["张一", phone(50), "", "", "凤凰新队", "凤凰街道"],  # created under the street
                ["张二", phone(51), "", "", "华容新队", "华容区"],  # unit outside scope
                ["张三", phone(52), "", "", "某队", "不存在的单位"],  # unknown unit
                ["张四", phone(53), "", "", "华容队", ""],  # team outside scope
                ["张五", phone(54), "", "", "", ""],  # no team at all
            ],
        )
    )
    record = run(content, coordinator)
    reasons = outcomes(record)
    assert reasons[3] == "单位“华容区”不存在或不在您的管辖范围内"
    assert reasons[4] == "单位“不存在的单位”不存在或不在您的管辖范围内"
    assert reasons[5].startswith("服务队“华容队”不存在或不在您的管辖范围内")
    assert reasons[6] == "缺少服务队名称"
    assert (record.teams_created, record.new_count, record.error_count) == (1, 1, 4)
    created = db.session.scalar(select(Team).where(Team.name == "凤凰新队"))
    assert created.unit_id == street.id
    assert count(Team, Team.unit_id == elsewhere.id) == 1
    assert count(Membership, Membership.team_id == outside_team.id) == 0


def test_one_sheet_per_team(make):
    district = make.unit("鄂城区")
    admin = make.admin()
    make.team(district, name="甲队")
    content = xlsx(
        ("甲队", [["姓名", "手机号"], ["张一", phone(60)]]),
        ("乙队", [["姓名", "手机号", "所属单位"], ["李一", phone(61), "鄂城区"]]),
        ("说明", [["本表由社区填写"]]),  # no header: not a roster sheet
    )
    record = run(content, admin)
    assert (record.new_count, record.teams_created, record.error_count) == (2, 1, 0)


def test_a_leader_cannot_import_into_another_team(make):
    team = make.team(name="本队")
    leader = make.leader(team)
    content = xlsx(
        (
            "Sheet1",
            [
                ["姓名", "手机号", "服务队"],
                ["张一", phone(70), "本队"],
                ["张二", phone(71), "别的队"],
            ],
        )
    )
    record = services.create_import(content, "r.xlsx", viewer_for(leader), team.id)
    assert outcomes(record)[3] == "服务队“别的队”不在本次导入范围内：本次只导入“本队”"


def test_the_error_sheet_lists_each_bad_row_with_its_reason_and_neutralises_formulas(make):
    admin = make.admin()
    make.team(make.unit("鄂城区"), name="甲队")
    content = csv_file(
        [
            HEADERS,
            ['=HYPERLINK("http://x")', "12345", "是", "", "甲队", ""],
            ["张二", phone(80), "是", "", "甲队", ""],
        ]
    )
    record = services.create_import(content, "Sheet1.csv", viewer_for(admin), None)
    sheet = load_workbook(io.BytesIO(sheets.error_workbook(record.preview["errors"]))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][-3:] == ("原工作表", "原行号", "错误原因")
    assert rows[1][0] == '\'=HYPERLINK("http://x")'
    assert sheet.cell(2, 1).data_type == "s"
    assert rows[1][-3:-1] == ("Sheet1", 2) and "手机号码" in rows[1][-1]
    assert len(rows) == 2


def test_statements_are_per_team_not_per_row(make, count_queries):
    admin = make.admin()
    district = make.unit("鄂城区")

    def statements(rows_per_team: int, offset: int) -> tuple[int, int]:
        body = [HEADERS] + [
            [f"队员{offset + i}", phone(offset + i), "是", "", f"队{t}", "鄂城区"]
            for t in range(3)
            for i in range(t * rows_per_team, (t + 1) * rows_per_team)
        ]
        content = xlsx(("Sheet1", body))
        with count_queries() as previewing:
            record = services.create_import(content, "r.xlsx", viewer_for(admin), None)
            services.queue_apply(record.id)
            db.session.commit()
        with count_queries() as applying:
            apply_roster_import(record.id)
        db.session.expire_all()
        assert db.session.get(RosterImport, record.id).new_count == 3 * rows_per_team
        # the teams exist now: drop them, so the next round creates its teams again
        return previewing.count, applying.count

    small = statements(5, 1000)
    db.session.execute(Membership.__table__.delete())
    db.session.execute(Team.__table__.delete().where(Team.unit_id == district.id))
    db.session.commit()
    large = statements(40, 2000)
    assert small == large


def test_a_new_person_in_two_teams_of_one_file_joins_both_without_an_invitation(make):
    admin = make.admin()
    district = make.unit("鄂城区")
    make.team(district, name="甲队")
    make.team(district, name="乙队")
    content = xlsx(
        (
            "Sheet1",
            [
                HEADERS,
                ["张一", phone(90), "", "", "甲队", ""],
                ["张一", phone(90), "", "", "乙队", ""],
            ],
        )
    )
    first = run(content, admin)
    assert (first.new_count, first.invited_count) == (2, 0)
    person = db.session.scalar(select(Person).where(Person.phone == f"+86{phone(90)}"))
    assert count(Membership, Membership.person_id == person.id) == 2
    assert count(TeamInvitation) == 0
    second = run(content, admin)
    assert (second.new_count, second.invited_count, second.existing_count) == (0, 0, 2)
