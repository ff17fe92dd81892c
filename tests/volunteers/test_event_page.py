"""The volunteers' page of an event: where a poster's QR code and a shared notice lead.
Someone not logged in comes back to it after the texted code."""

from __future__ import annotations

from tests.volunteers.conftest import code_from_outbox, me_login, page
from volunteer_hub.events.models import EventStatus
from volunteer_hub.extensions import db
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import SignupSource


def test_the_qr_code_leads_through_the_login_back_to_the_event(client, teams):
    url = f"/me/events/{teams.event_a.id}"
    response = client.get(url)
    assert response.headers["Location"] == "/me/login"
    client.post("/me/login", data={"phone": teams.volunteer.phone})
    response = client.post("/me/login/code", data={"code": code_from_outbox(teams.volunteer.id)})
    assert response.headers["Location"] == url


def test_the_page_offers_each_shift_and_says_where_i_stand(client, teams, make):
    first, second = make.shifts_of(teams.event_a)
    signups.sign_up(first.id, teams.volunteer.id, SignupSource.WEB)
    db.session.commit()
    me_login(client, teams.volunteer)

    html = page(client.get(f"/me/events/{teams.event_a.id}"))
    assert "护苗护学" in html and "凤凰小学门口" in html and teams.team_a.name in html
    mine = html.split(f'id="shift-{first.id}"')[1].split("</li>")[0]
    assert "您已报名" in mine and "<form" not in mine
    other = html.split(f'id="shift-{second.id}"')[1].split("</li>")[0]
    assert f'action="/me/shifts/{second.id}/signup"' in other and second.code in other
    # The code has one name wherever a volunteer meets it: 编号, as on /me and in the texts.
    assert "编号" in other and "代码" not in html

    response = client.post(f"/me/shifts/{second.id}/signup")
    assert response.status_code == 302
    assert (
        "您已报名"
        in page(client.get(f"/me/events/{teams.event_a.id}"))
        .split(f'id="shift-{second.id}"')[1]
        .split("</li>")[0]
    )


def test_another_teams_event_is_shown_without_a_way_to_join(client, teams):
    me_login(client, teams.volunteer)
    html = page(client.get(f"/me/events/{teams.event_b.id}"))
    assert "长江巡堤" in html and "仅限“华容区长江卫士服务队”的队员报名" in html
    assert "/signup" not in html


def test_a_draft_or_missing_event_is_not_found(client, teams):
    teams.event_b.status = EventStatus.DRAFT
    db.session.commit()
    me_login(client, teams.volunteer)
    assert client.get(f"/me/events/{teams.event_b.id}").status_code == 404
    assert client.get("/me/events/999999").status_code == 404
