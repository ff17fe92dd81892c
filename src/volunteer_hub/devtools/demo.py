"""Demo data drawn from the source documents: ``flask --app wsgi seed-demo``.

What it makes, every time the same: the units, teams and events of the demo world
(``demo_world``), the teams' members, sign-ups on the events, six months of past service
with its hour roll-ups, and three staff accounts (admin, coordinator of 鄂州市, leader of
莲花山社区戎马志愿服务队), printed at the end with the public demo password.
``--scale N`` adds synthetic load on top (``demo_scale``).

Idempotent: everything is looked up by its natural key first (unit name under its parent,
team name under its unit, a person's phone, an event's title within its team), so a second
run adds nothing. Events are keyed by title, not by start, because their start moves with
the day the command runs.

Phone numbers are synthetic and kept in two blocks no real person is given here:
+86 139 0000 8xxx/9xxx for the named demo people and +86 139 01xx xxxx for ``--scale``.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import click
from flask import current_app
from sqlalchemy import func, select
from werkzeug.security import check_password_hash, generate_password_hash

from volunteer_hub.auth.services import create_user
from volunteer_hub.db import utcnow
from volunteer_hub.devtools import demo_scale
from volunteer_hub.devtools.demo_world import (
    EVENTS,
    EZHOU,
    HISTORY_CONTENT,
    LEADER_TEAM,
    TEAMS,
    UNIT_TREE,
    ShiftSpec,
    TeamSpec,
    synthetic_name,
)
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.events.services import EventInput, ShiftInput, create_event, find_category
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.signups.models import SignupSource
from volunteer_hub.signups.services import sign_up
from volunteer_hub.teams.models import MemberRole, Membership, Team
from volunteer_hub.teams.services import add_member, create_team
from volunteer_hub.units.models import Unit
from volunteer_hub.units.services import create_unit

#: the password of every demo account; public, printed on the console, for demos only
DEMO_PASSWORD = "demo-password-2026"

#: +86 139 0000 90xx–92xx: members of the named teams (20 numbers per team)
NAMED_PHONE_BASE = 13900009000
PHONES_PER_TEAM = 20
ADMIN_PHONE = "+8613900008001"
COORDINATOR_PHONE = "+8613900008002"


# -- bookkeeping ------------------------------------------------------------------------------
@dataclass
class Tally:
    created: dict[str, int] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, created: bool, n: int = 1) -> None:
        bucket = self.created if created else self.present
        bucket[kind] = bucket.get(kind, 0) + n


@dataclass
class Account:
    role: str
    phone: str
    name: str
    scope: str


# -- entry point ------------------------------------------------------------------------------
def seed_demo(
    scale: int = 0,
    volunteers: int | None = None,
    echo: Callable[[str], object] = print,
    now: datetime | None = None,
) -> Tally:
    """Create (or find) the demo data; returns what was created and what was already there."""
    if scale < 0 or scale > demo_scale.MAX_SYNTHETIC_TEAMS:
        raise click.UsageError(f"--scale must be between 0 and {demo_scale.MAX_SYNTHETIC_TEAMS}")
    if volunteers is not None and not 0 <= volunteers <= demo_scale.MAX_SYNTHETIC_VOLUNTEERS:
        raise click.UsageError(
            f"--volunteers must be between 0 and {demo_scale.MAX_SYNTHETIC_VOLUNTEERS}"
        )
    if volunteers and not scale:
        raise click.UsageError("--volunteers needs --scale (volunteers join synthetic teams)")
    if current_app.config.get("SMS_BACKEND", "console") != "console":
        # Demo sign-ups would text the demo numbers for real.
        raise click.ClickException(
            "seed-demo only runs with SMS_BACKEND=console: demo data must not reach a real SMS gateway"
        )
    if volunteers is None:
        volunteers = round(demo_scale.EZHOU_VOLUNTEERS * scale / demo_scale.EZHOU_TEAMS)

    started = time.perf_counter()
    tally = Tally()
    now = now or utcnow()

    units = _seed_units(tally)
    db.session.commit()
    teams = _seed_teams(units, tally)
    db.session.commit()
    _seed_events(teams, tally, now)
    db.session.commit()
    _seed_service_history(teams, tally, now)
    db.session.commit()
    accounts = _seed_accounts(units, teams, tally)
    db.session.commit()
    if scale:
        demo_scale.seed_synthetic(scale, volunteers, units[EZHOU], tally)

    _report(echo, tally, accounts, time.perf_counter() - started)
    return tally


# -- units ------------------------------------------------------------------------------------
def _seed_units(tally: Tally) -> dict[tuple[str, ...], Unit]:
    """Every unit of UNIT_TREE by its path of names."""
    found: dict[tuple[str, ...], Unit] = {}

    def walk(children: dict[str, dict], parent: Unit | None, prefix: tuple[str, ...]) -> None:
        existing = {
            unit.name: unit
            for unit in db.session.scalars(
                select(Unit).where(
                    Unit.parent_id == parent.id if parent else Unit.parent_id.is_(None)
                )
            )
        }
        for name, grandchildren in children.items():
            unit = existing.get(name)
            tally.add("units", unit is None)
            if unit is None:
                unit = create_unit(name, parent.id if parent else None)
            path = (*prefix, name)
            found[path] = unit
            walk(grandchildren, unit, path)

    walk(UNIT_TREE, None, ())
    return found


# -- teams and members ------------------------------------------------------------------------
def _seed_teams(units: dict[tuple[str, ...], Unit], tally: Tally) -> dict[str, Team]:
    teams: dict[str, Team] = {}
    for index, spec in enumerate(TEAMS):
        unit = units[spec.unit]
        team = db.session.scalar(
            select(Team).where(Team.unit_id == unit.id, Team.name == spec.name)
        )
        tally.add("teams", team is None)
        if team is None:
            team = create_team(unit.id, spec.name, spec.description)
        teams[spec.name] = team
        _seed_members(team, spec, index, tally)
    return teams


def _seed_members(team: Team, spec: TeamSpec, index: int, tally: Tally) -> None:
    rng = random.Random(f"volunteer_hub demo {spec.name}")
    base = NAMED_PHONE_BASE + index * PHONES_PER_TEAM
    people = [(f"+86{base + j}", synthetic_name(rng)) for j in range(spec.members + 1)]
    phones = [phone for phone, _name in people]
    person_ids = dict(
        db.session.execute(select(Person.phone, Person.id).where(Person.phone.in_(phones))).all()
    )
    members = set(
        db.session.scalars(
            select(Membership.person_id).where(
                Membership.team_id == team.id, Membership.person_id.in_(person_ids.values())
            )
        )
    )
    for j, (phone, name) in enumerate(people):
        person_id = person_ids.get(phone)
        tally.add("people", person_id is None)
        if person_id is not None and person_id in members:
            tally.add("memberships", False)
            continue
        role = MemberRole.LEADER if j == 0 else MemberRole.MEMBER
        skills = "、".join(rng.sample(spec.skills, k=min(len(spec.skills), 1 + j % 2)))
        add_member(team.id, name, phone, role=role, skills=skills if j % 3 else "")
        tally.add("memberships", True)


def _team_people(team_id: int) -> tuple[Person | None, list[Person]]:
    """The team's first leader (if any) and its other members, in a stable order."""
    rows = db.session.execute(
        select(Person, Membership.role)
        .join(Membership, Membership.person_id == Person.id)
        .where(Membership.team_id == team_id)
        .order_by(Person.phone)
    ).all()
    leaders = [person for person, role in rows if role == MemberRole.LEADER]
    others = [person for person, role in rows if role != MemberRole.LEADER]
    return (leaders[0] if leaders else None), others


