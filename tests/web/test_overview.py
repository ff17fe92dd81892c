"""The coordinator overview: upcoming events under the unit with fill, filters, teams."""

from __future__ import annotations

from tests.conftest import login
from tests.web.conftest import page
from volunteer_hub.extensions import db
from volunteer_hub.signups.services import sign_up


def test_overview_shows_fill_rate_waitlist_and_teams(client, world, make):
    event = make.event(
        world.team_a,
        shifts=2,
        capacity=2,
        title="重阳节走访慰问",
        category_name="走访慰问",
        open_to_all=True,  # the three below are in no team (the team count stays 2)
    )
    first, _second = make.shifts_of(event)
    for _ in range(3):
        sign_up(first.id, make.person().id, "sms")
    db.session.commit()
    login(client, world.coordinator_x)
    html = page(client.get("/overview"))
    row = html[html.index("重阳节走访慰问") :]
    row = row[: row.index("</tr>")]
    assert world.team_a.name in row and "走访慰问" in row
    assert "2/4 人（50%）" in row
    assert "候补 1 人" in row
    teams = html[html.index('id="overview-teams"') :]
    assert world.team_a.name in teams and "2 人" in teams
    assert world.team_b.name not in html


def test_overview_filters_by_category_and_sub_unit(client, world, make):
    other_street = make.unit("西山街道", parent=world.district_x)
    team_c = make.team(other_street, name="西山街道服务队")
    make.event(team_c, title="西山防汛巡查", category_name="防汛抗旱")
    make.member(team_c)
    login(client, world.coordinator_x)

    html = page(client.get("/overview"))
    assert "护苗护学" in html and "西山防汛巡查" in html

    flood = make.category("防汛抗旱").id
    html = page(client.get(f"/overview?category={flood}"))
    events = html[: html.index('id="overview-teams"')]
    assert "西山防汛巡查" in events and f"/events/{world.event_a.id}" not in events

    html = page(client.get(f"/overview?unit={world.street_x.id}"))
    events, teams = html.split('id="overview-teams"')
    assert f"/events/{world.event_a.id}" in events and "西山防汛巡查" not in events
    assert world.team_a.name in teams and "西山街道服务队" not in teams
    # The unit select offers the coordinator's subtree only.
    unit_select = html[html.index('<select id="unit"') :]
    unit_select = unit_select[: unit_select.index("</select>")]
    assert f'<option value="{world.street_x.id}"' in unit_select
    assert "华容区" not in unit_select and "鄂城区" in unit_select


def test_overview_pages_through_many_events(client, world, make):
    for i in range(55):
        make.event(world.team_a, title=f"活动{i:02d}", starts_at=make.future(48 + i))
    login(client, world.coordinator_x)
    first = page(client.get("/overview"))
    assert "下一页" in first and "上一页" not in first
    second = page(client.get("/overview?page=2"))
    assert "上一页" in second and "下一页" not in second
    assert "活动54" in second and "活动54" not in first


def test_overview_rejects_garbage_filters_with_404(client, world):
    login(client, world.coordinator_x)
    assert client.get("/overview?unit=abc").status_code == 404
    assert client.get("/overview?category=1%20OR%201=1").status_code == 404
    assert client.get("/overview?unit=999999").status_code == 404
