"""Ending a session ends it everywhere: a copy of the session or remember-me cookie taken
before a logout, a password change, "log out everywhere" or a deactivation opens nothing
afterwards (the person's session version is part of every cookie's user id)."""

from __future__ import annotations

import pytest
from flask_login.utils import encode_cookie

from tests.factories import PASSWORD
from tests.volunteers.conftest import me_login
from volunteer_hub.extensions import db

COOKIES = ("session", "remember_token")


def staff_login(client, person, password=PASSWORD):
    response = client.post(
        "/login", data={"phone": person.phone, "password": password, "remember": "y"}
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def copied(app, client):
    """Another browser holding copies of this one's cookies (session and remember-me)."""
    thief = app.test_client()
    for name in COOKIES:
        cookie = client.get_cookie(name)
        assert cookie is not None, f"no {name} cookie to copy"
        thief.set_cookie(name, cookie.value, domain="localhost")
    return thief


def remember_only(app, client):
    """Copies of the remember-me cookie alone: what survives a closed browser."""
    thief = app.test_client()
    thief.set_cookie(
        "remember_token", client.get_cookie("remember_token").value, domain="localhost"
    )
    return thief


def refused_staff(client) -> bool:
    response = client.get("/teams")
    return response.status_code == 302 and response.headers["Location"].startswith("/login")


def refused_volunteer(client) -> bool:
    response = client.get("/me")
    return response.status_code == 302 and response.headers["Location"] == "/me/login"


@pytest.fixture
def leader(make):
    return make.leader(make.team())


@pytest.fixture
def volunteer(make):
    return make.member(make.team())


def test_copied_staff_cookies_die_at_logout(app, client, leader):
    staff_login(client, leader)
    thief, thief_remember = copied(app, client), remember_only(app, client)
    assert thief.get("/teams").status_code == 200  # the copies work while the login lasts
    assert thief_remember.get("/teams").status_code == 200

    client.post("/logout")

    assert refused_staff(client)
    assert refused_staff(thief)
    assert refused_staff(thief_remember)


def test_copied_volunteer_cookies_die_at_logout(app, client, volunteer):
    me_login(client, volunteer)
    thief, thief_remember = copied(app, client), remember_only(app, client)
    assert thief.get("/me").status_code == 200
    assert thief_remember.get("/me").status_code == 200

    response = client.post("/me/logout")

    assert response.headers["Location"] == "/me/login"
    assert refused_volunteer(client)
    assert refused_volunteer(thief)
    assert refused_volunteer(thief_remember)


def test_staff_log_out_everywhere_ends_the_other_devices(app, make, leader):
    phone, computer = app.test_client(), app.test_client()
    staff_login(phone, leader)
    staff_login(computer, leader)
    page = computer.get("/account")
    assert page.status_code == 200
    assert "退出所有设备" in page.get_data(as_text=True)
    assert 'href="/account"' in computer.get("/teams").get_data(as_text=True)  # in the menu

    response = computer.post("/account/sessions/end")

    assert response.headers["Location"] == "/login"
    assert refused_staff(phone)
    assert refused_staff(computer)
    staff_login(phone, leader)  # a fresh login works again
    assert phone.get("/teams").status_code == 200


def test_volunteer_log_out_everywhere_from_me(app, volunteer):
    phone, lent_phone = app.test_client(), app.test_client()
    me_login(phone, volunteer)
    me_login(lent_phone, volunteer)
    home = phone.get("/me").get_data(as_text=True)
    assert 'action="/me/sessions/end"' in home

    response = phone.post("/me/sessions/end")

    assert response.headers["Location"] == "/me/login"
    assert refused_volunteer(lent_phone)
    assert refused_volunteer(phone)


def test_password_change_keeps_this_session_and_ends_the_others(app, client, leader):
    other = app.test_client()
    staff_login(other, leader)
    staff_login(client, leader)
    before = copied(app, client)

    response = client.post(
        "/account", data={"current_password": PASSWORD, "new_password": "new-horse-battery-9"}
    )

    assert response.status_code == 302
    assert client.get("/teams").status_code == 200  # this browser carries on
    assert remember_only(app, client).get("/teams").status_code == 200  # with a new cookie
    assert refused_staff(other)
    assert refused_staff(before)
    fresh = app.test_client()
    assert (
        fresh.post("/login", data={"phone": leader.phone, "password": PASSWORD}).status_code == 200
    )
    staff_login(fresh, leader, "new-horse-battery-9")


def test_password_change_needs_the_current_password_and_a_long_new_one(app, client, leader):
    staff_login(client, leader)
    other = copied(app, client)
    wrong = client.post("/account", data={"current_password": "nope", "new_password": "x" * 12})
    short = client.post("/account", data={"current_password": PASSWORD, "new_password": "short"})

    assert wrong.status_code == 400 and "当前密码不正确" in wrong.get_data(as_text=True)
    assert short.status_code == 400 and "密码至少 8 位" in short.get_data(as_text=True)
    assert other.get("/teams").status_code == 200  # nothing changed, nobody logged out
    staff_login(app.test_client(), leader)


def test_a_code_login_has_no_password_page(client, volunteer):
    me_login(client, volunteer)
    response = client.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"] == "/me"


def test_deactivation_ends_every_session(app, runner, client, leader, volunteer):
    staff_login(client, leader)
    thief = copied(app, client)
    me = app.test_client()
    me_login(me, volunteer)

    for person in (leader, volunteer):
        result = runner.invoke(args=["users", "deactivate", "--phone", person.phone])
        assert result.exit_code == 0, result.output

    assert refused_staff(client)
    assert refused_staff(thief)
    assert refused_volunteer(me)
    db.session.expire_all()
    assert leader.is_active is False
    response = app.test_client().post("/login", data={"phone": leader.phone, "password": PASSWORD})
    assert response.status_code == 200  # refused: the form again


def test_deactivating_an_unknown_phone_says_so(runner):
    result = runner.invoke(args=["users", "deactivate", "--phone", "+8613912345678"])
    assert result.exit_code != 0
    assert "no person" in result.output


def test_a_cookie_without_a_session_version_is_refused(app, leader):
    """Cookies made before versions (or forged from a bare id) open nothing."""
    old = app.test_client()
    with app.test_request_context():
        old.set_cookie("remember_token", encode_cookie(str(leader.id)), domain="localhost")
    assert refused_staff(old)


def test_end_all_sessions_is_one_atomic_increment(leader):
    from volunteer_hub.auth.services import end_all_sessions

    start = leader.session_version
    assert end_all_sessions(leader) == start + 1
    assert end_all_sessions(leader) == start + 2
    db.session.commit()
    assert leader.get_id() == f"{leader.id}:{start + 2}"


def test_a_confirmed_phone_change_ends_every_session(app, client, volunteer):
    """The phone change (people.phone_changes) moves the same version on."""
    import re

    from sqlalchemy import select

    from volunteer_hub.people import phone_changes
    from volunteer_hub.sms.models import OutgoingSms

    me_login(client, volunteer)
    thief = copied(app, client)
    new_phone = "+8613955556666"
    phone_changes.start(volunteer.id, new_phone, requested_by_id=volunteer.id)
    db.session.commit()
    body = db.session.scalar(
        select(OutgoingSms.body).where(OutgoingSms.to_phone == new_phone).order_by(OutgoingSms.id)
    )
    phone_changes.confirm(volunteer.id, re.search(r"验证码 (\d{6})", body).group(1))
    db.session.commit()

    assert refused_volunteer(client)
    assert refused_volunteer(thief)
