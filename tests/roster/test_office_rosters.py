"""The import against what district offices' files hold: merged team cells, archived
teams, declined invitations, landlines, hidden sheets, relatives sharing a phone, team
names typed a little differently (audit of the roster import)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.roster.conftest import HEADERS, count, csv_file, office_xlsx, phone, run, xlsx
from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import InvalidPhone, normalize_phone
from volunteer_hub.roster import services
from volunteer_hub.roster.models import ImportStatus, RosterImport
from volunteer_hub.roster.planning import import_phone, name_key
from volunteer_hub.sms.models import OutgoingSms
from volunteer_hub.teams.models import InvitationStatus, Membership, Team, TeamInvitation


def reasons(record: RosterImport) -> dict[int, str]:
    return {row[1]: (row[6] or row[5]) for row in record.preview["rows"]}


def sheet(*rows: list) -> bytes:
    return xlsx(("Sheet1", [HEADERS, *rows]))


# -- 1. merged cells, and rows whose team cannot be found ------------------------------


def test_a_team_merged_down_over_its_members_goes_in_whole(make):
    admin = make.admin()
    make.unit("莲花山社区")
    content = office_xlsx(
        (
            "Sheet1",
            [
                HEADERS,
                ["合并甲", phone(1), "", "", "新建合并服务队", "莲花山社区"],
                ["合并乙", phone(2), "", "", None, None],
                ["合并丙", phone(3), "", "", None, None],
            ],
        ),
        merged={"Sheet1": ["E2:E4", "F2:F4"]},
    )
    record = run(content, admin)
    assert (record.new_count, record.error_count, record.teams_created) == (3, 0, 1)
    team = db.session.scalar(select(Team).where(Team.name == "新建合并服务队"))
    assert count(Membership, Membership.team_id == team.id) == 3


def test_a_row_whose_team_is_not_found_holds_back_the_team_it_names(make):
    admin = make.admin()
    make.unit("莲花山社区")
    content = sheet(
        ["甲", phone(10), "", "", "新队", "莲花山社区"],
        ["乙", phone(11), "", "", "新队", ""],  # the unit left out: the team is not found
        ["丙", phone(12), "", "", "别的新队", ""],  # alone: a team of errors of its own
    )
    record = run(content, admin)
    found = reasons(record)
    assert found[3].startswith("服务队“新队”不存在")
    assert (record.new_count, record.error_count, record.held_back_count) == (0, 2, 1)
    assert (record.teams_created, count(Team)) == (0, 0)
    teams = {team["name"]: team for team in record.preview["teams"]}
    assert (teams["新队"]["rows"], teams["新队"]["errors"], teams["新队"]["create"]) == (2, 1, True)
    assert (teams["别的新队"]["errors"], teams["别的新队"]["create"]) == (1, False)
    # the error sheet carries the good row too: fixed and uploaded again, the team goes in
    assert [entry["row"] for entry in record.preview["held_back"]] == [2]


# -- 2. archived teams -------------------------------------------------------------------


def test_rows_of_an_archived_team_are_errors_and_the_job_finishes(make):
    district = make.unit("鄂城区")
    admin = make.admin()
    archived = make.team(district, name="邓平队", archived_at=utcnow())
    make.team(district, name="宣讲团")
    registered = make.member(make.team(district))
    content = sheet(
        ["归档新人", phone(20), "", "", "邓平队", ""],
        ["归档老人", registered.phone, "", "", "邓平队", ""],  # registered: was an invitation
        ["别队新人", phone(21), "", "", "宣讲团", ""],
    )
    record = run(content, admin)
    assert record.status == ImportStatus.DONE
    found = reasons(record)
    assert found[2] == found[3] == "该服务队已归档"
    assert (record.new_count, record.error_count, record.invited_count) == (1, 2, 0)
    assert count(Membership, Membership.team_id == archived.id) == 0
    assert count(TeamInvitation) == 0
    assert count(Person, Person.phone == f"+86{phone(20)}") == 0


def test_an_archived_team_is_never_doubled_by_a_new_team_of_its_name(make):
    district = make.unit("鄂城区")
    admin = make.admin()
    make.team(district, name="邓平队", archived_at=utcnow())
    record = run(sheet(["甲", phone(22), "", "", "邓平队", "鄂城区"]), admin)
    assert reasons(record)[2] == "该服务队已归档"
    assert (record.teams_created, count(Team)) == (0, 1)


def test_an_import_into_one_archived_team_imports_nothing(make):
    team = make.team(archived_at=utcnow())
    record = run(sheet(["甲", phone(23), "", "", "", ""]), make.admin(), team.id)
    assert reasons(record)[2] == "该服务队已归档"
    assert count(Membership, Membership.team_id == team.id) == 0


# -- 3. declined invitations -------------------------------------------------------------


def test_a_declined_invitation_is_not_sent_again_by_a_second_import(make):
    team = make.team()
    leader = make.leader(team)
    registered = make.member(make.team())
    content = xlsx(("Sheet1", [["姓名", "手机号"], ["王五", registered.phone]]))
    assert run(content, leader, team.id).invited_count == 1
    invitation = db.session.scalar(select(TeamInvitation))
    invitation.status = InvitationStatus.DECLINED
    db.session.commit()
    state = (count(TeamInvitation), count(OutgoingSms))
    again = run(content, leader, team.id)
    assert (again.invited_count, again.existing_count, again.error_count) == (0, 1, 0)
    assert reasons(again)[2] == "已拒绝邀请"
    assert (count(TeamInvitation), count(OutgoingSms)) == state


# -- 4, 5, 12. which column is the phone, and what it may hold --------------------------


def test_the_mobile_column_is_used_when_a_contact_phone_column_comes_first(make):
    team = make.team()
    content = xlsx(
        (
            "Sheet1",
            [
                ["姓名", "联系电话", "手机号码"],
                ["双列甲", "027-88886666", phone(30)],
                ["双列乙", "", phone(31)],
            ],
        )
    )
    record = run(content, make.admin(), team.id)
    assert (record.new_count, record.error_count) == (2, 0)
    assert count(Person, Person.phone == f"+86{phone(30)}") == 1


@pytest.mark.parametrize("landline", ["027-12345678", "0711-3212345", "400-123-4567"])
def test_landlines_and_400_numbers_are_refused_by_the_import_only(landline):
    with pytest.raises(InvalidPhone) as caught:
        import_phone(landline)
    assert caught.value.message == "座机号码无法接收短信，请填写手机号码"
    assert normalize_phone(landline).startswith("+86")  # elsewhere a landline stays valid


def test_a_landline_row_is_an_error_row(make):
    team = make.team()
    content = xlsx(("Sheet1", [["姓名", "手机号"], ["座机", "027-12345678"], ["手机", phone(32)]]))
    record = run(content, make.admin(), team.id)
    assert reasons(record)[2] == "座机号码无法接收短信，请填写手机号码"
    assert (record.new_count, record.error_count, record.held_back_count) == (0, 1, 1)


@pytest.mark.parametrize(
    ("typed", "reason"),
    [
        ("13812340011/13987654321", "一个单元格只填一个手机号"),
        ("13812340011 13987654321", "一个单元格只填一个手机号"),
        ("13812340011，或13987654321", "一个单元格只填一个手机号"),
        ("1.38123E+10", "请把手机号列设为文本格式后重新导出"),
        ("420700195801011237", "身份证号"),
        ("42070019580101123X", "身份证号"),
    ],
)
def test_phone_errors_say_what_went_wrong(typed, reason):
    with pytest.raises(InvalidPhone) as caught:
        import_phone(typed)
    assert reason in caught.value.message
    assert typed not in caught.value.message


@pytest.mark.parametrize(
    "typed", ["13812340017.0", "13812340017.00", "138 1234 0017", "\u200b13812340017"]
)
def test_a_phone_typed_as_a_number_cell_is_read(typed):
    assert import_phone(typed) == "+8613812340017"


def test_an_id_number_in_the_phone_column_is_kept_out_of_the_stored_reason(make):
    team = make.team()
    content = xlsx(("Sheet1", [["姓名", "手机号"], ["身份证", "420700195801011237"]]))
    record = services.create_import(content, "r.xlsx", viewer_for(make.admin()), team.id)
    assert "420700195801011237" not in str(record.preview["errors"][0]["reason"])
    assert "420700195801011237" not in str([row[6] for row in record.preview["rows"]])


# -- 6. hidden sheets ------------------------------------------------------------------


def test_hidden_sheets_are_not_imported_and_the_preview_names_them(make, runner, tmp_path):
    team = make.team()
    content = office_xlsx(
        ("Sheet1", [["姓名", "手机号"], ["可见甲", phone(40)]]),
        ("旧名单", [["姓名", "手机号"], ["隐藏甲", phone(41)], ["隐藏乙", phone(42)]]),
        hidden=("旧名单",),
    )
    record = run(content, make.admin(), team.id)
    assert (record.new_count, record.preview["hidden_sheets"]) == (1, ["旧名单"])
    assert count(Person, Person.name.like("隐藏%")) == 0
    path = tmp_path / "roster.xlsx"
    path.write_bytes(content)
    result = runner.invoke(args=["roster", "import", str(path), "--team", str(team.id)])
    assert "hidden sheet skipped: 旧名单" in result.output


# -- 7. one phone, two names -------------------------------------------------------------


def test_one_phone_under_two_names_is_an_error_not_one_merged_person(make):
    district = make.unit("鄂城区")
    make.team(district, name="宣讲团")
    make.team(district, name="邓平队")
    content = sheet(
        ["家属共用", phone(50), "", "", "宣讲团", ""],
        ["家属共用妻", phone(50), "", "", "邓平队", ""],  # another team
        ["两队甲", phone(51), "", "", "宣讲团", ""],
        ["两队甲", phone(51), "", "", "邓平队", ""],  # the same person in two teams: fine
    )
    record = run(content, make.admin())
    assert reasons(record)[3] == "与第 2 行手机号相同但姓名不同"
    assert (record.error_count, record.held_back_count, record.new_count) == (1, 1, 2)
    person = db.session.scalar(select(Person).where(Person.phone == f"+86{phone(50)}"))
    assert person.name == "家属共用"


def test_one_phone_under_two_names_on_two_sheets_names_the_first_sheet(make):
    admin = make.admin()
    make.team(make.unit("鄂城区"), name="甲队")
    make.team(make.unit("华容区"), name="乙队")
    content = xlsx(
        ("甲队", [["姓名", "手机号"], ["张一", phone(52)]]),
        ("乙队", [["姓名", "手机号"], ["张二", phone(52)]]),
    )
    record = services.create_import(content, "r.xlsx", viewer_for(admin), None)
    (error,) = record.preview["errors"]
    assert (error["sheet"], error["reason"]) == (
        "乙队",
        "与工作表“甲队”第 2 行手机号相同但姓名不同",
    )


# -- 8, 9. team names ----------------------------------------------------------------------


def test_a_csv_named_after_its_office_creates_no_team(make):
    admin = make.admin()
    make.unit("莲花山社区")
    content = csv_file(
        [["姓名", "手机号", "所属社区"], ["甲", phone(60), "莲花山社区"]], encoding="gb18030"
    )
    record = services.create_import(content, "莲花山社区退役军人名单.csv", viewer_for(admin), None)
    assert reasons(record)[2] == "缺少服务队名称"
    assert record.preview["counts"]["teams_created"] == 0


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("莲花山社区 戎马志愿服务队", "莲花山社区戎马志愿服务队"),
        ("莲花山社区戎马志愿服务队\u200b", "莲花山社区戎马志愿服务队"),
        ("\ufeff莲花山社区\xa0戎马志愿服务队", "莲花山社区戎马志愿服务队"),
        ('东塔社区"五老"邻里服务队', "东塔社区“五老”邻里服务队"),
        ("东塔社区＂五老＂邻里服务队", "东塔社区“五老”邻里服务队"),
    ],
)
def test_team_names_match_whatever_invisible_characters_spaces_or_quotes(make, typed, stored):
    assert name_key(typed) == name_key(stored)
    district = make.unit("莲花山社区")
    team = make.team(district, name=stored)
    # alone in the file, without a unit: the match may not depend on other rows
    content = xlsx(("Sheet1", [["姓名", "手机号", "服务队"], ["甲", phone(61), typed]]))
    record = run(content, make.admin())
    assert (record.new_count, record.teams_created, record.error_count) == (1, 0, 0)
    assert count(Membership, Membership.team_id == team.id) == 1


def test_a_team_name_with_a_zero_width_space_and_its_unit_is_not_created_again(make):
    district = make.unit("莲花山社区")
    make.team(district, name="莲花山社区戎马志愿服务队")
    content = sheet(["甲", phone(62), "", "", "莲花山社区戎马志愿服务队\u200b", "莲花山社区"])
    record = run(content, make.admin())
    assert (record.new_count, record.teams_created, count(Team)) == (1, 0, 1)


# -- 13. names ---------------------------------------------------------------------------


def test_invisible_characters_are_not_stored_in_names(make):
    team = make.team()
    content = xlsx(("Sheet1", [["姓名", "手机号"], ["李四\u200b", phone(70)]]))
    run(content, make.admin(), team.id)
    assert db.session.scalar(select(Person.name).where(Person.phone == f"+86{phone(70)}")) == "李四"
