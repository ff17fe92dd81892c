"""A small district for the staff-account tests: a coordinator of 鄂城区 above a street
with a team, a peer district beside it with its own team and coordinator, and an admin."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from volunteer_hub.extensions import db
from volunteer_hub.sms.models import OutgoingSms, SmsKind


@dataclass
class District:
    city: object
    district: object
    street: object
    other_district: object
    team: object
    other_team: object
    coordinator: object
    other_coordinator: object
    admin: object


@pytest.fixture
def district(make) -> District:
    city = make.unit("鄂州市")
    district = make.unit("鄂城区", parent=city)
    street = make.unit("凤凰街道", parent=district)
    other_district = make.unit("华容区", parent=city)
    return District(
        city=city,
        district=district,
        street=street,
        other_district=other_district,
        team=make.team(street, name="凤凰街道退役军人志愿服务队"),
        other_team=make.team(other_district, name="华容区长江卫士服务队"),
        coordinator=make.coordinator(district, name="鄂城区协调员"),
        other_coordinator=make.coordinator(other_district, name="华容区协调员"),
        admin=make.admin(name="市管理员"),
    )


def texts_to(phone: str) -> list[OutgoingSms]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(OutgoingSms)
            .where(OutgoingSms.to_phone == phone, OutgoingSms.kind == SmsKind.LOGIN_CODE)
            .order_by(OutgoingSms.id)
        )
    )


def reset_code_sent_to(phone: str) -> str:
    """The code as the person reads it, from the last reset text to ``phone``."""
    texts = texts_to(phone)
    assert texts, "no text to this phone"
    match = re.search(r"验证码 (\d{6})，", texts[-1].body)
    assert match, texts[-1].body
    return match.group(1)


def temporary_password_in(html: str) -> str:
    match = re.search(r'id="temporary-password">([a-z0-9]+)<', html)
    assert match, html[:2000]
    return match.group(1)
