"""Fixtures for the leader web: a small unit tree with teams on both sides of it."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from tests import factories
from volunteer_hub.db import utcnow
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.i18n import to_local
from volunteer_hub.people.models import Person
from volunteer_hub.signups.models import Signup
from volunteer_hub.teams.models import Membership


@dataclass
class World:
    """湖北省 › 鄂州市 › 鄂城区 (X) › 凤凰街道 ; 鄂州市 › 华容区 (Y).

    Team A is under 凤凰街道 (so under X), team B under Y.
    """

    district_x: object
    district_y: object
    street_x: object
    team_a: object
    team_b: object
    leader_a: object
    leader_b: object
    member_a: object
    member_b: object
    coordinator_x: object
    coordinator_y: object
    event_a: object
    event_b: object
    shift_b: object
    signup_b: object


@functools.cache
def _password_hash() -> str:
    # One scrypt hash for the whole run: hashing costs ~0.1 s, and the world has four staff.
    return generate_password_hash(factories.PASSWORD)


def with_password(person):
    person.password_hash = _password_hash()
    db.session.commit()
    return person


@pytest.fixture
def world(make) -> World:
    from volunteer_hub.signups.services import sign_up

    province = make.unit("湖北省")
    city = make.unit("鄂州市", parent=province)
    district_x = make.unit("鄂城区", parent=city)
    district_y = make.unit("华容区", parent=city)
    street_x = make.unit("凤凰街道", parent=district_x)
    team_a = make.team(street_x, name="凤凰街道退役军人志愿服务队")
    team_b = make.team(district_y, name="华容区长江卫士服务队")
    leader_a = with_password(make.leader(team_a, name="张队长", password=None))
    leader_b = with_password(make.leader(team_b, name="李队长", password=None))
    member_a = make.member(team_a, name="王建国")
    member_b = make.member(team_b, name="赵卫东")
    event_a = make.event(team_a, shifts=2, title="护苗护学", category_name="护苗护学")
    event_b = make.event(team_b, shifts=2, title="长江巡堤", capacity=3)
    shift_b = make.shifts_of(event_b)[0]
    signup_b = sign_up(shift_b.id, member_b.id, "sms").signup
    db.session.commit()
    return World(
        district_x=district_x,
        district_y=district_y,
        street_x=street_x,
        team_a=team_a,
        team_b=team_b,
        leader_a=leader_a,
        leader_b=leader_b,
        member_a=member_a,
        member_b=member_b,
        coordinator_x=with_password(
            make.coordinator(district_x, name="鄂城区协调员", password=None)
        ),
        coordinator_y=with_password(
            make.coordinator(district_y, name="华容区协调员", password=None)
        ),
        event_a=event_a,
        event_b=event_b,
        shift_b=shift_b,
        signup_b=signup_b,
    )


def local_day(days_ahead: int = 3) -> date:
    """A date in the display zone, ``days_ahead`` from today."""
    return to_local(utcnow()).date() + timedelta(days=days_ahead)


def event_form(
    shifts: list[tuple],
    title: str = "长江巡堤防汛值守",
    category: str | int | None = None,
    status: str = "published",
    location: str = "鄂州市鄂城区江堤",
    description: str = "",
) -> dict[str, str]:
    """Form data as the browser posts it. A shift is (date, start, end, capacity[, title[, id]])."""
    if category is None:
        category = factories.category("防汛抗旱").id
    data = {
        "title": title,
        "category": str(category),
        "location": location,
        "description": description,
        "status": status,
    }
    for index, shift in enumerate(shifts):
        day, start, end, capacity, *rest = shift
        data[f"shifts-{index}-date"] = day.isoformat() if isinstance(day, date) else day
        data[f"shifts-{index}-start"] = start
        data[f"shifts-{index}-end"] = end
        data[f"shifts-{index}-capacity"] = str(capacity)
        data[f"shifts-{index}-title"] = rest[0] if rest else ""
        data[f"shifts-{index}-id"] = str(rest[1]) if len(rest) > 1 else ""
    return data


def row_counts() -> dict[str, int]:
    """Enough of the database to see that nothing changed."""
    return {
        "event": db.session.scalar(select(func.count()).select_from(Event)),
        "shift": db.session.scalar(select(func.count()).select_from(Shift)),
        "shift_cancelled": db.session.scalar(
            select(func.count()).select_from(Shift).where(Shift.is_cancelled.is_(True))
        ),
        "filled": db.session.scalar(select(func.coalesce(func.sum(Shift.filled), 0))),
        "signup_active": db.session.scalar(
            select(func.count()).select_from(Signup).where(Signup.status != "cancelled")
        ),
        "signup": db.session.scalar(select(func.count()).select_from(Signup)),
        "membership": db.session.scalar(select(func.count()).select_from(Membership)),
        "person": db.session.scalar(select(func.count()).select_from(Person)),
        "revisions": db.session.scalar(select(func.coalesce(func.sum(Event.revision), 0))),
        "event_cancelled": db.session.scalar(
            select(func.count()).select_from(Event).where(Event.status == "cancelled")
        ),
        "person_fields": hash(
            tuple(db.session.execute(select(Person.name, Person.phone).order_by(Person.id)))
        ),
        "shift_fields": hash(
            tuple(
                db.session.execute(
                    select(Shift.starts_at, Shift.ends_at, Shift.capacity, Shift.title).order_by(
                        Shift.id
                    )
                )
            )
        ),
    }


def page(response) -> str:
    return response.get_data(as_text=True)
