import pytest
from sqlalchemy import select

from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.extensions import db
from volunteer_hub.teams.models import Team
from volunteer_hub.units.models import Unit
from volunteer_hub.units.services import ancestors, create_unit, subtree_condition


@pytest.fixture
def tree(make):
    hubei = make.unit("湖北省", level="province")
    ezhou = make.unit("鄂州市", hubei)
    echeng = make.unit("鄂城区", ezhou)
    huarong = make.unit("华容区", ezhou)
    street = make.unit("凤凰街道", echeng)
    lianhuashan = make.unit("莲花山社区", street)
    wuhan = make.unit("武汉市", hubei)
    return dict(
        hubei=hubei,
        ezhou=ezhou,
        echeng=echeng,
        huarong=huarong,
        street=street,
        lianhuashan=lianhuashan,
        wuhan=wuhan,
    )


def test_levels_follow_the_tree(tree):
    assert tree["ezhou"].level == "city"
    assert tree["echeng"].level == "district"
    assert tree["street"].level == "street"
    assert tree["lianhuashan"].level == "community"


def test_subtree_is_a_path_prefix(tree):
    names = set(db.session.scalars(select(Unit.name).where(subtree_condition(tree["ezhou"].path))))
    assert names == {"鄂州市", "鄂城区", "华容区", "凤凰街道", "莲花山社区"}
    assert [u.name for u in ancestors(tree["lianhuashan"])] == [
        "湖北省",
        "鄂州市",
        "鄂城区",
        "凤凰街道",
        "莲花山社区",
    ]


def test_prefix_of_an_id_is_not_a_subtree(make):
    """Unit 1 must not capture unit 12: the path keeps its slashes."""
    units = [create_unit(f"U{i}", None) for i in range(13)]
    db.session.commit()
    one = units[0]
    inside = set(db.session.scalars(select(Unit.id).where(subtree_condition(one.path))))
    assert inside == {one.id}


def test_unknown_parent_is_refused(app):
    from volunteer_hub.errors import NotFound

    with pytest.raises(NotFound):
        create_unit("某社区", 999_999)


def _visible_team_names(person):
    viewer = viewer_for(person)
    return set(db.session.scalars(select(Team.name).where(viewer.team_condition())))


def test_coordinator_sees_their_subtree_and_nothing_beside_it(make, tree):
    in_echeng = make.team(tree["lianhuashan"], name="莲花山社区戎马志愿服务队")
    make.team(tree["huarong"], name="华容区志愿服务队")
    make.team(tree["wuhan"], name="长江卫士应急救援队")
    coordinator = make.coordinator(tree["echeng"])

    assert _visible_team_names(coordinator) == {in_echeng.name}
    city = make.coordinator(tree["ezhou"])
    assert _visible_team_names(city) == {"莲花山社区戎马志愿服务队", "华容区志愿服务队"}


def test_leader_sees_only_the_teams_they_lead(make, tree):
    led = make.team(tree["lianhuashan"])
    member_of = make.team(tree["lianhuashan"])
    make.team(tree["lianhuashan"])
    leader = make.leader(led)
    from volunteer_hub.teams.models import Membership

    db.session.add(Membership(team_id=member_of.id, person_id=leader.id, role="member"))
    db.session.commit()
    assert _visible_team_names(leader) == {led.name}


def test_admin_sees_all(make, tree):
    make.team(tree["huarong"])
    make.team(tree["wuhan"])
    assert len(_visible_team_names(make.admin())) == 2


def test_full_phone_only_for_members_of_teams_the_viewer_leads(make, tree):
    team_a = make.team(tree["lianhuashan"])
    team_b = make.team(tree["huarong"])
    leader_a = make.leader(team_a)
    in_a = make.member(team_a)
    in_b = make.member(team_b)
    stranger = make.person()
    viewer = viewer_for(leader_a)
    assert viewer.people_with_full_phone([in_a.id, in_b.id, stranger.id, leader_a.id]) == {
        in_a.id,
        leader_a.id,
    }
    coordinator = viewer_for(make.coordinator(tree["ezhou"]))
    assert coordinator.people_with_full_phone([in_a.id, in_b.id, stranger.id]) == {
        in_a.id,
        in_b.id,
    }