# -- events and sign-ups ----------------------------------------------------------------------
def _seed_events(teams: dict[str, Team], tally: Tally, now: datetime) -> None:
    zone = ZoneInfo(current_app.config.get("TIMEZONE") or "Asia/Shanghai")
    today = now.astimezone(zone).date()
    for spec in EVENTS:
        team = teams[spec.team]
        existing = db.session.scalar(
            select(Event.id).where(Event.team_id == team.id, Event.title == spec.title).limit(1)
        )
        if existing is not None:
            tally.add("events", False)
            continue
        category = find_category(spec.category)
        if category is None:  # an admin retired it: leave that event out
            continue
        shift_specs = spec.shifts(today)
        inputs = [_shift_input(s, today, zone) for s in shift_specs]
        leader, members = _team_people(team.id)
        leader_id = leader.id if leader else None
        texts = {"location": spec.location, "description": spec.description}
        details = EventInput(spec.title, category.id, open_to_all=spec.open_to_all, **texts)
        event = create_event(team.id, details, inputs, created_by_id=leader_id)
        tally.add("events", True)
        tally.add("shifts", True, len(inputs))
        # Shifts are created in the order of their inputs, so ids match the specs' order.
        shifts = db.session.scalars(
            select(Shift).where(Shift.event_id == event.id).order_by(Shift.id)
        ).all()
        for offset, (shift, shift_spec) in enumerate(zip(shifts, shift_specs, strict=True)):
            for k in range(min(shift_spec.signups, len(members))):
                person = members[(offset * 3 + k) % len(members)]
                sign_up(shift.id, person.id, SignupSource.LEADER, acted_by_id=leader_id, now=now)
                tally.add("signups", True)


