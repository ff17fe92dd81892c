"""``flask seed-demo``: believable, idempotent demo data, and a bulk ``--scale`` mode."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select, update

from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.db import utcnow
from volunteer_hub.devtools import demo, demo_scale, demo_world
from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.queries import visible_teams
from volunteer_hub.signups.models import Signup, SignupStatus
from volunteer_hub.teams.models import MemberRole, Membership, Team
from volunteer_hub.units.models import Unit


@pytest.fixture(autouse=True)
def _detach_units():
    """Unlink the unit tree after each test so the shared clean-up can delete it.

    conftest empties each table with one DELETE; SQLite checks unit.parent_id (RESTRICT)
    row by row, so a nested tree fails to delete in one statement.
    """
    yield
    db.session.rollback()
    db.session.execute(update(Unit).values(parent_id=None))
    db.session.commit()


def _seed(runner, *args: str) -> str:
    result = runner.invoke(args=["seed-demo", *args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def _row_counts() -> dict[str, int]:
    return {
        table.name: db.session.scalar(select(func.count()).select_from(table))
        for table in db.metadata.sorted_tables
    }


def _unit_path_names(unit: Unit) -> list[str]:
    ids = [int(part) for part in unit.path.strip("/").split("/")]
    names = dict(db.session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids))).all())
    return [names[i] for i in ids]


def test_second_run_changes_nothing(runner):
    first = _seed(runner)
    counts = _row_counts()
    phones = set(db.session.scalars(select(Person.phone)))
    db.session.remove()

    second = _seed(runner)

    assert _row_counts() == counts
    assert set(db.session.scalars(select(Person.phone))) == phones
    assert counts["unit"] > 40 and counts["team"] == len(demo_world.TEAMS)
    assert counts["event"] == len(demo_world.EVENTS) and counts["signup"] > 50
    assert re.search(r"teams\s+created\s+12", first)
    assert re.search(r"teams\s+created\s+0\s+already present\s+12", second)


def test_named_teams_sit_in_their_units(runner):
    _seed(runner)

    expected = {
        "莲花山社区戎马志愿服务队": ["湖北省", "鄂州市", "鄂城区", "凤凰街道", "莲花山社区"],
        "东塔社区“五老”邻里退役军人志愿服务队": [
            "湖北省",
            "鄂州市",
            "鄂城区",
            "凤凰街道",
            "东塔社区",
        ],
        "菜园头社区“高性宽”老兵志愿服务队": [
            "湖北省",
            "鄂州市",
            "鄂城区",
            "凤凰街道",
            "菜园头社区",
        ],
        "邓平社区退役军人志愿服务队": ["湖北省", "鄂州市", "华容区", "葛店镇", "邓平社区"],
        "鄂州市关心下一代退役军人志愿队": ["湖北省", "鄂州市"],
        "鄂州市老兵红色宣讲团": ["湖北省", "鄂州市"],
        "鄂城老兵红色宣讲团": ["湖北省", "鄂州市", "鄂城区"],
        "武汉市退役军人长江卫士应急救援队": ["湖北省", "武汉市"],
        "江岸区“长江卫士”退役军人志愿服务队": ["湖北省", "武汉市", "江岸区"],
        "武汉市英烈讲解员志愿服务队": ["湖北省", "武汉市"],
    }
    for name, path in expected.items():
        team = db.session.scalar(select(Team).where(Team.name == name))
        assert team is not None, name
        assert _unit_path_names(team.unit) == path, name

        roles = list(
            db.session.scalars(select(Membership.role).where(Membership.team_id == team.id))
        )
        assert roles.count(MemberRole.LEADER) == 1, name
        assert 8 <= roles.count(MemberRole.MEMBER) <= 15, name

    # Synthetic numbers only, all distinct (the column is unique) and in the demo block.
    phones = list(db.session.scalars(select(Person.phone)))
    assert all(p.startswith("+86139000") for p in phones)


def test_the_printed_login_address_follows_the_port_dev_py_serves_on(runner, monkeypatch):
    monkeypatch.setenv("PORT", "5099")
    assert "log in: http://127.0.0.1:5099/login" in _seed(runner)


def test_leader_logs_in_with_the_printed_account_and_sees_the_team(runner, client):
    output = _seed(runner)
    assert demo.DEMO_PASSWORD in output and "http://127.0.0.1:5000/login" in output
    leader_phone = re.search(r"leader\s+(1\d{10})\s", output).group(1)
    assert re.search(r"coordinator\s+1\d{10}\s", output)
    assert re.search(r"admin\s+1\d{10}\s", output)

    response = client.post("/login", data={"phone": leader_phone, "password": demo.DEMO_PASSWORD})

    assert response.status_code == 302
    leader = db.session.scalar(select(Person).where(Person.phone == "+86" + leader_phone))
    names = [team.name for team in db.session.scalars(visible_teams(viewer_for(leader)))]
    assert names == [demo_world.LEADER_TEAM]

    teams_page = client.get("/teams")
    assert teams_page.status_code == 200
    assert demo_world.LEADER_TEAM in teams_page.get_data(as_text=True)
    team = db.session.scalar(select(Team).where(Team.name == demo_world.LEADER_TEAM))
    team_page = client.get(f"/teams/{team.id}").get_data(as_text=True)
    assert "校门口护学岗" in team_page and leader.name in team_page


def test_coordinator_oversees_ezhou_only(runner):
    _seed(runner)
    coordinator = db.session.scalar(select(Person).where(Person.phone == demo.COORDINATOR_PHONE))

    names = set(
        db.session.scalars(select(Team.name).where(viewer_for(coordinator).team_condition()))
    )

    assert "莲花山社区戎马志愿服务队" in names and "鄂城老兵红色宣讲团" in names
    assert not any("长江卫士" in name or "武汉" in name for name in names)


def test_events_are_upcoming_and_one_shift_is_full_with_a_waitlist(runner):
    _seed(runner)
    now = utcnow()

    shifts = db.session.scalars(select(Shift)).all()
    assert shifts and all(shift.starts_at > now for shift in shifts)
    full = [shift for shift in shifts if shift.filled == shift.capacity]
    waitlisted = {
        shift_id
        for (shift_id,) in db.session.execute(
            select(Signup.shift_id).where(Signup.status == SignupStatus.WAITLISTED)
        )
    }
    assert {shift.id for shift in full} & waitlisted
    for shift in shifts:  # the counter agrees with the rows
        confirmed = db.session.scalar(
            select(func.count()).where(
                Signup.shift_id == shift.id, Signup.status == SignupStatus.CONFIRMED
            )
        )
        assert confirmed == shift.filled <= shift.capacity
    rota = [shift for shift in shifts if shift.title.startswith("第")]
    assert len(rota) == 6 and {(s.ends_at - s.starts_at).total_seconds() for s in rota} == {
        4 * 3600
    }


def test_scale_adds_synthetic_teams_and_volunteers_once(runner):
    _seed(runner)
    before = _row_counts()

    _seed(runner, "--scale", "20")
    after = _row_counts()
    _seed(runner, "--scale", "20")

    volunteers = round(demo_scale.EZHOU_VOLUNTEERS * 20 / demo_scale.EZHOU_TEAMS)  # 252
    assert after["team"] - before["team"] == 20
    assert after["person"] - before["person"] == volunteers
    assert after["membership"] - before["membership"] == volunteers
    assert _row_counts() == after

    synthetic = db.session.scalars(
        select(Team).where(Team.name.startswith(demo_scale.SYNTHETIC_TEAM_PREFIX))
    ).all()
    assert sorted(t.name for t in synthetic)[0] == "鄂州合成志愿服务队0001"
    assert all(_unit_path_names(t.unit)[:2] == ["湖北省", "鄂州市"] for t in synthetic)
    assert len({t.unit_id for t in synthetic}) > 10  # spread over communities and towns
    leaders = db.session.execute(
        select(Membership.team_id, func.count())
        .where(
            Membership.team_id.in_([t.id for t in synthetic]),
            Membership.role == MemberRole.LEADER,
        )
        .group_by(Membership.team_id)
    ).all()
    assert len(leaders) == 20 and {n for _team, n in leaders} == {1}


def test_scale_with_explicit_volunteers(runner):
    _seed(runner, "--scale", "3", "--volunteers", "40")

    count = db.session.scalar(
        select(func.count()).where(Person.phone.startswith(demo_scale.SYNTHETIC_PHONE_PREFIX))
    )
    assert count == 40


@pytest.mark.parametrize("args", [["--scale", "-1"], ["--volunteers", "5"]])
def test_bad_options_are_refused(runner, args):
    result = runner.invoke(args=["seed-demo", *args])

    assert result.exit_code == 2
    assert db.session.scalar(select(func.count()).select_from(Team)) == 0


def test_refuses_to_run_against_a_real_sms_gateway(app, runner):
    app.config["SMS_BACKEND"] = "twilio"
    try:
        result = runner.invoke(args=["seed-demo"])
    finally:
        app.config["SMS_BACKEND"] = "console"

    assert result.exit_code == 1
    assert "SMS_BACKEND=console" in result.output
    assert db.session.scalar(select(func.count()).select_from(Team)) == 0


def test_demo_teams_have_past_service_and_the_roll_ups_agree(runner):
    from volunteer_hub.hours.models import ServiceRecord, TeamHoursRollup
    from volunteer_hub.hours.rollups import rebuild_all

    _seed(runner)
    statuses = dict(
        db.session.execute(
            select(ServiceRecord.status, func.count()).group_by(ServiceRecord.status)
        ).all()
    )
    assert statuses["verified"] > 100 and statuses["pending"] > 10
    assert db.session.scalar(select(func.count()).select_from(TeamHoursRollup)) > 10
    assert rebuild_all().changed == 0  # the seed built the roll-ups from the records
    db.session.rollback()
    shifts = db.session.scalars(select(Shift)).all()
    assert all(shift.starts_at > utcnow() for shift in shifts)  # history needs no past shifts


def test_the_readme_sms_demo_works_for_flood_duty_and_keeps_other_teams_events_closed(runner):
    """README: a demo volunteer texts 报名 CODE on /dev/sms. Flood duty and emergencies
    are open to all (公开招募); another team's members-only event says so."""
    from volunteer_hub.events.models import Event
    from volunteer_hub.sms.inbound import handle_inbound

    _seed(runner)
    open_titles = set(db.session.scalars(select(Event.title).where(Event.open_to_all)))
    assert {"长江江堤24小时值守", "青山江滩防汛巡堤", "长江水上应急救援演练"} <= open_titles
    assert "校门口护学岗" not in open_titles

    leader_team = db.session.scalar(select(Team).where(Team.name == demo_world.LEADER_TEAM))
    volunteer = db.session.scalar(
        select(Person)
        .join(Membership, Membership.person_id == Person.id)
        .where(Membership.team_id == leader_team.id, Membership.role == MemberRole.MEMBER)
        .limit(1)
    )

    def code_of(title: str) -> str:
        return db.session.scalar(
            select(Shift.code)
            .join(Event, Event.id == Shift.event_id)
            .where(Event.title == title)
            .order_by(Shift.starts_at.desc())
            .limit(1)
        )

    flood = handle_inbound(
        message_sid="SMdemo1",
        from_phone=volunteer.phone,
        to_phone="+10000",
        body=f"报名 {code_of('长江江堤24小时值守')}",
    )
    assert "邓平社区" in flood.reply and "“长江江堤" in flood.reply  # team and title, cut to fit
    assert "地点：鄂州市华容区" in flood.reply
    assert "报名成功" in flood.reply or "候补" in flood.reply
    closed = handle_inbound(
        message_sid="SMdemo2",
        from_phone=volunteer.phone,
        to_phone="+10000",
        body=f"报名 {code_of('高性宽先进事迹宣讲')}",
    )
    assert "仅限该队队员报名" in closed.reply
    db.session.rollback()
