"""Right after signing up on /me: the shift on top with a one-tap "加入手机日历" .ics."""

from __future__ import annotations

from icalendar import Calendar
from sqlalchemy import select

from tests.volunteers.conftest import me_login, page
from volunteer_hub.extensions import db
from volunteer_hub.signups.models import Signup
from volunteer_hub.signups.services import sign_up


def test_a_volunteer_who_just_signed_up_gets_the_shifts_ics_in_one_tap(client, teams, make):
    first, _second = make.shifts_of(teams.event_a)
    me_login(client, teams.volunteer)
    response = client.post(f"/me/shifts/{first.id}/signup")
    assert response.status_code == 302
    signup_id = db.session.scalar(
        select(Signup.id).where(Signup.shift_id == first.id, Signup.person_id == teams.volunteer.id)
    )
    assert response.headers["Location"] == f"/me?signed_up={signup_id}#just-signed-up"

    html = page(client.get(response.headers["Location"]))
    assert "报名成功" in html
    box = html.split('id="just-signed-up"', 1)[1].split("</section>", 1)[0]
    assert "护苗护学" in box and first.title in box
    link = f"/calendar/signups/{signup_id}.ics"
    assert f'href="{link}"' in box and "加入手机日历" in box
    assert html.index('id="just-signed-up"') < html.index('id="my-shifts"')

    english = page(client.get(f"/me?signed_up={signup_id}&lang=en"))
    box = english.split('id="just-signed-up"', 1)[1].split("</section>", 1)[0]
    assert "forget this shift" in box and "Add to phone calendar" in box and "One tap" in box
    client.get("/me?lang=zh")

    download = client.get(link)
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "text/calendar; charset=utf-8"
    assert "attachment" in download.headers["Content-Disposition"]
    (entry,) = Calendar.from_ical(download.data).walk("VEVENT")
    assert str(entry["UID"]) == f"shift-{first.id}@localhost"  # as in the person feed
    assert entry["DTSTART"].dt == first.starts_at and entry["DTEND"].dt == first.ends_at
    assert str(entry["SUMMARY"]) == f"护苗护学 · {first.title}"
    assert "凤凰小学门口" in str(entry["LOCATION"])
    assert f"短信编号：{first.code}" in str(entry["DESCRIPTION"])
    text = download.data.decode()
    assert "13800138000" not in text.replace("\r\n ", "")


def test_only_ones_own_fresh_signup_is_shown_and_a_waitlist_place_gets_no_box(client, teams, make):
    first, second = make.shifts_of(teams.event_a)
    others = sign_up(second.id, teams.other.id, "sms").signup.id
    db.session.commit()
    me_login(client, teams.volunteer)
    assert 'id="just-signed-up"' not in page(client.get(f"/me?signed_up={others}"))
    assert 'id="just-signed-up"' not in page(client.get("/me?signed_up=x"))

    for person in (make.member(teams.team_a), make.member(teams.team_a)):
        sign_up(first.id, person.id, "sms")  # capacity 2: the shift is full
    db.session.commit()
    response = client.post(f"/me/shifts/{first.id}/signup")
    assert response.headers["Location"] == "/me#my-shifts"
    html = page(client.get("/me"))
    assert "候补第 1 位" in html and 'id="just-signed-up"' not in html
