"""An opt-out texted from a number nobody has (TD, 退订, STOP …) holds for the number:
whoever is later given it — a member a leader adds, a roster row, an API sign-up, a new
staff account — starts opted out, with the opt-out in their consent record, and gets no
text; a phone change to it is refused, since its code could not be sent; an opt-in of
the number, before or after, lifts it; erasing the person forgets it.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import login
from tests.roster.conftest import run, xlsx
from tests.sms.helpers import deliver_all
from tests.teams.conftest import texts_to
from tests.web.conftest import page
from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.auth.services import create_user
from volunteer_hub.auth.staff import create_account
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.people.erasure import erase_person
from volunteer_hub.people.models import Person
from volunteer_hub.people.services import get_or_create_person
from volunteer_hub.signups.services import find_or_create_person
from volunteer_hub.sms import replies
from volunteer_hub.sms.models import ConsentChange, OptedOutNumber, OutgoingSms, SmsKind, SmsStatus
from volunteer_hub.sms.services import queue_text

NUMBER = "+8613977770001"
TYPED = "139 7777 0001"


def person_with(phone: str = NUMBER) -> Person:
    db.session.expire_all()
    return db.session.scalar(select(Person).where(Person.phone == phone))


def number_row(phone: str = NUMBER) -> OptedOutNumber | None:
    db.session.expire_all()
    return db.session.get(OptedOutNumber, phone)


def consent_of(person_id: int) -> list[tuple[bool, str, str | None]]:
    return [
        (row.opted_in, row.channel, row.keyword)
        for row in db.session.scalars(
            select(ConsentChange)
            .where(ConsentChange.person_id == person_id)
            .order_by(ConsentChange.id)
        )
    ]


def a_notice(person: Person, key: str) -> OutgoingSms | None:
    """What any notice to the person meets in the outbox."""
    row = queue_text(
        to_phone=person.phone,
        text=replies.help_text(),
        kind=SmsKind.NOTICE,
        dedupe_key=key,
        person_id=person.id,
    )
    db.session.commit()
    return row


def not_confirmations(phone: str = NUMBER) -> list[OutgoingSms]:
    return [t for t in texts_to(phone) if t.kind != SmsKind.OPT_OUT_CONFIRMATION]


def assert_opted_out_since_the_number(person: Person, keyword: str = "TD") -> None:
    row = number_row(person.phone)
    assert row is not None
    assert person.sms_opted_out_at == row.opted_out_at
    assert consent_of(person.id) == [(False, "sms", keyword)]
    changed_at = db.session.scalar(
        select(ConsentChange.changed_at).where(ConsentChange.person_id == person.id)
    )
    assert changed_at == row.opted_out_at  # when the number said stop, for a regulator


def add_member(client, team, phone: str = TYPED, name: str = "黄继光"):
    return client.post(
        f"/teams/{team.id}/members",
        data={"name": name, "phone": phone, "role": "member", "skills": ""},
        follow_redirects=True,
    )


def test_the_opt_out_is_confirmed_and_remembered_for_the_number(client, sms_webhook):
    reply = sms_webhook(client, NUMBER, "退订")
    assert reply is not None and "您已退订" in reply
    row = number_row()
    assert (row.channel, row.keyword) == ("sms", "退订")
    (confirmation,) = texts_to(NUMBER)
    assert confirmation.kind == SmsKind.OPT_OUT_CONFIRMATION
    # Texted again: still confirmed, the first time and word kept.
    first = row.opted_out_at
    assert "您已退订" in sms_webhook(client, NUMBER, "TD")
    assert (number_row().opted_out_at, number_row().keyword) == (first, "退订")
    # Anything else from the number gets no answer now, not even the way to join.
    assert sms_webhook(client, NUMBER, "帮助") is None


def test_texts_to_the_number_without_a_person_are_refused_and_cancelled(client, sms_webhook):
    def reply(key: str) -> OutgoingSms | None:  # a reply held for the quiet hours, say
        row = queue_text(
            to_phone=NUMBER,
            text=replies.unknown_number(),
            kind=SmsKind.REPLY,
            dedupe_key=key,
            send_after=utcnow() + timedelta(hours=8),
        )
        db.session.commit()
        return row

    waiting = reply("number-opt-out:waiting")
    assert waiting.status == SmsStatus.QUEUED
    sms_webhook(client, NUMBER, "TD")
    db.session.expire_all()
    assert db.session.get(OutgoingSms, waiting.id).status == SmsStatus.CANCELLED
    assert reply("number-opt-out:later") is None


def test_a_member_a_leader_adds_with_the_number_starts_opted_out(client, world, sms_webhook):
    sms_webhook(client, NUMBER, "TD")
    login(client, world.leader_a)
    assert "已添加队员：黄继光" in page(add_member(client, world.team_a))
    person = person_with()
    assert_opted_out_since_the_number(person)
    assert a_notice(person, "number-opt-out:notice") is None
    assert not_confirmations() == []
    login(client, world.coordinator_x)
    html = page(client.get(f"/people/{person.id}"))
    assert "已退订" in html


def test_a_roster_row_with_the_number_starts_opted_out(client, make, sms_webhook):
    sms_webhook(client, NUMBER, "STOP")
    team = make.team()
    leader = make.leader(team)
    content = xlsx(("Sheet1", [["姓名", "手机号"], ["新人甲", TYPED], ["新人乙", "13977770002"]]))
    run(content, leader, team.id)
    person = person_with()
    assert_opted_out_since_the_number(person, keyword="STOP")
    assert a_notice(person, "number-opt-out:roster") is None
    assert not_confirmations() == []
    # The other row's number said nothing: that person takes texts.
    other = person_with("+8613977770002")
    assert other.sms_opted_out_at is None and consent_of(other.id) == []
    assert a_notice(other, "number-opt-out:other") is not None


def test_an_api_sign_up_of_the_number_registers_them_opted_out(client, api, make, sms_webhook):
    sms_webhook(client, NUMBER, "TD")
    team = make.team()
    shift = make.shifts_of(make.event(team, capacity=3))[0]
    answer = api.as_(make.coordinator(team.unit)).post(
        f"/api/v1/shifts/{shift.id}/signups", json={"phone": TYPED, "name": "新人"}
    )
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["status"] == "confirmed"
    person = person_with()
    assert_opted_out_since_the_number(person)
    # No sign-up notice, nor any other text, goes to them.
    assert not_confirmations() == []
    assert a_notice(person, "number-opt-out:api") is None


def test_a_new_person_on_a_full_shift_registers_opted_out(client, api, make, sms_webhook):
    team = make.team()
    shift = make.shifts_of(make.event(team, capacity=1))[0]
    as_coordinator = api.as_(make.coordinator(team.unit))
    as_coordinator.post(
        f"/api/v1/shifts/{shift.id}/signups", json={"phone": "13900001001", "name": "先来"}
    )
    sms_webhook(client, NUMBER, "TD")
    answer = as_coordinator.post(
        f"/api/v1/shifts/{shift.id}/signups", json={"phone": TYPED, "name": "后到"}
    )
    assert answer.status_code == 201, answer.get_json()
    assert answer.get_json()["status"] == "waitlisted"
    assert_opted_out_since_the_number(person_with())
    assert not_confirmations() == []


def test_the_other_ways_of_registering_start_opted_out_too(client, sms_webhook):
    sms_webhook(client, NUMBER, "TD")
    sms_webhook(client, "+8613977770003", "R")
    _found, created = find_or_create_person("新人", TYPED)
    _made, made_now = get_or_create_person("又一人", "13977770003")
    db.session.commit()
    assert created and made_now
    assert_opted_out_since_the_number(person_with())
    assert_opted_out_since_the_number(person_with("+8613977770003"), keyword="R")


def test_staff_accounts_given_the_number_start_opted_out(client, make, sms_webhook):
    sms_webhook(client, NUMBER, "TD")
    sms_webhook(client, "+8613977770004", "退订")
    team = make.team()
    made = create_account(
        viewer_for(make.admin()), name="新队长", phone=TYPED, role="leader", team_ids=[team.id]
    )
    scripted = create_user("13977770004", "新协调员", "coordinator", unit_id=team.unit_id)
    db.session.commit()
    assert made.person_id == person_with().id
    assert_opted_out_since_the_number(person_with())
    assert_opted_out_since_the_number(person_with("+8613977770004"), keyword="退订")
    assert a_notice(scripted, "number-opt-out:staff") is None


def test_an_opt_in_before_registering_lifts_it(client, world, sms_webhook):
    sms_webhook(client, NUMBER, "TD")
    reply = sms_webhook(client, NUMBER, "订阅")
    assert reply is not None and "恢复接收" in reply
    assert number_row() is None
    login(client, world.leader_a)
    add_member(client, world.team_a)
    person = person_with()
    assert person.sms_opted_out_at is None and consent_of(person.id) == []
    assert a_notice(person, "number-opt-out:after-opt-in") is not None
    # An opt-in from a number that never opted out is still told the way to join.
    assert "尚未登记" in sms_webhook(client, "+8613977770009", "订阅")


def test_an_opt_in_after_registering_lifts_it(client, world, sms_webhook):
    sms_webhook(client, NUMBER, "TD")
    login(client, world.leader_a)
    add_member(client, world.team_a)
    person = person_with()
    assert a_notice(person, "number-opt-out:before") is None
    reply = sms_webhook(client, NUMBER, "START")
    assert reply is not None and "恢复接收" in reply
    assert number_row() is None
    person = person_with()
    assert person.sms_opted_out_at is None
    assert consent_of(person.id) == [(False, "sms", "TD"), (True, "sms", "START")]
    assert a_notice(person, "number-opt-out:after") is not None


def test_erasing_the_person_forgets_the_number(client, world, make, sms_webhook):
    sms_webhook(client, NUMBER, "TD")
    login(client, world.leader_a)
    add_member(client, world.team_a)
    person = person_with()
    erase_person(viewer_for(make.admin()), person.id)
    db.session.commit()
    assert number_row() is None


def test_a_person_made_any_other_way_still_gets_no_text(client, make, sms_webhook):
    # The test factory writes the person itself, as a path that knows nothing of numbers
    # (a script, a new way of registering) would: the number is still refused, where
    # the text is queued and again before it is handed over.
    sms_webhook(client, NUMBER, "TD")
    person = make.member(make.team(), phone=NUMBER)
    assert a_notice(person, "number-opt-out:factory") is None
    written = OutgoingSms(
        person_id=person.id,
        to_phone=NUMBER,
        body="written straight into the outbox",
        kind=SmsKind.NOTICE,
        dedupe_key="number-opt-out:direct",
        status=SmsStatus.QUEUED,
    )
    db.session.add(written)
    db.session.commit()
    deliver_all()
    db.session.expire_all()
    row = db.session.get(OutgoingSms, written.id)
    assert (row.status, row.error_message) == (SmsStatus.CANCELLED, "recipient opted out")


def test_a_phone_change_to_the_number_is_refused_until_it_rejoins(client, make, sms_webhook):
    from volunteer_hub.people import phone_changes

    person = make.person()
    db.session.commit()
    sms_webhook(client, NUMBER, "TD")
    with pytest.raises(phone_changes.PhoneChangeError, match="订阅"):
        phone_changes.start(person.id, TYPED, requested_by_id=None)
    db.session.rollback()
    assert not_confirmations() == []  # no code was sent to a number that said stop

    sms_webhook(client, NUMBER, "订阅")
    phone_changes.start(person.id, TYPED, requested_by_id=None)
    db.session.commit()
    assert [text.kind for text in not_confirmations()] == [SmsKind.REPLY, SmsKind.LOGIN_CODE]


def test_a_second_opt_out_of_the_number_changes_nothing(client):
    from volunteer_hub.sms import number_opt_outs

    first = number_opt_outs.remember(NUMBER, channel="sms", keyword="TD", now=utcnow())
    again = number_opt_outs.remember(NUMBER, channel="sms", keyword="退订", now=utcnow())
    assert (first, again) == (True, False)
    assert number_row().keyword == "TD"
