"""``flask roster import FILE [--team ID] [--dry-run] [--json]`` (CONTRACTS.md, Commands)."""

from __future__ import annotations

import json

from sqlalchemy import select

from tests.roster.conftest import HEADERS, count, phone, xlsx
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.roster.models import RosterImport
from volunteer_hub.teams.models import Membership, Team


def workbook(tmp_path, rows) -> str:
    path = tmp_path / "roster.xlsx"
    path.write_bytes(xlsx(("Sheet1", [HEADERS, *rows])))
    return str(path)


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_import_prints_counts_as_json_last_and_a_second_run_changes_nothing(make, runner, tmp_path):
    make.team(make.unit("鄂城区"), name="甲队")
    path = workbook(
        tmp_path,
        [["张一", phone(1), "是", "", "甲队", ""], ["李一", phone(2), "是", "", "新队", "鄂城区"]],
    )
    result = runner.invoke(args=["roster", "import", path, "--json"])
    assert result.exit_code == 0, result.output
    assert last_json(result.output) == {
        "new": 2,
        "existing": 0,
        "invited": 0,
        "errors": 0,
        "teams_created": 1,
        "held_back": 0,
    }
    again = runner.invoke(args=["roster", "import", path, "--json"])
    assert again.exit_code == 0
    assert last_json(again.output)["new"] == last_json(again.output)["invited"] == 0
    assert last_json(again.output)["existing"] == 2
    audit = db.session.scalars(select(RosterImport).order_by(RosterImport.id)).all()
    assert [(a.via, a.created_by_id, a.status) for a in audit] == [("cli", None, "done")] * 2


def test_rows_with_errors_exit_non_zero_unless_dry_run(make, runner, tmp_path):
    team = make.team(make.unit("鄂城区"), name="甲队")
    path = workbook(tmp_path, [["张一", phone(3), "", "", "", ""], ["", phone(4), "", "", "", ""]])
    dry = runner.invoke(
        args=["roster", "import", path, "--team", str(team.id), "--dry-run", "--json"]
    )
    assert dry.exit_code == 0, dry.output
    assert last_json(dry.output)["errors"] == 1 and last_json(dry.output)["held_back"] == 1
    assert count(Person) == 0 and count(RosterImport) == 0  # a dry run changes nothing
    real = runner.invoke(args=["roster", "import", path, "--team", str(team.id), "--json"])
    assert real.exit_code == 1
    assert "缺少姓名" in real.output
    assert last_json(real.output)["errors"] == 1
    assert count(Membership, Membership.team_id == team.id) == 0  # the team is held back


def test_an_unreadable_file_or_unknown_team_is_a_clear_error(make, runner, tmp_path):
    path = tmp_path / "photo.xlsx"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    result = runner.invoke(args=["roster", "import", str(path)])
    assert result.exit_code != 0 and "无法识别" in result.output
    good = workbook(tmp_path, [["张一", phone(5), "", "", "", ""]])
    result = runner.invoke(args=["roster", "import", good, "--team", "999999"])
    assert result.exit_code != 0 and "服务队不存在" in result.output
    assert count(Team) == 0
