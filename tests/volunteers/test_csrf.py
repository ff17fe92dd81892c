"""With CSRF protection on (as in production), every POST of the volunteer pages needs
the token from the page; without it nothing changes."""

from __future__ import annotations

import re

from flask import g
from sqlalchemy import func, select

from tests.conftest import token_from
from tests.volunteers.conftest import code_from_outbox, page
from volunteer_hub.auth.models import LoginCode
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.signups.models import Signup


def rows(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_login_and_one_tap_sign_up_need_the_token(client, teams, make, csrf_on):
    phone = {"phone": teams.volunteer.phone}
    assert client.post("/me/login", data=phone).status_code == 400
    assert client.post("/me/login", data={**phone, "csrf_token": "forged"}).status_code == 400
    assert rows(LoginCode) == 0

    token = token_from(page(client.get("/me/login")))
    assert client.post("/me/login", data={**phone, "csrf_token": token}).status_code == 302
    code = code_from_outbox(teams.volunteer.id)
    assert client.post("/me/login/code", data={"code": code}).status_code == 400
    token = token_from(page(client.get("/me/login/code")))
    response = client.post("/me/login/code", data={"code": code, "csrf_token": token})
    assert response.headers["Location"] == "/me"

    shift = make.shifts_of(teams.event_a)[0]
    html = page(client.get("/me"))
    forms = re.findall(r'<form method="post".*?</form>', html, flags=re.S)
    assert len(forms) >= 5  # two shifts to sign up for, SMS switch, logout (twice)
    for form in forms:
        assert 'name="csrf_token"' in form, form[:200]

    url = f"/me/shifts/{shift.id}/signup"
    assert client.post(url).status_code == 400
    assert client.post("/me/sms/off").status_code == 400
    assert client.post("/me/logout").status_code == 400
    assert rows(Signup) == 0
    assert db.session.get(Person, teams.volunteer.id).sms_opted_out_at is None
    assert client.get("/me").status_code == 200  # still logged in
    assert client.post(url, data={"csrf_token": token_from(html)}).status_code == 302
    assert rows(Signup) == 1


def test_a_page_kept_from_before_a_browser_restart_sends_the_volunteer_back_to_tap_again(
    client, teams, make, csrf_on
):
    token = token_from(page(client.get("/me/login")))
    client.post("/me/login", data={"phone": teams.volunteer.phone, "csrf_token": token})
    token = token_from(page(client.get("/me/login/code")))
    code = code_from_outbox(teams.volunteer.id)
    logged_in = client.post("/me/login/code", data={"code": code, "csrf_token": token})
    # The session outlives the browser: its cookie has an expiry, as remember-me has.
    session_cookie = [
        c for c in logged_in.headers.getlist("Set-Cookie") if c.startswith("session=")
    ]
    assert session_cookie and "Expires=" in session_cookie[-1]

    shift = make.shifts_of(teams.event_a)[0]
    kept = token_from(page(client.get("/me")))
    client.delete_cookie("session")  # WeChat restarted without it; remember-me logs in again
    # Flask-WTF keeps the request's token in g, and the tests' app context outlives
    # requests: drop it, as a request of the restarted browser would not have it.
    g.pop("csrf_token", None)
    response = client.post(
        f"/me/shifts/{shift.id}/signup",
        data={"csrf_token": kept},
        headers={"Referer": "http://localhost/me"},
    )

    assert response.status_code == 303 and response.headers["Location"] == "/me"
    again = page(client.get("/me"))
    assert "页面已过期，已为您重新打开，请再点一次" in again
    assert rows(Signup) == 0
    response = client.post(f"/me/shifts/{shift.id}/signup", data={"csrf_token": token_from(again)})
    assert response.status_code == 302 and rows(Signup) == 1


def test_a_form_from_elsewhere_gets_the_error_page_not_a_redirect(client, teams, csrf_on):
    response = client.post(
        "/me/login",
        data={"phone": teams.volunteer.phone},
        headers={"Referer": "https://evil.example/"},
    )
    assert response.status_code == 400
    assert "页面已过期" in page(response)
