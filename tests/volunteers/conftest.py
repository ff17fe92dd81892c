"""Fixtures for the volunteer pages: two teams, a volunteer in one of them, and the way
a volunteer logs in, by reading the code from the texted message in the outbox."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from volunteer_hub.extensions import db
from volunteer_hub.sms.models import OutgoingSms, SmsKind


@dataclass
class Teams:
    team_a: object
    team_b: object
    volunteer: object
    other: object
    leader_a: object
    leader_b: object
    event_a: object
    event_b: object


@pytest.fixture
def teams(make) -> Teams:
    team_a = make.team(name="凤凰街道退役军人志愿服务队")
    team_b = make.team(name="华容区长江卫士服务队")
    return Teams(
        team_a=team_a,
        team_b=team_b,
        volunteer=make.member(team_a, name="王建国", phone="+8613800138000"),
        other=make.member(team_a, name="刘志强"),
        leader_a=make.leader(team_a, name="张队长"),
        leader_b=make.leader(team_b, name="李队长"),
        event_a=make.event(team_a, shifts=2, title="护苗护学", capacity=2, location="凤凰小学门口"),
        event_b=make.event(team_b, shifts=1, title="长江巡堤", location="华容区江堤"),
    )


def login_texts(person_id: int) -> list[OutgoingSms]:
    return list(
        db.session.scalars(
            select(OutgoingSms)
            .where(OutgoingSms.person_id == person_id, OutgoingSms.kind == SmsKind.LOGIN_CODE)
            .order_by(OutgoingSms.id)
        )
    )


def code_from_outbox(person_id: int) -> str:
    """The code as the volunteer reads it: from the last login text we queued for them."""
    db.session.expire_all()
    texts = login_texts(person_id)
    assert texts, "no login text in the outbox"
    match = re.search(r"验证码是 (\d{6})，", texts[-1].body)
    assert match, texts[-1].body
    return match.group(1)


def me_login(client, person, phone: str | None = None):
    response = client.post("/me/login", data={"phone": phone or person.phone})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert response.headers["Location"] == "/me/login/code"
    response = client.post("/me/login/code", data={"code": code_from_outbox(person.id)})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert response.headers["Location"] == "/me"
    return response


def page(response) -> str:
    return response.get_data(as_text=True)