#: months of past service the demo teams get, so the hour reports have something to show
HISTORY_MONTHS = 6


def _seed_service_history(teams: dict[str, Team], tally: Tally, now: datetime) -> None:
    """Past service of each named team: for every member, one or two services a month
    over the last HISTORY_MONTHS months in the team's field, entered and verified by the
    leader (the last month's left pending), then the roll-ups built from them. Entered as
    unplanned service so that every demo shift stays upcoming."""
    from volunteer_hub.auth.permissions import viewer_for
    from volunteer_hub.hours.models import ServiceRecord
    from volunteer_hub.hours.records import add_unplanned
    from volunteer_hub.hours.rollups import rebuild_all

    zone = ZoneInfo(current_app.config.get("TIMEZONE") or "Asia/Shanghai")
    field_of = {spec.team: spec.category for spec in EVENTS}
    rng = random.Random(20261201)
    added = False
    for name, team in teams.items():
        present = db.session.scalar(select(func.count()).where(ServiceRecord.team_id == team.id))
        if present:
            tally.add("service records", False, present)
            continue
        leader, members = _team_people(team.id)
        category = find_category(field_of.get(name, "文明创建"))
        if leader is None or not members or category is None:
            continue
        viewer = viewer_for(leader)
        title = HISTORY_CONTENT.get(category.name, "志愿服务")
        for back in range(HISTORY_MONTHS, 0, -1):
            for person in members:
                for _ in range(rng.choice((1, 1, 2))):
                    day = (now - timedelta(days=30 * back - rng.randint(0, 25))).astimezone(zone)
                    start = day.replace(hour=rng.choice((8, 9, 14)), minute=0, second=0)
                    add_unplanned(
                        team.id,
                        person.id,
                        viewer=viewer,
                        category_id=category.id,
                        content=title,
                        started_at=start,
                        ended_at=start + timedelta(hours=rng.choice((2, 3, 4))),
                        verified=back > 1,
                        now=now,
                    )
                    tally.add("service records", True)
                    added = True
    if added:
        db.session.flush()
        rebuild_all()  # the roll-up actors may have no worker in this process


def _shift_input(spec: ShiftSpec, today: date, zone: ZoneInfo) -> ShiftInput:
    day = today + timedelta(days=spec.day)
    hour, minute = spec.start
    starts = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(
        hours=hour, minutes=minute
    )
    ends = starts + timedelta(hours=spec.hours)
    return ShiftInput(
        starts_at=starts.astimezone(UTC),
        ends_at=ends.astimezone(UTC),
        capacity=spec.capacity,
        title=spec.title,
    )


