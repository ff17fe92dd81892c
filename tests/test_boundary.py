"""Control characters never get past the boundary: forms, query strings, URL paths and
JSON bodies arrive cleaned, so no input can turn into a 500 (PostgreSQL refuses U+0000;
nothing can store a lone surrogate)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from tests.conftest import login
from tests.web.conftest import event_form, local_day
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person


@pytest.mark.parametrize(
    ("raw", "multiline", "cleaned"),
    [
        ("黄\x00继光", True, "黄继光"),
        ("第一行\r\n第二行\t末尾", True, "第一行\r\n第二行\t末尾"),
        ("第一行\r\n第二行\t末尾", False, "第一行第二行末尾"),
        ("\x01\x08\x0b\x0c\x1b\x1f\x7f", True, ""),
        ("C1\x80\x85\x9f", True, "C1"),
        ("lone\ud800 and \udfff", True, "lone and "),
        ("长江大保护 ＝＋ é ☔ 😀", False, "长江大保护 ＝＋ é ☔ 😀"),
    ],
)
def test_clean_text(raw, multiline, cleaned):
    from volunteer_hub.boundary import clean_text

    assert clean_text(raw, multiline=multiline) == cleaned


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        (r'{"name": "黄\u0000继光"}', {"name": "黄继光"}),
        (r'{"a\u0000b": "\b\f\u001B\u007f\u0085x"}', {"ab": "x"}),
        (r'{"name": "\ud800\udc00 \ud83d\ude00"}', {"name": "\U00010000 😀"}),
        (r'{"name": "lone \ud800 \udc00 \uD83D"}', {"name": "lone   "}),
        (r'{"path": "C:\\u0000 and \\\u0000"}', {"path": "C:\\u0000 and \\"}),
        ('{"note": "行一\\n行二\\t\\r"}', {"note": "行一\n行二\t\r"}),
        ('{"raw": "a\x85b\x7f"}', {"raw": "ab"}),
        ('{\n\t"n": [1, 2.5, true, null]\r\n}', {"n": [1, 2.5, True, None]}),
    ],
    ids=[
        "nul",
        "short escapes and C1",
        "surrogate pairs stay",
        "lone surrogates go",
        "escaped backslashes",
        "line breaks stay",
        "raw C1",
        "whitespace between tokens stays",
    ],
)
def test_clean_json_text(raw, cleaned):
    from volunteer_hub.boundary import clean_json_text

    assert json.loads(clean_json_text(raw.encode())) == cleaned


def test_clean_json_text_leaves_what_it_cannot_read_to_the_parser():
    from volunteer_hub.boundary import clean_json_text

    assert clean_json_text(b'{"a": "\xff\x00"}') == b'{"a": "\xff\x00"}'
    assert clean_json_text(b'{"a": 1}') == b'{"a": 1}'


@pytest.fixture
def leader_team(make):
    team = make.team()
    leader = make.leader(team, name="张队长")
    return leader, team


@pytest.mark.parametrize(
    "data",
    [
        {"name": "黄\x00继光", "phone": "139 1234 5678", "role": "member"},
        {"name": "\x00黄继光\x85", "phone": "139\x001234 5678", "role": "member\x00"},
    ],
    ids=["name", "every field"],
)
def test_add_member_with_a_nul_saves_the_name_without_it(client, leader_team, data):
    leader, team = leader_team
    login(client, leader)
    response = client.post(f"/teams/{team.id}/members", data=data)
    assert response.status_code in (302, 400), response.get_data(as_text=True)[:500]
    person = db.session.scalar(select(Person).where(Person.phone == "+8613912345678"))
    if response.status_code == 302:
        assert person.name == "黄继光"
    else:  # refused as a person would be told, in Chinese, with nothing saved
        assert person is None
        assert "</html>" in response.get_data(as_text=True)


def test_event_form_keeps_line_breaks_and_drops_the_rest(client, leader_team):
    leader, team = leader_team
    login(client, leader)
    data = event_form(
        [(local_day(3), "08:00", "10:00", 5, "早班\x08")],
        title="长江\x00巡堤\x1b",
        location="江堤\x7f二号闸口\x85",
        description="第一行\r\n第二行\t完\x00",
    )
    response = client.post(f"/teams/{team.id}/events/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    event = db.session.scalar(select(Event))
    assert (event.title, event.location) == ("长江巡堤", "江堤二号闸口")
    assert event.description.replace("\r\n", "\n") == "第一行\n第二行\t完"
    assert db.session.scalar(select(Shift.title)) == "早班"


@pytest.mark.parametrize(
    "url",
    [
        "/login?next=%2Fme%00",
        "/overview?unit=1%00&category=%00",
        "/hours/reports?unit=%00&from=2031-01%00",
        "/volunteers?page=%00",
        "/feeds/abc%00def.ics",
        "/me/login?lang=en%00",
    ],
)
def test_query_strings_and_paths_with_a_nul_are_never_a_500(client, make, url):
    login(client, make.admin())
    response = client.get(url)
    assert response.status_code < 500, url


@pytest.mark.parametrize(
    ("url", "field"),
    [("/login", "phone"), ("/me/login", "phone"), ("/login", "password")],
)
def test_login_forms_with_a_nul_are_never_a_500(client, make, url, field):
    person = make.admin(phone="+8613900001111")
    data = {"phone": "139 0000 1111", "password": "x\x00"}
    data[field] = data[field] + "\x00"
    response = client.post(url, data=data)
    assert response.status_code < 500
    assert db.session.get(Person, person.id) is not None


def test_every_way_a_view_reads_a_request_is_cleaned(app):
    from flask import request

    with app.test_request_context(
        "/x?q=%E9%95%BF%00%E6%B1%9F%0A&k%00=1",
        method="POST",
        data={"note": "一\r\n二\x00", "na\x00me": "黄\x00继光"},
    ):
        assert request.args.to_dict() == {"q": "长江", "k": "1"}
        assert request.form.to_dict() == {"note": "一\r\n二", "name": "黄继光"}
        assert request.values["name"] == "黄继光"
        assert request.raw_form.to_dict() == {"note": "一\r\n二\x00", "na\x00me": "黄\x00继光"}
    with app.test_request_context(
        "/x",
        method="POST",
        data=r'{"a\u0000": ["\u0000b", {"c": "\ud800d\n"}]}',
        content_type="application/json",
    ):
        assert request.get_json() == {"a": ["b", {"c": "d\n"}]}
