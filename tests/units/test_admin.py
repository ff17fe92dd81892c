"""Units from the web: the tree, create, rename, move; coordinators in their subtree,
admins everywhere; paths of whole subtrees, scope and feeds follow a move; audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from tests.conftest import login
from tests.web.conftest import page
from volunteer_hub.audit.models import AuditEntry
from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.calendar.models import Feed
from volunteer_hub.calendar.services import create_feed
from volunteer_hub.errors import DomainError, NotFound
from volunteer_hub.extensions import db
from volunteer_hub.teams.models import Team
from volunteer_hub.units import services
from volunteer_hub.units.models import Unit


def audit_actions(subject_type: str, subject_id: int) -> list[str]:
    return list(
        db.session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.subject_type == subject_type, AuditEntry.subject_id == subject_id)
            .order_by(AuditEntry.id)
        )
    )


def fresh(unit: Unit) -> Unit:
    db.session.expire_all()
    return db.session.get(Unit, unit.id)


def visible_team_names(person) -> set[str]:
    db.session.expire_all()
    viewer = viewer_for(db.session.get(type(person), person.id))
    return set(db.session.scalars(select(Team.name).where(viewer.team_condition())))


# -- services ---------------------------------------------------------------------------


def test_a_move_rewrites_the_path_of_the_whole_subtree(make, world):
    admin = viewer_for(make.admin())
    community = make.unit("莲花山社区", parent=world.street_x)
    below = make.unit("一组", parent=community)
    services.move_unit(admin, world.street_x.id, world.district_y.id)
    db.session.commit()
    street, community, below = fresh(world.street_x), fresh(community), fresh(below)
    y = fresh(world.district_y)
    assert street.parent_id == y.id
    assert street.path == f"{y.path}{street.id}/"
    assert community.path == f"{street.path}{community.id}/"
    assert below.path == f"{community.path}{below.id}/"
    assert audit_actions("unit", street.id) == ["unit.moved"]


def test_coordinators_scope_follows_a_move(make, world):
    admin = viewer_for(make.admin())
    assert world.team_a.name in visible_team_names(world.coordinator_x)
    services.move_unit(admin, world.street_x.id, world.district_y.id)
    db.session.commit()
    assert world.team_a.name not in visible_team_names(world.coordinator_x)
    assert world.team_a.name in visible_team_names(world.coordinator_y)


def test_a_unit_cannot_move_under_itself_or_its_descendants(make, world):
    admin = viewer_for(make.admin())
    community = make.unit("莲花山社区", parent=world.street_x)
    with pytest.raises(services.UnitCycle):
        services.move_unit(admin, world.street_x.id, community.id)
    with pytest.raises(services.UnitCycle):
        services.move_unit(admin, world.street_x.id, world.street_x.id)
    db.session.rollback()
    assert fresh(world.street_x).parent_id == world.district_x.id


def test_coordinator_moves_and_renames_only_below_their_unit(make, world):
    coordinator = viewer_for(world.coordinator_x)
    other = make.unit("新区街道", parent=world.district_x)
    services.move_unit(coordinator, world.street_x.id, other.id)
    services.rename_unit(coordinator, world.street_x.id, "凤凰街道办事处")
    db.session.commit()
    assert fresh(world.street_x).name == "凤凰街道办事处"
    # Not out of the subtree, not their own unit, not a unit elsewhere.
    with pytest.raises(NotFound):
        services.move_unit(coordinator, world.street_x.id, world.district_y.id)
    with pytest.raises(NotFound):
        services.rename_unit(coordinator, world.district_x.id, "改名")
    with pytest.raises(NotFound):
        services.rename_unit(coordinator, world.district_y.id, "改名")
    with pytest.raises(DomainError):
        services.move_unit(coordinator, world.street_x.id, None)  # roots are for admins


def test_coordinator_creates_units_in_their_subtree_only(make, world):
    coordinator = viewer_for(world.coordinator_x)
    made = services.add_unit(coordinator, "新社区", world.district_x.id)
    db.session.commit()
    assert made.path == f"{world.district_x.path}{made.id}/"
    assert audit_actions("unit", made.id) == ["unit.created"]
    with pytest.raises(NotFound):
        services.add_unit(coordinator, "别处社区", world.district_y.id)
    with pytest.raises(NotFound):
        services.add_unit(coordinator, "新省", None)


def test_rename_needs_a_name_and_is_audited_with_both_names(make, world):
    admin = viewer_for(make.admin())
    with pytest.raises(DomainError) as refused:
        services.rename_unit(admin, world.street_x.id, "  ")
    assert refused.value.message == "请填写单位名称"
    services.rename_unit(admin, world.street_x.id, "凤凰街道（新）")
    db.session.commit()
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "unit.renamed"))
    assert entry.details == {"old": "凤凰街道", "new": "凤凰街道（新）"}
    assert entry.actor_id == admin.person_id


def test_unit_feeds_above_the_old_and_the_new_place_are_rebuilt(make, world):
    admin_person = make.admin()
    admin = viewer_for(admin_person)
    feeds = {
        name: create_feed("unit", unit.id, created_by=admin).feed.id
        for name, unit in (
            ("x", world.district_x),
            ("y", world.district_y),
            ("street", world.street_x),
        )
    }
    db.session.commit()
    db.session.execute(update(Feed).values(stale_since=None))  # as if built
    db.session.commit()
    services.move_unit(admin, world.street_x.id, world.district_y.id)
    db.session.commit()
    stale = {
        name: db.session.scalar(select(Feed.stale_since).where(Feed.id == feed_id)) is not None
        for name, feed_id in feeds.items()
    }
    # Its own feed shows the same events as before; both districts' feeds changed.
    assert stale == {"x": True, "y": True, "street": False}


# -- pages ------------------------------------------------------------------------------


def test_tree_page_shows_the_coordinators_subtree_only(client, world):
    login(client, world.coordinator_x)
    html = page(client.get("/units"))
    assert "单位管理" in html and "单位树" in html
    assert "鄂城区" in html and "凤凰街道" in html
    assert "华容区" not in html
    assert "添加单位" in html


def test_leaders_do_not_get_unit_pages(client, world):
    login(client, world.leader_a)
    assert client.get("/units").status_code == 404
    assert client.get(f"/units/{world.street_x.id}").status_code == 404


def test_unit_out_of_scope_is_not_found(client, world):
    login(client, world.coordinator_x)
    assert client.get(f"/units/{world.district_y.id}").status_code == 404
    response = client.post(f"/units/{world.district_y.id}/rename", data={"unit-name": "改名"})
    assert response.status_code == 404
    assert fresh(world.district_y).name == "华容区"


def test_create_rename_and_move_from_the_pages(client, make, world):
    login(client, world.coordinator_x)
    response = client.post("/units", data={"name": "新港社区", "parent": world.street_x.id})
    assert response.status_code == 302
    made = db.session.scalar(select(Unit).where(Unit.name == "新港社区"))
    html = page(client.get(response.headers["Location"]))
    assert "已添加单位：新港社区" in html
    assert "修改单位" in html and "新建服务队" in html
    response = client.post(f"/units/{made.id}/rename", data={"unit-name": "新港社区居委会"})
    assert response.status_code == 302
    response = client.post(f"/units/{made.id}/move", data={"parent": world.district_x.id})
    assert response.status_code == 302
    made = fresh(made)
    assert made.name == "新港社区居委会" and made.parent_id == world.district_x.id
    html = page(client.get(f"/units/{made.id}"))
    assert "变更记录" in html and "改名：新港社区 → 新港社区居委会" in html


def test_a_bad_move_answers_with_the_form_error_in_chinese(client, make, world):
    community = make.unit("莲花山社区", parent=world.street_x)
    login(client, make.admin())
    response = client.post(f"/units/{world.street_x.id}/move", data={"parent": community.id})
    assert response.status_code == 400
    assert "不能把单位移到它自己或它的下级单位之下" in page(response)
    assert fresh(world.street_x).parent_id == world.district_x.id


def test_an_empty_name_is_a_form_error(client, world):
    login(client, world.coordinator_x)
    response = client.post("/units", data={"name": "", "parent": world.street_x.id})
    assert response.status_code == 400
    assert "请填写单位名称" in page(response)
