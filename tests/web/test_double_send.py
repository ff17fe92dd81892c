"""A form sent twice does its work once (submissions.py): a double tap on 确认发送 texts
the call-out once, on 保存活动 makes one event; both sends land on the same page. A
send that failed does not use the form up, and a token is its sender's only."""

# ruff: noqa: F811  (the call-out scene fixture is imported, and a parameter here)

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from tests.callouts.conftest import scene  # noqa: F401
from tests.callouts.helpers import texts_to
from tests.callouts.test_pages import _form as callout_form
from tests.conftest import login
from tests.web.conftest import event_form, local_day, page
from volunteer_hub.callouts.models import Callout
from volunteer_hub.db import utcnow
from volunteer_hub.events.models import Event
from volunteer_hub.extensions import db
from volunteer_hub.submissions import FormSubmission


def once_in(html: str) -> str:
    found = re.search(r'name="once" value="([^"]+)"', html)
    assert found, "the form carries a one-time token"
    return found.group(1)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_call_out_confirmed_twice_goes_out_once(client, scene):
    login(client, scene["leader"])
    url = f"/events/{scene['event'].id}/callouts"
    form_page = page(client.get(url))
    preview = page(client.post(url, data=callout_form(scene, once=once_in(form_page))))
    previewed = re.search(r'name="previewed" type="hidden" value="([^"]+)"', preview).group(1)
    confirm = callout_form(scene, action="confirm", previewed=previewed, once=once_in(preview))

    first = client.post(url, data=confirm)
    second = client.post(url, data=confirm)

    assert count(Callout) == 1
    board = f"/callouts/{db.session.scalar(select(Callout.id))}"
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"] == board
    assert len(texts_to()) == len(scene["members"])  # each member once


def test_an_event_saved_twice_is_made_once(client, world):
    login(client, world.leader_a)
    url = f"/teams/{world.team_a.id}/events/new"
    data = event_form([(local_day(3), "08:00", "12:00", 5)], title="双击测试活动")
    data["once"] = once_in(page(client.get(url)))
    before = count(Event)

    first = client.post(url, data=data)
    second = client.post(url, data=data)

    assert count(Event) == before + 1
    assert first.headers["Location"] == second.headers["Location"]
    assert "双击测试活动" in page(client.get(second.headers["Location"]))


def test_a_send_refused_for_its_errors_does_not_use_the_form_up(client, world):
    login(client, world.leader_a)
    url = f"/teams/{world.team_a.id}/events/new"
    data = event_form([(local_day(3), "08:00", "12:00", 5)], title="")
    data["once"] = once_in(page(client.get(url)))
    before = count(Event)
    assert client.post(url, data=data).status_code == 400
    assert count(FormSubmission) == 0

    data["title"] = "改正后的活动"
    assert client.post(url, data=data).status_code == 302
    assert count(Event) == before + 1


def test_a_token_is_only_its_senders(client, world, make):
    url = f"/teams/{world.team_a.id}/events/new"
    login(client, world.leader_a)
    token = once_in(page(client.get(url)))
    data = event_form([(local_day(3), "08:00", "12:00", 5)], title="队长甲的活动")
    client.post(url, data={**data, "once": token})

    login(client, make.leader(world.team_a, name="队长乙"))
    other = client.post(url, data={**data, "title": "队长乙的活动", "once": token})

    assert other.status_code == 302
    titles = list(db.session.scalars(select(Event.title).where(Event.title.like("队长%"))))
    assert sorted(titles) == ["队长乙的活动", "队长甲的活动"]


def test_tokens_are_forgotten_after_a_day(client, world):
    login(client, world.leader_a)
    url = f"/teams/{world.team_a.id}/events/new"
    old = once_in(page(client.get(url)))
    client.post(url, data={**event_form([(local_day(3), "08:00", "12:00", 5)]), "once": old})
    db.session.execute(
        FormSubmission.__table__.update().values(created_at=utcnow() - timedelta(days=2))
    )
    db.session.commit()

    new = once_in(page(client.get(url)))
    client.post(url, data={**event_form([(local_day(4), "08:00", "12:00", 5)]), "once": new})

    assert list(db.session.scalars(select(FormSubmission.token))) == [new]
