"""Fixtures for the member-consent tests: the leader web's world, the signed SMS webhook
and the API client, reused from where they live."""

from __future__ import annotations

import re

from sqlalchemy import select

from tests.api.conftest import api, openapi  # noqa: F401 (fixtures)
from tests.sms.conftest import sms_webhook  # noqa: F401 (fixture)
from tests.web.conftest import world  # noqa: F401 (fixture)
from volunteer_hub.extensions import db
from volunteer_hub.sms.models import OutgoingSms
from volunteer_hub.teams.models import Membership


def texts_to(phone: str) -> list[OutgoingSms]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            select(OutgoingSms).where(OutgoingSms.to_phone == phone).order_by(OutgoingSms.id)
        )
    )


def code_sent_to(phone: str) -> str:
    """The code in the last text to ``phone`` (a phone change's, a login's)."""
    texts = texts_to(phone)
    assert texts, f"no text to {phone}"
    match = re.search(r"验证码 (\d{6})", texts[-1].body)
    assert match, texts[-1].body
    return match.group(1)


def team_ids_of(person_id: int) -> set[int]:
    db.session.expire_all()
    return set(
        db.session.scalars(select(Membership.team_id).where(Membership.person_id == person_id))
    )


def join(team, person, role: str = "member") -> None:
    """Put an existing person on a team directly, as the test's given state."""
    db.session.add(Membership(team_id=team.id, person_id=person.id, role=role))
    db.session.commit()


def masked(e164: str) -> str:
    national = e164.removeprefix("+86")
    return f"{national[:3]}****{national[-4:]}"


def spaced(e164: str) -> str:
    national = e164.removeprefix("+86")
    return f"{national[:3]} {national[3:7]} {national[7:]}"
