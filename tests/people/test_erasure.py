"""Erasure (PIPL): an admin erases a volunteer's personal data on request. Name and phone
replaced, skills cleared, consent records kept, hours kept anonymously in the totals; no
login and no text afterwards; a confirmation step; audited without the erased data."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.auth.test_sessions import refused_volunteer
from tests.conftest import login
from tests.hours.support import (
    AFTER,
    HOUR,
    START,
    expected_rollup_rows,
    rollup_rows,
    shift_with_people,
    team_rollup_rows,
)
from tests.volunteers.conftest import me_login
from tests.web.conftest import page
from volunteer_hub.audit.models import AuditEntry
from volunteer_hub.auth.models import LoginCode
from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.auth.services import token_and_viewer
from volunteer_hub.extensions import db
from volunteer_hub.hours import attendance, rollups, verification
from volunteer_hub.hours.models import ServiceRecord
from volunteer_hub.people.erasure import ERASED_NAME, ErasureRefused, erase_person
from volunteer_hub.people.models import Person
from volunteer_hub.people.skills import PersonSkill, set_skills
from volunteer_hub.signups.models import Signup
from volunteer_hub.signups.services import sign_up
from volunteer_hub.sms import replies
from volunteer_hub.sms.models import ConsentChange, OutgoingSms, SmsKind
from volunteer_hub.sms.services import opt_in, opt_out, queue_text
from volunteer_hub.teams.models import Membership
from volunteer_hub.teams.services import add_member


def erase(admin, person) -> Person:
    erase_person(viewer_for(admin), person.id)
    db.session.commit()
    db.session.expire_all()
    return db.session.get(Person, person.id)


def notice(phone: str, person_id: int, dedupe_key: str) -> OutgoingSms | None:
    return queue_text(
        to_phone=phone,
        text=replies.team_invitation(team="某队"),
        kind=SmsKind.NOTICE,
        dedupe_key=dedupe_key,
        person_id=person_id,
    )


def test_name_phone_and_skills_are_replaced_and_consent_records_kept(world, make):
    person = world.member_a
    person.skills = "驾驶、急救"
    set_skills(person.id, ["驾驶", "急救"])
    opt_out(person.id, channel="sms", keyword="TD")
    opt_in(person.id, channel="sms", keyword="订阅")
    db.session.commit()
    old_phone = person.phone
    erased = erase(make.admin(), person)
    assert erased.name == ERASED_NAME
    assert erased.phone == f"erased:{person.id}" and erased.phone != old_phone
    assert erased.skills == "" and erased.password_hash is None and not erased.is_active
    assert (
        db.session.scalars(select(PersonSkill).where(PersonSkill.person_id == person.id)).all()
        == []
    )
    consent = db.session.execute(
        select(ConsentChange.opted_in, ConsentChange.channel, ConsentChange.keyword)
        .where(ConsentChange.person_id == person.id)
        .order_by(ConsentChange.id)
    ).all()
    assert consent == [(False, "sms", "TD"), (True, "sms", "订阅"), (False, "erasure", None)]
    # Out of every team; their phone is free for someone new.
    assert (
        db.session.scalars(select(Membership).where(Membership.person_id == person.id)).all() == []
    )
    newcomer = add_member(world.team_a.id, "新队员", old_phone)
    db.session.commit()
    assert newcomer.person_id != person.id


def test_the_audit_entry_holds_no_erased_data(world, make):
    admin = make.admin()
    name, phone = world.member_a.name, world.member_a.phone
    erase(admin, world.member_a)
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "person.erased"))
    assert (entry.actor_id, entry.subject_id) == (admin.id, world.member_a.id)
    text = json.dumps(entry.details, ensure_ascii=False)
    assert name not in text and phone.removeprefix("+86") not in text


def test_hours_stay_in_the_totals_anonymously(make):
    team, shift, people = shift_with_people(people=3)
    leader = viewer_for(make.leader(team))
    attendance.mark_all_attended(shift.id, viewer=leader, now=START + 3 * HOUR)
    db.session.commit()
    verification.verify(
        db.session.scalars(select(ServiceRecord.id)).all(), viewer=leader, now=AFTER
    )
    db.session.commit()
    rollups.rebuild_all()
    db.session.commit()
    person_rows, team_rows = rollup_rows(), team_rollup_rows()
    assert len(person_rows) == 3

    erase(make.admin(), people[0])

    assert rollup_rows() == person_rows == expected_rollup_rows()
    assert team_rollup_rows() == team_rows
    assert rollups.rebuild_all().changed == 0
    db.session.rollback()


def test_no_login_of_any_kind_afterwards(app, client, world, make):
    volunteers_phone = app.test_client()
    me_login(volunteers_phone, world.member_a)
    token = make.api_token(world.member_a)
    erase(make.admin(), world.member_a)
    assert refused_volunteer(volunteers_phone)
    assert token_and_viewer(token) is None
    # The old number logs nobody in: no code is made for the erased person.
    client.post("/me/login", data={"phone": world.member_a.phone})
    assert (
        db.session.scalars(select(LoginCode).where(LoginCode.person_id == world.member_a.id)).all()
        == []
    )


def test_no_texts_afterwards_and_waiting_ones_are_cancelled(world, make):
    person = world.member_a
    waiting = notice(person.phone, person.id, "test:waiting")
    event = make.event(world.team_a, shifts=1)
    signup = sign_up(make.shifts_of(event)[0].id, person.id, "sms").signup
    db.session.commit()
    old_phone = person.phone
    erased = erase(make.admin(), person)
    assert db.session.get(OutgoingSms, waiting.id).status == "cancelled"
    assert db.session.get(Signup, signup.id).status == "cancelled"
    assert notice(erased.phone, person.id, "test:later") is None
    # No row of the outbox keeps the number.
    assert (
        db.session.scalars(select(OutgoingSms).where(OutgoingSms.to_phone == old_phone)).all() == []
    )


def test_only_admins_erase_and_never_an_admin(world, make):
    from volunteer_hub.errors import NotFound

    with pytest.raises(NotFound):
        erase_person(viewer_for(world.coordinator_x), world.member_a.id)
    with pytest.raises(ErasureRefused):
        erase_person(viewer_for(make.admin()), make.admin().id)


# -- the pages ---------------------------------------------------------------------------


def test_erasure_needs_the_confirmation(client, world, make):
    login(client, make.admin())
    html = page(client.get(f"/people/{world.member_a.id}/erase"))
    assert "删除个人信息" in html and "此操作无法撤销" in html
    response = client.post(f"/people/{world.member_a.id}/erase", data={})
    assert response.status_code == 400
    assert "请先勾选确认，再删除个人信息" in page(response)
    db.session.expire_all()
    assert db.session.get(Person, world.member_a.id).name == "王建国"
    response = client.post(
        f"/people/{world.member_a.id}/erase", data={"confirmed": "y"}, follow_redirects=True
    )
    html = page(response)
    assert "已删除此人的个人信息" in html and "个人信息已删除" in html
    assert "王建国" not in html and "（已删除）" in html


def test_coordinators_cannot_reach_erasure(client, world):
    login(client, world.coordinator_x)
    assert client.get(f"/people/{world.member_a.id}/erase").status_code == 404
    assert (
        client.post(f"/people/{world.member_a.id}/erase", data={"confirmed": "y"}).status_code
        == 404
    )
