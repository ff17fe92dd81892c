"""A forgotten staff password, reset by a code texted to the account's phone."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.auth.conftest import reset_code_sent_to
from tests.conftest import login
from tests.factories import PASSWORD
from tests.volunteers.conftest import login_texts
from volunteer_hub.audit.services import entries_about
from volunteer_hub.auth.login_codes import request_code
from volunteer_hub.auth.models import PasswordReset
from volunteer_hub.auth.password_resets import (
    CODES,
    request_reset,
    reset_password,
)
from volunteer_hub.auth.services import authenticate
from volunteer_hub.db import utcnow
from volunteer_hub.errors import ValidationFailed
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.sms.models import OutgoingSms
from volunteer_hub.sms.services import opt_out

NEW_PASSWORD = "a-new-password-7"


@pytest.fixture
def leader(make):
    return make.leader(make.team(), name="张队长", phone="+8613900001111")


def counts() -> tuple[int, int]:
    return (
        db.session.scalar(select(func.count()).select_from(PasswordReset)),
        db.session.scalar(select(func.count()).select_from(OutgoingSms)),
    )


def test_leader_resets_a_forgotten_password_with_the_texted_code(client, app, leader):
    other_device = app.test_client()
    login(other_device, leader)
    login_page = client.get("/login").get_data(as_text=True)
    assert 'href="/password/forgot"' in login_page

    response = client.post("/password/forgot", data={"phone": "139 0000 1111"})
    assert response.status_code == 302 and response.headers["Location"] == "/password/reset"
    (text,) = login_texts(leader.id)
    code = reset_code_sent_to(leader.id)
    assert text.body == (
        f"【退役军人志愿服务】您正在重置志愿服务平台的登录密码，验证码 {code}，"
        "10分钟内有效。如非本人操作请忽略。"
    )
    assert text.template_key == "password_reset_code"
    stored = db.session.scalar(select(PasswordReset).where(PasswordReset.person_id == leader.id))
    assert code not in stored.code_hash
    assert stored.code_hash != hashlib.sha256(code.encode()).hexdigest()
    assert stored.expires_at - stored.created_at == timedelta(minutes=10)
    reset_page = client.get("/password/reset").get_data(as_text=True)
    assert "139****1111" in reset_page and "13900001111" not in reset_page

    response = client.post("/password/reset", data={"code": code, "new_password": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert other_device.get("/teams").status_code == 302  # every session has ended
    assert authenticate(leader.phone, PASSWORD) is None
    assert authenticate(leader.phone, NEW_PASSWORD).id == leader.id
    assert [e.action for e in entries_about("person", leader.id)] == [
        "account.password_reset_by_code"
    ]
    # The code is spent.
    again = client.post("/password/reset", data={"code": code, "new_password": "another-one-8"})
    assert again.status_code == 302 and again.headers["Location"] == "/password/forgot"
    with pytest.raises(CODES.expired):
        reset_password(leader.phone, code, "another-one-8")


def test_the_answer_does_not_tell_whether_the_number_is_a_staff_account(client, make, leader):
    volunteer = make.person(phone="+8613900002222")  # no password, no role
    gone = make.leader(make.team(), phone="+8613900003333", is_active=False)
    quiet = make.leader(make.team(), phone="+8613900004444")
    opt_out(quiet.id, channel="sms")
    db.session.commit()

    def ask(phone: str) -> tuple[int, str, str]:
        fresh = client.application.test_client()
        response = fresh.post("/password/forgot", data={"phone": phone})
        page = fresh.get("/password/reset").get_data(as_text=True)
        # The number typed is on the page, masked; blank it to compare the rest.
        masked = f"{phone[3:6]}****{phone[-4:]}"
        return response.status_code, response.headers.get("Location"), page.replace(masked, "")

    known = ask(leader.phone)
    before = counts()
    for phone in ("+8613900009999", volunteer.phone, gone.phone, quiet.phone):
        assert ask(phone) == known, phone
    assert counts() == before  # nothing written, nothing sent for any of them


def test_a_malformed_phone_is_a_form_error_in_chinese(client):
    response = client.post("/password/forgot", data={"phone": "12345"})
    assert response.status_code == 400
    assert "手机号码无效：12345" in response.get_data(as_text=True)
    assert counts() == (0, 0)


def test_wrong_codes_are_counted_and_the_fifth_kills_the_code(leader):
    request_reset(leader.phone)
    code = reset_code_sent_to(leader.id)
    wrong = "000000" if code != "000000" else "111111"
    for tries_left in (4, 3, 2, 1):
        with pytest.raises(CODES.wrong) as error:
            reset_password(leader.phone, wrong, NEW_PASSWORD)
        assert f"还可以再试 {tries_left} 次" in error.value.message
    with pytest.raises(CODES.expired) as error:
        reset_password(leader.phone, wrong, NEW_PASSWORD)
    assert "输错次数太多" in error.value.message
    with pytest.raises(CODES.expired):
        reset_password(leader.phone, code, NEW_PASSWORD)  # even the right one, now
    assert authenticate(leader.phone, PASSWORD) is not None


def test_a_code_expires_after_ten_minutes(leader):
    start = utcnow()
    request_reset(leader.phone, now=start)
    code = reset_code_sent_to(leader.id)
    with pytest.raises(CODES.expired):
        reset_password(leader.phone, code, NEW_PASSWORD, now=start + timedelta(minutes=10))
    assert (
        reset_password(leader.phone, code, NEW_PASSWORD, now=start + timedelta(minutes=9)).id
        == leader.id
    )


def test_a_login_code_is_no_reset_code_and_a_newer_code_voids_the_older(leader):
    request_code(leader.phone)  # a volunteer's login code for the same person
    login_text = db.session.scalars(select(OutgoingSms.body)).one()
    login_code = login_text.split("验证码是 ")[1][:6]
    request_reset(leader.phone)
    first = reset_code_sent_to(leader.id)
    request_reset(leader.phone)
    second = reset_code_sent_to(leader.id)
    for stale in {login_code, first} - {second}:
        with pytest.raises(CODES.wrong):
            reset_password(leader.phone, stale, NEW_PASSWORD)
    assert reset_password(leader.phone, second, NEW_PASSWORD).id == leader.id


def test_a_short_password_is_refused_without_spending_a_try(client, leader):
    client.post("/password/forgot", data={"phone": leader.phone})
    code = reset_code_sent_to(leader.id)
    response = client.post("/password/reset", data={"code": code, "new_password": "short"})
    assert response.status_code == 400
    assert "密码至少 8 位" in response.get_data(as_text=True)
    with pytest.raises(ValidationFailed):
        reset_password(leader.phone, "000000", "short")
    db.session.expire_all()
    assert db.session.scalars(select(PasswordReset.failed_attempts)).one() == 0
    response = client.post("/password/reset", data={"code": code, "new_password": NEW_PASSWORD})
    assert response.status_code == 302


def test_a_reset_clears_the_first_login_requirement(leader):
    db.session.get(Person, leader.id).must_set_password = True
    db.session.commit()
    request_reset(leader.phone)
    person = reset_password(leader.phone, reset_code_sent_to(leader.id), NEW_PASSWORD)
    assert not person.must_set_password


def test_code_requests_are_rate_limited_per_number(client, leader):
    # LOGIN_CODE_RATE_LIMIT: 3 per 10 minutes, whatever the way the number is written.
    statuses = [
        client.post("/password/forgot", data={"phone": phone}).status_code
        for phone in ("13900001111", "139 0000 1111", "+8613900001111", "13900001111")
    ]
    assert statuses == [302, 302, 302, 429]
    assert len(login_texts(leader.id)) == 3


def test_reset_page_without_a_request_goes_back_to_the_first_step(client):
    response = client.get("/password/reset")
    assert response.status_code == 302 and response.headers["Location"] == "/password/forgot"
