"""Synthetic load for ``flask seed-demo --scale N``: N teams over Ezhou's communities and
towns and, by default, Ezhou's ratio of volunteers (5,246 for 417 teams), one membership
each, the first member of each team its leader. Inserted in bulk with Core ``insert()``;
existing rows are found by their natural keys (team name, phone) first, so a second run
inserts nothing. Phones are +86 139 01xx xxxx, a block no real person is given here.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

import click
from sqlalchemy import and_, exists, func, insert, select, update
from sqlalchemy.orm import aliased

from volunteer_hub.db import utcnow
from volunteer_hub.devtools.demo_world import synthetic_name
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.teams.models import MemberRole, Membership, Team
from volunteer_hub.units.models import Unit, UnitLevel
from volunteer_hub.units.services import subtree_condition

if TYPE_CHECKING:
    from volunteer_hub.devtools.demo import Tally

#: Ezhou, as the 2025 report counts it: 417 teams, 5,246 registered volunteers
EZHOU_TEAMS = 417
EZHOU_VOLUNTEERS = 5246

SYNTHETIC_TEAM_PREFIX = "鄂州合成志愿服务队"
#: +86 139 01xx xxxx: one number per synthetic volunteer, index in the last six digits
SYNTHETIC_PHONE_PREFIX = "+8613901"
MAX_SYNTHETIC_TEAMS = 9999
MAX_SYNTHETIC_VOLUNTEERS = 1_000_000
#: rows per INSERT; well under PostgreSQL's 65,535 bind parameters for our widest table
CHUNK = 2000


def synthetic_team_name(index: int) -> str:
    """1-based: 鄂州合成志愿服务队0001."""
    return f"{SYNTHETIC_TEAM_PREFIX}{index:04d}"


def synthetic_phone(index: int) -> str:
    """0-based: +8613901000000, +8613901000001 ..."""
    return f"{SYNTHETIC_PHONE_PREFIX}{index:06d}"


def seed_synthetic(scale: int, volunteers: int, ezhou: Unit, tally: Tally) -> None:
    """``scale`` teams over Ezhou's communities and towns, ``volunteers`` volunteers, one
    membership each; committed. Rows go in with lists of dicts in chunks."""
    now = utcnow()
    names = [synthetic_team_name(i) for i in range(1, scale + 1)]
    phones = [synthetic_phone(i) for i in range(volunteers)]
    new_teams = _new_teams(names, _ezhou_leaf_units(ezhou), now)
    new_people = _new_people(phones, now)

    total = len(new_teams) + 2 * len(new_people)
    with _progress(total, "合成数据 synthetic data") as bar:
        _insert(Team.__table__, new_teams, bar)
        _insert(Person.__table__, new_people, bar)
        new_memberships = _new_memberships(names, phones, now)
        _insert(Membership.__table__, new_memberships, bar)
        bar.update(total)  # people already placed

    promoted = _promote_first_members(_synthetic_teams())
    db.session.commit()

    tally.add("synthetic teams", True, len(new_teams))
    tally.add("synthetic teams", False, scale - len(new_teams))
    tally.add("synthetic volunteers", True, len(new_people))
    tally.add("synthetic volunteers", False, volunteers - len(new_people))
    tally.add("synthetic memberships", True, len(new_memberships))
    tally.add("synthetic memberships", False, volunteers - len(new_memberships))
    tally.add("synthetic leaders", True, promoted)


def _synthetic_teams():
    return select(Team.id).where(Team.name.startswith(SYNTHETIC_TEAM_PREFIX))


def _new_teams(names: list[str], homes: list[int], now: datetime) -> list[dict]:
    """Rows for the teams named that do not exist yet, spread over ``homes`` in turn."""
    have_teams = set(
        db.session.scalars(select(Team.name).where(Team.name.startswith(SYNTHETIC_TEAM_PREFIX)))
    )
    return [
        {
            "unit_id": homes[(i - 1) % len(homes)],
            "name": name,
            "description": "",
            "created_at": now,
            "updated_at": now,
        }
        for i, name in enumerate(names, start=1)
        if name not in have_teams
    ]


def _new_people(phones: list[str], now: datetime) -> list[dict]:
    """Rows for the volunteers whose phone is not taken yet; each one's name and skill
    drawn from a generator seeded with their index, so a rerun makes the same people."""
    have_phones = set(
        db.session.scalars(
            select(Person.phone).where(Person.phone.startswith(SYNTHETIC_PHONE_PREFIX))
        )
    )
    new_people = []
    for i, phone in enumerate(phones):
        if phone in have_phones:
            continue
        rng = random.Random(i)
        skill = rng.choice(("", "", "驾驶", "急救", "讲解", "巡堤", "水上救援", "护学"))
        new_people.append(
            {
                "name": synthetic_name(rng),
                "phone": phone,
                "is_veteran": rng.random() < 0.9,
                "skills": skill,
                "password_hash": None,
                "is_admin": False,
                "coordinator_unit_id": None,
                "is_active": True,
                "last_login_at": None,
                "created_at": now,
                "updated_at": now,
            }
        )
    return new_people


def _new_memberships(names: list[str], phones: list[str], now: datetime) -> list[dict]:
    """Rows placing each volunteer not yet in a synthetic team into one, in turn."""
    team_ids = dict(
        db.session.execute(
            select(Team.name, Team.id).where(Team.name.startswith(SYNTHETIC_TEAM_PREFIX))
        ).all()
    )
    person_ids = dict(
        db.session.execute(
            select(Person.phone, Person.id).where(Person.phone.startswith(SYNTHETIC_PHONE_PREFIX))
        ).all()
    )
    placed = set(
        db.session.scalars(
            select(Membership.person_id).where(Membership.team_id.in_(_synthetic_teams()))
        )
    )
    return [
        {
            "team_id": team_ids[names[i % len(names)]],
            "person_id": person_ids[phone],
            "role": MemberRole.MEMBER.value,
            "joined_at": now,
        }
        for i, phone in enumerate(phones)
        if person_ids[phone] not in placed
    ]


def _insert(table, rows: list[dict], bar: _progress) -> None:
    for chunk in _chunks(rows):
        db.session.execute(insert(table), chunk)
        bar.update(len(chunk))


def _promote_first_members(team_ids_query) -> int:
    """Each synthetic team without a leader gets its first member as leader (one UPDATE)."""
    leader = aliased(Membership)
    first_members = (
        select(func.min(Membership.id))
        .where(
            Membership.team_id.in_(team_ids_query),
            ~exists().where(
                and_(leader.team_id == Membership.team_id, leader.role == MemberRole.LEADER.value)
            ),
        )
        .group_by(Membership.team_id)
    )
    # Ids first, then a plain UPDATE … WHERE id IN (…): the same SQL on PostgreSQL and SQLite.
    ids = list(db.session.scalars(first_members))
    for chunk in _chunks(ids):
        db.session.execute(
            update(Membership.__table__)
            .where(Membership.__table__.c.id.in_(chunk))
            .values(role=MemberRole.LEADER.value)
        )
    return len(ids)


def _ezhou_leaf_units(ezhou: Unit) -> list[int]:
    """Ezhou's communities, and its streets and towns without communities of their own."""
    child = aliased(Unit)
    return list(
        db.session.scalars(
            select(Unit.id)
            .where(
                subtree_condition(ezhou.path),
                Unit.level.in_([UnitLevel.STREET.value, UnitLevel.COMMUNITY.value]),
                ~exists().where(child.parent_id == Unit.id),
            )
            .order_by(Unit.id)
        )
    )


def _chunks(rows: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


class _progress:
    """click's progress bar on stderr (shown on a terminal only), clamped to its length."""

    def __init__(self, length: int, label: str):
        self.length = max(length, 1)
        self.done = 0
        self.bar = click.progressbar(length=self.length, label=label, file=sys.stderr)

    def __enter__(self):
        self.bar.__enter__()
        return self

    def update(self, n: int) -> None:
        step = min(n, self.length - self.done)
        if step > 0:
            self.done += step
            self.bar.update(step)

    def __exit__(self, *exc):
        return self.bar.__exit__(*exc)
