"""Volunteers log in with a texted one-time code."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import login
from tests.volunteers.conftest import code_from_outbox, login_texts, me_login, page
from volunteer_hub.auth.login_codes import (
    LoginCodeExpired,
    WrongLoginCode,
    request_code,
    verify_code,
)
from volunteer_hub.auth.models import LoginCode
from volunteer_hub.db import utcnow
from volunteer_hub.extensions import db
from volunteer_hub.i18n import to_local
from volunteer_hub.sms.models import OutgoingSms
from volunteer_hub.sms.services import opt_out


def counts() -> tuple[int, int]:
    return (
        db.session.scalar(select(func.count()).select_from(LoginCode)),
        db.session.scalar(select(func.count()).select_from(OutgoingSms)),
    )


def test_volunteer_logs_in_with_the_texted_code(client, teams):
    volunteer = teams.volunteer
    response = client.post("/me/login", data={"phone": "138 0013 8000"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/me/login/code"

    (text,) = login_texts(volunteer.id)
    code = code_from_outbox(volunteer.id)
    assert text.to_phone == "+8613800138000"
    assert text.body == (
        f"【退役军人志愿服务】您的登录验证码是 {code}，10分钟内有效。如非本人操作请忽略。"
    )
    assert text.dedupe_key.startswith("login-code:")
    stored = db.session.scalar(select(LoginCode).where(LoginCode.person_id == volunteer.id))
    # Only a keyed hash is kept: neither the code nor its plain SHA-256.
    assert code not in stored.code_hash
    assert stored.code_hash != hashlib.sha256(code.encode()).hexdigest()
    assert stored.expires_at - stored.created_at == timedelta(minutes=10)

    code_page = page(client.get("/me/login/code"))
    assert 'inputmode="numeric"' in code_page
    assert 'autocomplete="one-time-code"' in code_page
    assert "138****8000" in code_page and "13800138000" not in code_page

    response = client.post("/me/login/code", data={"code": f" {code[:3]} {code[3:]} "})
    assert response.status_code == 302
    assert response.headers["Location"] == "/me"
    home = page(client.get("/me"))
    assert "王建国" in home and "138 0013 8000" in home
    db.session.expire_all()
    assert db.session.get(LoginCode, stored.id).used_at is not None


def test_code_expires_after_ten_minutes(teams):
    start = utcnow()
    request_code(teams.volunteer.phone, now=start)
    db.session.commit()
    code = code_from_outbox(teams.volunteer.id)
    with pytest.raises(LoginCodeExpired) as error:
        verify_code(teams.volunteer.phone, code, now=start + timedelta(minutes=10))
    assert "验证码已失效" in error.value.message

    request_code(teams.volunteer.phone, now=start)
    db.session.commit()
    code = code_from_outbox(teams.volunteer.id)
    person = verify_code(teams.volunteer.phone, code, now=start + timedelta(minutes=9, seconds=59))
    assert person.id == teams.volunteer.id


def test_code_is_good_for_one_login_only(teams):
    request_code(teams.volunteer.phone)
    db.session.commit()
    code = code_from_outbox(teams.volunteer.id)
    assert verify_code(teams.volunteer.phone, code).id == teams.volunteer.id
    db.session.commit()
    with pytest.raises(LoginCodeExpired):
        verify_code(teams.volunteer.phone, code)


def test_a_new_request_voids_the_earlier_code(teams):
    request_code(teams.volunteer.phone)
    db.session.commit()
    first = code_from_outbox(teams.volunteer.id)
    request_code(teams.volunteer.phone)
    db.session.commit()
    second = code_from_outbox(teams.volunteer.id)
    if first != second:  # one time in a million they are the same six digits
        with pytest.raises(WrongLoginCode):
            verify_code(teams.volunteer.phone, first)
        db.session.commit()
    assert verify_code(teams.volunteer.phone, second).id == teams.volunteer.id
    assert len(login_texts(teams.volunteer.id)) == 2


def test_five_wrong_tries_kill_the_code(teams):
    request_code(teams.volunteer.phone)
    db.session.commit()
    code = code_from_outbox(teams.volunteer.id)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for left in (4, 3, 2, 1):
        with pytest.raises(WrongLoginCode) as error:
            verify_code(teams.volunteer.phone, wrong)
        assert f"还可以再试 {left} 次" in error.value.message
        db.session.rollback()  # the try was committed by the service; a rollback keeps it
    with pytest.raises(LoginCodeExpired) as error:
        verify_code(teams.volunteer.phone, wrong)
    assert "输错次数太多" in error.value.message
    db.session.rollback()
    with pytest.raises(LoginCodeExpired):
        verify_code(teams.volunteer.phone, code)  # the right code, too late
    assert db.session.scalar(select(LoginCode.failed_attempts)) == 5


def test_malformed_code_is_refused_without_counting_a_try(teams):
    request_code(teams.volunteer.phone)
    db.session.commit()
    for typed in ("", "12345", "abcdef", "1234567"):
        with pytest.raises(WrongLoginCode) as error:
            verify_code(teams.volunteer.phone, typed)
        assert "6位数字" in error.value.message
    assert db.session.scalar(select(LoginCode.failed_attempts)) == 0
    # Full-width digits, as some Chinese keyboards type them, are the same code.
    code = code_from_outbox(teams.volunteer.id)
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in code)
    assert verify_code(teams.volunteer.phone, full_width).id == teams.volunteer.id


def test_two_verifications_at_once_only_one_wins(app, teams):
    request_code(teams.volunteer.phone)
    db.session.commit()
    code = code_from_outbox(teams.volunteer.id)
    phone = teams.volunteer.phone
    db.session.commit()  # on SQLite an open transaction here would hold the write lock
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt():
        with app.app_context():
            barrier.wait()
            try:
                verify_code(phone, code)
                db.session.commit()
                outcome = "won"
            except LoginCodeExpired:
                db.session.rollback()
                outcome = "lost"
            finally:
                db.session.remove()
            with lock:
                outcomes.append(outcome)

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["lost", "won"]


def test_unknown_number_looks_the_same_and_writes_nothing(client, teams):
    known = client.post("/me/login", data={"phone": teams.volunteer.phone})
    known_page = page(client.get("/me/login/code"))
    before = counts()
    stranger = client.application.test_client()
    unknown = stranger.post("/me/login", data={"phone": "13912345678"})
    unknown_page = page(stranger.get("/me/login/code"))
    assert (unknown.status_code, unknown.headers["Location"]) == (
        known.status_code,
        known.headers["Location"],
    )
    assert unknown_page.replace("139****5678", "X") == known_page.replace("138****8000", "X")
    assert counts() == before
    # Guessing codes for it gives the answer a known number without a live code gets.
    response = stranger.post("/me/login/code", data={"code": "123456"})
    assert response.status_code == 400
    assert "验证码已失效" in page(response)
    assert counts() == before


def test_opted_out_person_is_told_to_text_subscribe_and_gets_nothing(client, teams):
    opt_out(teams.volunteer.id, channel="sms", keyword="TD")
    db.session.commit()
    before = counts()
    response = client.post("/me/login", data={"phone": teams.volunteer.phone})
    assert response.status_code == 200
    assert "订阅" in page(response) and "收不到验证码" in page(response)
    assert counts() == before
    assert request_code(teams.volunteer.phone).opted_out is True


@pytest.mark.parametrize(
    ("sender", "shown"),
    [("+8610690000123", "106 9000 0123"), ("+12025550123", "+1 202-555-0123"), (None, None)],
)
def test_the_opted_out_page_names_the_number_to_text(
    app, client, teams, monkeypatch, sender, shown
):
    monkeypatch.setitem(app.config, "TWILIO_FROM_NUMBER", sender)
    opt_out(teams.volunteer.id, channel="sms", keyword="TD")
    db.session.commit()
    html = page(client.post("/me/login", data={"phone": teams.volunteer.phone}))
    if shown:
        assert f"发送短信「订阅」到 {shown}" in html
    else:
        assert "回复「订阅」到我们发给您的任意一条短信" in html
    assert "到服务号码" not in html


def test_bad_phone_gets_a_chinese_error_and_changes_nothing(client, teams):
    before = counts()
    for phone, message in (("", "请填写手机号码"), ("12345", "手机号码")):
        response = client.post("/me/login", data={"phone": phone})
        assert response.status_code == 400
        assert message in page(response)
    assert counts() == before


def test_code_requests_are_limited_per_phone(client, teams):
    # The same number in three spellings, from three addresses: one budget of three.
    for phone, address in (
        ("13800138000", "10.0.0.1"),
        ("+86 138 0013 8000", "10.0.0.2"),
        ("138-0013-8000", "10.0.0.3"),
    ):
        response = client.post(
            "/me/login", data={"phone": phone}, environ_base={"REMOTE_ADDR": address}
        )
        assert response.status_code == 302
    response = client.post(
        "/me/login", data={"phone": "13800138000"}, environ_base={"REMOTE_ADDR": "10.0.0.4"}
    )
    assert response.status_code == 429
    assert len(login_texts(teams.volunteer.id)) == 3
    # Another number is not held up by it.
    response = client.post(
        "/me/login", data={"phone": teams.other.phone}, environ_base={"REMOTE_ADDR": "10.0.0.4"}
    )
    assert response.status_code == 302


def test_the_limit_page_says_when_to_ask_again_and_leads_back(client, teams):
    for _ in range(3):
        assert client.post("/me/login", data={"phone": teams.volunteer.phone}).status_code == 302
    asked = utcnow()
    response = client.post("/me/login", data={"phone": teams.volunteer.phone})
    assert response.status_code == 429
    html = page(response)
    # Three codes per ten minutes: the next one some ten minutes from now.
    times = {to_local(asked + timedelta(minutes=m)).strftime("%H:%M") for m in (9, 10, 11)}
    assert any(f"请在 {t} 以后再试" in html for t in times), html
    assert "分钟后" in html and "一两分钟" not in html
    assert 'href="/me/login"' in html.split("操作过于频繁")[-1]


def test_code_requests_are_limited_per_address(client, teams):
    address = {"REMOTE_ADDR": "10.0.0.9"}
    statuses = [
        client.post(
            "/me/login", data={"phone": f"+86139{70000000 + i:08d}"}, environ_base=address
        ).status_code
        for i in range(21)
    ]
    assert statuses == [302] * 20 + [429]
    response = client.post("/me/login", data={"phone": teams.volunteer.phone}, environ_base=address)
    assert response.status_code == 429
    assert login_texts(teams.volunteer.id) == []
    other = client.post(
        "/me/login", data={"phone": teams.volunteer.phone}, environ_base={"REMOTE_ADDR": "10.0.1.1"}
    )
    assert other.status_code == 302


def test_code_verification_is_limited_per_address(client, teams):
    client.post("/me/login", data={"phone": "13912345678"})  # unknown: guessing is all one can do
    statuses = [
        client.post("/me/login/code", data={"code": f"{i:06d}"}).status_code for i in range(11)
    ]
    assert statuses == [400] * 10 + [429]


def test_volunteer_logged_in_by_code_does_not_reach_staff_pages(client, teams):
    me_login(client, teams.volunteer)
    assert client.get("/me").status_code == 200
    for url in (
        "/teams",
        f"/teams/{teams.team_a.id}",
        f"/events/{teams.event_a.id}",
        f"/events/{teams.event_a.id}/edit",
    ):
        assert client.get(url).status_code == 404, url
    response = client.post(
        f"/teams/{teams.team_a.id}/members", data={"name": "黄继光", "phone": "13912345678"}
    )
    assert response.status_code == 404


def test_staff_password_login_still_works_and_links_to_the_volunteer_login(client, teams):
    login_page = page(client.get("/login"))
    assert 'href="/me/login"' in login_page
    login(client, teams.leader_a)
    assert client.get(f"/teams/{teams.team_a.id}").status_code == 200


def test_a_leader_logged_in_by_code_gets_only_the_volunteer_pages(app, client, teams):
    """A texted code is one factor: it must not open a leader's pages (nor the API)."""
    me_login(client, teams.leader_a)

    assert client.get("/me").status_code == 200
    assert client.get(f"/teams/{teams.team_a.id}").status_code == 404
    assert client.get(f"/events/{teams.event_a.id}/edit").status_code == 404
    assert client.get("/").headers["Location"] == "/me"
    # A new session restored from the remember-me cookie keeps the narrow scope.
    with client.session_transaction() as session:
        session.clear()
    assert client.get("/me").status_code == 200
    assert client.get(f"/teams/{teams.team_a.id}").status_code == 404


def test_the_same_leader_with_a_password_has_the_team_page(client, teams):
    login(client, teams.leader_a)
    assert client.get(f"/teams/{teams.team_a.id}").status_code == 200
    assert client.get("/").headers["Location"] == "/teams"


def test_a_volunteer_lands_on_me_and_logs_out_to_the_code_login(client, teams):
    me_login(client, teams.volunteer)
    assert client.get("/").headers["Location"] == "/me"

    response = client.post("/logout")

    assert response.headers["Location"] == "/me/login"
    assert client.get("/me").status_code == 302
