"""The one rule of texted codes (texted_codes.py), as both of its uses rely on it: what a
new code voids, and that a stored code proves only what it was sent for."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests import factories
from volunteer_hub.auth import login_codes
from volunteer_hub.auth.models import LoginCode
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.people import phone_changes


def live_login_codes() -> set[int]:
    now = utcnow()
    rows = db.session.scalars(select(LoginCode))
    return {row.id for row in rows if login_codes.CODES.is_live(row, now)}


def test_a_new_code_voids_the_live_codes_of_that_person_only():
    first, other = factories.person(), factories.person()
    now = utcnow()
    old, _ = login_codes.CODES.issue(first.id, now)
    others, _ = login_codes.CODES.issue(other.id, now)
    new, _ = login_codes.CODES.issue(first.id, now)
    db.session.commit()
    assert old.id not in live_login_codes()
    assert live_login_codes() == {others.id, new.id}


def test_stored_code_proves_only_the_change_it_was_sent_for():
    person = factories.person()
    now = utcnow()
    sent, plain = phone_changes.CODES.issue(
        person.id, now, new_phone="+8613911112222", requested_by_id=person.id
    )
    # The same hash on a change to another number of the same person: the digits that
    # came back from the first number do not move the account to the second.
    copied, _ = phone_changes.CODES.issue(
        person.id, now, new_phone="+8613933334444", requested_by_id=person.id
    )
    copied.code_hash = sent.code_hash
    db.session.commit()
    with pytest.raises(phone_changes.WrongPhoneCode):
        phone_changes.CODES.check(copied, plain, now)
    # Nor do they log the person in, stored as a login code.
    login, _ = login_codes.CODES.issue(person.id, now)
    login.code_hash = sent.code_hash
    db.session.commit()
    with pytest.raises(login_codes.WrongLoginCode):
        login_codes.CODES.check(login, plain, now)


def test_a_used_code_is_dead_and_cannot_be_used_again():
    person = factories.person()
    now = utcnow()
    row, plain = login_codes.CODES.issue(person.id, now)
    login_codes.CODES.check(row, plain, now)
    login_codes.CODES.use(row, now)
    db.session.commit()
    db.session.refresh(row)
    assert not login_codes.CODES.is_live(row, now)
    with pytest.raises(login_codes.LoginCodeExpired):
        login_codes.CODES.check(row, plain, now)
    with pytest.raises(login_codes.LoginCodeExpired):
        login_codes.CODES.use(row, now)
