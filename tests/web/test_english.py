"""English pages: every string of the leader web is translated, none left in Chinese."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from tests.conftest import login
from tests.web.conftest import event_form, local_day, page
from volunteer_hub.extensions import db
from volunteer_hub.signups.services import sign_up

CATALOG = Path(__file__).resolve().parents[2] / "src/volunteer_hub/translations/en/LC_MESSAGES"
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
# Chinese on purpose in an English page: the SMS keyword, the way back to Chinese, and the
# example address (a real one, as people write it).
ALLOWED = ("报名 ", "中文", "鄂州市鄂城区莲花山社区党群服务中心")


def test_catalog_is_complete_and_compiled():
    with (CATALOG / "messages.po").open("rb") as f:
        po = read_po(f)
    with (CATALOG / "messages.mo").open("rb") as f:
        mo = read_mo(f)
    untranslated = [m.id for m in po if m.id and not m.string]
    fuzzy = [m.id for m in po if m.id and m.fuzzy]
    assert untranslated == [] and fuzzy == []
    assert {m.id for m in po if m.id} == {m.id for m in mo if m.id}, "run pybabel compile"


@pytest.fixture
def english_world(make):
    """Data with English names, so any Chinese left on a page is ours."""
    hours = timedelta(hours=4)
    unit = make.unit("Ezhou")
    sub = make.unit("Echeng", parent=unit)
    team = make.team(sub, name="River Guards")
    leader = make.leader(team, name="Zhang")
    member = make.member(team, name="Wang")
    outsider = make.person(name="Li")
    start = make.future(48)
    shifts = [
        {
            "title": f"Watch {i}",
            "starts_at": start + i * hours,
            "ends_at": start + (i + 1) * hours,
            "capacity": 1,
        }
        for i in range(2)
    ]
    event = make.event(
        team, shifts=shifts, title="Levee patrol", location="East levee", open_to_all=True
    )
    first, _second = make.shifts_of(event)
    for person in (member, outsider):
        sign_up(first.id, person.id, "sms")
    db.session.commit()
    coordinator = make.coordinator(unit, name="Chen")
    return team, leader, member, event, coordinator


def english(html: str) -> str:
    for allowed in ALLOWED:
        html = html.replace(allowed, "")
    return html


def test_every_page_is_english_with_lang_en(client, english_world):
    team, leader, member, event, coordinator = english_world
    pages = [
        "/teams",
        f"/teams/{team.id}",
        f"/teams/{team.id}/members/{member.id}/edit",
        f"/teams/{team.id}/events/new",
        f"/events/{event.id}",
        f"/events/{event.id}/edit",
        f"/events/{event.id}/cancel",
    ]
    assert not CJK.findall(english(page(client.get("/login?lang=en"))))
    login(client, leader)
    for url in pages:
        html = english(page(client.get(url)))  # the cookie from ?lang=en carries on
        assert CJK.findall(html) == [], (url, sorted(set(CJK.findall(html))))
    assert "Flood and drought control" in page(client.get(f"/events/{event.id}"))

    # Errors and flashes too: a failed form, a sign-up, a 404.
    data = event_form([(local_day(2), "08:00", "08:00", 0)], title="", location="East levee")
    html = english(page(client.post(f"/teams/{team.id}/events/new", data=data)))
    assert "Enter the event title" in html and "Shift 1: at least 1 place" in html
    assert CJK.findall(html) == []
    html = english(page(client.get("/teams/999999")))
    assert "Page not found" in html and CJK.findall(html) == []

    client.post("/logout")
    login(client, coordinator)
    html = english(page(client.get("/overview")))
    assert "Overview" in html and CJK.findall(html) == []
