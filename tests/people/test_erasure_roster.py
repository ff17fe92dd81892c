"""Erasure and roster imports: an erased person leaves the previews kept with each import
(the page, and the error sheet of what was typed), and an import not yet applied that
lists them loses its file, so applying it cannot bring them back."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.people.test_erasure import erase
from tests.roster.conftest import HEADERS, phone, run, xlsx
from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.errors import Conflict
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.roster import services
from volunteer_hub.roster.models import ImportStatus, RosterImport


def rows_of(record: RosterImport) -> dict[int, list]:
    return {row[1]: row for row in record.preview["rows"]}


def test_an_applied_import_no_longer_shows_the_erased_person(make):
    district = make.unit("鄂城区")
    coordinator = make.coordinator(district)
    make.team(district, name="甲队")
    make.team(district, name="乙队")
    elsewhere = make.team(make.unit("华容区"), name="丙队")
    registered = make.member(elsewhere, name="王五", phone=f"+86{phone(43)}")
    content = xlsx(
        (
            "Sheet1",
            [
                HEADERS,
                ["张一", phone(40), "是", "驾驶", "甲队", ""],
                ["张二", phone(41), "否", "", "甲队", ""],
                ["王五", phone(43), "是", "急救", "乙队", ""],  # held back with 乙队
                ["李二", "1234", "是", "", "乙队", ""],  # the error that holds 乙队 back
            ],
        )
    )
    record = run(content, coordinator)
    assert record.status == ImportStatus.DONE
    new = db.session.scalar(select(Person).where(Person.phone == f"+86{phone(40)}"))

    erase(make.admin(), new)
    erase(make.admin(), registered)
    db.session.expire_all()
    record = db.session.get(RosterImport, record.id)
    rows = rows_of(record)
    assert rows[2][3:5] == ["已删除", "已删除"]
    assert rows[3][3:5] == ["张二", "137****0041"]  # the others stay as they were
    assert rows[4][3:5] == ["已删除", "已删除"]
    held_back = record.preview["held_back"]
    assert [entry["row"] for entry in held_back] == [4]
    assert held_back[0]["cells"]["name"] == "已删除"
    assert held_back[0]["cells"]["phone"] == "已删除"
    assert held_back[0]["cells"]["skills"] == "已删除"
    assert held_back[0]["cells"]["team"] == "乙队"  # what names no one stays
    assert [entry["cells"]["name"] for entry in record.preview["errors"]] == ["李二"]
    for trace in ("张一", "王五", phone(40), phone(43), "0040", "0043"):
        assert trace not in str(record.preview)
    assert record.status == ImportStatus.DONE  # an applied import keeps its result


def test_an_import_not_yet_applied_loses_the_file_that_lists_the_erased_person(make):
    unit = make.unit("凤凰街道")
    team = make.team(unit, name="凤凰街道退役军人志愿服务队")
    leader = make.leader(team)
    person = make.member(
        make.team(unit, name="西山志愿服务队"), name="赵六", phone=f"+86{phone(50)}"
    )
    content = xlsx(("Sheet1", [["姓名", "手机号"], ["赵六", phone(50)], ["钱七", phone(51)]]))
    record = services.create_import(content, "r.xlsx", viewer_for(leader), team.id)
    untouched = services.create_import(
        xlsx(("Sheet1", [["姓名", "手机号"], ["钱七", phone(51)]])),
        "s.xlsx",
        viewer_for(leader),
        team.id,
    )
    db.session.commit()

    erase(make.admin(), person)
    db.session.expire_all()
    record = db.session.get(RosterImport, record.id)
    assert record.status == ImportStatus.FAILED
    assert "个人信息已被删除" in record.failure
    assert (
        db.session.scalar(select(RosterImport.content).where(RosterImport.id == record.id)) is None
    )
    assert "赵六" not in str(record.preview)
    with pytest.raises(Conflict):
        services.queue_apply(record.id)
    db.session.rollback()
    assert db.session.scalar(select(Person).where(Person.phone == f"+86{phone(50)}")) is None

    other = db.session.get(RosterImport, untouched.id)
    assert other.status == ImportStatus.PREVIEWED  # a file without them can still be applied
    services.queue_apply(other.id)
    db.session.commit()
