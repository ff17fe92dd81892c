"""With CSRF protection on (as in production), every POST of the volunteer pages needs
the token from the page; without it nothing changes."""

from __future__ import annotations

import re

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
