"""With CSRF protection on (as in production), a POST without the token is refused."""

from __future__ import annotations

import re

from tests.conftest import login, token_from
from tests.web.conftest import page, row_counts


def test_post_without_token_is_refused_and_changes_nothing(client, world, csrf_on):
    login_page = page(client.get("/login"))
    response = client.post(
        "/login",
        data={
            "phone": world.leader_a.phone,
            "password": "correct-horse-42",
            "csrf_token": token_from(login_page),
        },
    )
    assert response.status_code == 302

    url = f"/teams/{world.team_a.id}/members"
    data = {"name": "黄继光", "phone": "13912345678", "role": "member"}
    before = row_counts()
    response = client.post(url, data=data)
    assert response.status_code == 400
    assert "页面已过期" in page(response)
    response = client.post(url, data={**data, "csrf_token": "forged"})
    assert response.status_code == 400
    assert row_counts() == before

    # With the token from the page, the same form goes through.
    token = token_from(page(client.get(f"/teams/{world.team_a.id}")))
    response = client.post(url, data={**data, "csrf_token": token})
    assert response.status_code == 302
    assert row_counts()["membership"] == before["membership"] + 1


def test_every_post_form_on_the_pages_carries_a_token(client, world, make, csrf_on):
    from volunteer_hub.signups.services import sign_up

    shift = make.shifts_of(world.event_a)[0]
    sign_up(shift.id, world.member_a.id, "sms")
    from volunteer_hub.extensions import db

    db.session.commit()
    client.application.config["WTF_CSRF_ENABLED"] = False
    login(client, world.leader_a)
    client.application.config["WTF_CSRF_ENABLED"] = True
    for url in (
        "/teams",
        f"/teams/{world.team_a.id}",
        f"/teams/{world.team_a.id}/members/{world.member_a.id}/edit",
        f"/teams/{world.team_a.id}/events/new",
        f"/events/{world.event_a.id}",
        f"/events/{world.event_a.id}/edit",
        f"/events/{world.event_a.id}/cancel",
    ):
        html = page(client.get(url))
        forms = re.findall(r'<form method="post".*?</form>', html, flags=re.S)
        assert forms, url
        for form in forms:
            assert 'name="csrf_token"' in form, (url, form[:200])


def test_logout_without_token_is_refused(client, world, csrf_on):
    client.application.config["WTF_CSRF_ENABLED"] = False
    login(client, world.leader_a)
    client.application.config["WTF_CSRF_ENABLED"] = True
    assert client.post("/logout").status_code == 400
    assert client.get("/teams").status_code == 200  # still logged in