# -- accounts ---------------------------------------------------------------------------------
def _seed_accounts(
    units: dict[tuple[str, ...], Unit], teams: dict[str, Team], tally: Tally
) -> list[Account]:
    leader, _members = _team_people(teams[LEADER_TEAM].id)
    ezhou = units[EZHOU]
    wanted = [
        ("admin", ADMIN_PHONE, "演示管理员", {}, "全部"),
        ("coordinator", COORDINATOR_PHONE, "鄂州市协调员", {"unit_id": ezhou.id}, "鄂州市"),
        ("leader", leader.phone, leader.name, {"team_id": teams[LEADER_TEAM].id}, LEADER_TEAM),
    ]
    # scrypt is slow on purpose: hash the demo password once, check each stored hash once.
    passwords = _DemoPassword()
    accounts = []
    for role, phone, name, scope_ids, scope in wanted:
        person = db.session.scalar(select(Person).where(Person.phone == phone))
        ready = (
            person is not None
            and passwords.matches(person.password_hash)
            and _has_role(person, role, scope_ids)
        )
        tally.add("accounts", not ready)
        if not ready:
            person = create_user(phone, name if person is None else "", role, **scope_ids)
            if not passwords.matches(person.password_hash):
                person.password_hash = passwords.hash()
        accounts.append(Account(role, person.phone, person.name, scope))
    db.session.flush()
    return accounts


class _DemoPassword:
    def __init__(self) -> None:
        self._hash: str | None = None
        self._checked: dict[str, bool] = {}

    def hash(self) -> str:
        if self._hash is None:
            self._hash = generate_password_hash(DEMO_PASSWORD)  # as auth.services does
        return self._hash

    def matches(self, stored: str | None) -> bool:
        if not stored:
            return False
        if stored not in self._checked:
            self._checked[stored] = check_password_hash(stored, DEMO_PASSWORD)
        return self._checked[stored]


def _has_role(person: Person, role: str, scope_ids: dict) -> bool:
    if role == "admin":
        return person.is_admin
    if role == "coordinator":
        return person.coordinator_unit_id == scope_ids["unit_id"]
    return (
        db.session.scalar(
            select(Membership.role).where(
                Membership.team_id == scope_ids["team_id"], Membership.person_id == person.id
            )
        )
        == MemberRole.LEADER
    )


# -- console ----------------------------------------------------------------------------------
ORDER = (
    "units",
    "teams",
    "people",
    "memberships",
    "events",
    "shifts",
    "signups",
    "service records",
    "accounts",
    "synthetic teams",
    "synthetic volunteers",
    "synthetic memberships",
    "synthetic leaders",
)


def _login_url() -> str:
    # `dev.py run` hands its PORT to this command; a deployment has its public origin.
    origin = current_app.config.get("PUBLIC_BASE_URL")
    if not origin:
        origin = f"http://127.0.0.1:{os.environ.get('PORT') or 5000}"
    return f"{origin}/login"


def _report(echo: Callable[[str], object], tally: Tally, accounts: list[Account], seconds: float):
    echo(f"演示数据 demo data ({seconds:.1f} s):")
    for kind in ORDER:
        created, present = tally.created.get(kind, 0), tally.present.get(kind, 0)
        if created or present:
            echo(f"  {kind:<22} created {created:>6}   already present {present:>6}")
    echo("")
    echo("演示账号 demo accounts — password for all: " + DEMO_PASSWORD)
    echo("  !! 仅供演示：密码是公开的，切勿用于真实部署 / demo only: the password is public,")
    echo("  !! never seed a real deployment with these accounts.")
    for account in accounts:
        echo(f"  {account.role:<12} {account.phone[3:]:<12} {account.name}（{account.scope}）")
    echo(f"登录 log in: {_login_url()}")
