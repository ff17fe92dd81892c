"""Small factories for tests: every argument has a sensible default (``kwargs.setdefault``).

They commit, so what they make is visible to the app under test like real data.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from werkzeug.security import generate_password_hash

from volunteer_hub.auth.services import mint_token, set_password
from volunteer_hub.events.models import Category
from volunteer_hub.events.services import EventInput, ShiftInput, create_event
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.teams.models import MemberRole, Membership, Team
from volunteer_hub.units.services import create_unit

PASSWORD = "correct-horse-42"
# Real scrypt, verified by the same code as production, with a small cost factor so the
# hundreds of logins in the suite stay fast. tests/auth pins production's full strength.
PASSWORD_HASH = generate_password_hash(PASSWORD, method="scrypt:1024:8:1")
_numbers = itertools.count(1)


def next_phone() -> str:
    # 139 0000 xxxx: valid mobile numbers, distinct per call
    return f"+86139{next(_numbers):08d}"


def unit(name: str | None = None, parent=None, level: str | None = None):
    made = create_unit(name or f"单位{next(_numbers)}", parent.id if parent else None, level)
    db.session.commit()
    return made


def team(unit_=None, **kwargs) -> Team:
    kwargs.setdefault("name", f"测试志愿服务队{next(_numbers)}")
    unit_ = unit_ or unit()
    made = Team(unit_id=unit_.id, **kwargs)
    db.session.add(made)
    db.session.commit()
    return made


def person(**kwargs) -> Person:
    kwargs.setdefault("name", f"志愿者{next(_numbers)}")
    kwargs.setdefault("phone", next_phone())
    password = kwargs.pop("password", None)
    made = Person(**kwargs)
    if password == PASSWORD:
        made.password_hash = PASSWORD_HASH
    elif password:
        set_password(made, password)
    db.session.add(made)
    db.session.commit()
    return made


def member(team_: Team, role: str = MemberRole.MEMBER, **kwargs) -> Person:
    made = person(**kwargs)
    db.session.add(Membership(team_id=team_.id, person_id=made.id, role=role))
    db.session.commit()
    return made


def leader(team_: Team, **kwargs) -> Person:
    kwargs.setdefault("password", PASSWORD)
    return member(team_, role=MemberRole.LEADER, **kwargs)


def coordinator(unit_, **kwargs) -> Person:
    kwargs.setdefault("password", PASSWORD)
    return person(coordinator_unit_id=unit_.id, **kwargs)


def admin(**kwargs) -> Person:
    kwargs.setdefault("password", PASSWORD)
    return person(is_admin=True, **kwargs)


def category(name: str = "防汛抗旱") -> Category:
    return db.session.scalar(db.select(Category).where(Category.name == name))


def future(hours: float = 48) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0)


def event(team_: Team, shifts: int | list[dict] = 1, capacity: int = 10, **kwargs):
    """A published event with ``shifts`` consecutive 2-hour shifts starting in two days."""
    start = kwargs.pop("starts_at", future())
    if isinstance(shifts, int):
        shift_inputs = [
            ShiftInput(
                starts_at=start + timedelta(hours=2 * i),
                ends_at=start + timedelta(hours=2 * i + 2),
                capacity=capacity,
                title=f"第{i + 1}班",
            )
            for i in range(shifts)
        ]
    else:
        shift_inputs = [ShiftInput(**s) for s in shifts]
    kwargs.setdefault("title", "长江巡堤")
    kwargs.setdefault("category_id", category(kwargs.pop("category_name", "防汛抗旱")).id)
    kwargs.setdefault("location", "鄂州市鄂城区江堤")
    made = create_event(team_.id, EventInput(**kwargs), shift_inputs, created_by_id=None)
    db.session.commit()
    return made


def shifts_of(event_):
    from volunteer_hub.events.models import Shift

    return list(
        db.session.scalars(
            db.select(Shift).where(Shift.event_id == event_.id).order_by(Shift.starts_at, Shift.id)
        )
    )


def api_token(person_: Person) -> str:
    _token, plain = mint_token(person_, "test")
    db.session.commit()
    return plain
