from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from tests.api.conftest import refused
from volunteer_hub.extensions import db
from volunteer_hub.teams.models import Membership, Team, TeamInvitation


@pytest.fixture
def tree(make):
    """湖北省 › 鄂州市 › 鄂城区 / 华容区, and 武汉市 beside 鄂州市."""
    province = make.unit("湖北省", level="province")
    ezhou = make.unit("鄂州市", province)
    echeng = make.unit("鄂城区", ezhou)
    huarong = make.unit("华容区", ezhou)
    wuhan = make.unit("武汉市", province)
    return SimpleNamespace(
        province=province, ezhou=ezhou, echeng=echeng, huarong=huarong, wuhan=wuhan
    )


def test_units_list_is_the_viewers_subtree(api, make, tree):

    everything = api.as_(make.admin()).get("/api/v1/units").get_json()
    assert [u["id"] for u in everything["items"]] == [
        u.id for u in sorted(vars(tree).values(), key=_path)
    ]

    mine = api.as_(make.coordinator(tree.ezhou)).get("/api/v1/units").get_json()["items"]
    assert {u["id"] for u in mine} == {tree.ezhou.id, tree.echeng.id, tree.huarong.id}
    assert next(u for u in mine if u["id"] == tree.echeng.id) == {
        "id": tree.echeng.id,
        "name": "鄂城区",
        "level": "district",
        "parent_id": tree.ezhou.id,
        "path": f"/{tree.province.id}/{tree.ezhou.id}/{tree.echeng.id}/",
    }

    leader = make.leader(make.team(tree.echeng))
    assert api.as_(leader).get("/api/v1/units").get_json()["items"] == []

    page = api.as_(make.admin()).get("/api/v1/units?limit=2&offset=1").get_json()
    assert [u["id"] for u in page["items"]] == [
        u.id for u in sorted(vars(tree).values(), key=_path)
    ][1:3]


def _path(unit):
    return unit.path


def test_coordinator_creates_units_inside_their_subtree_only(api, make, tree, row_counts):

    coordinator = api.as_(make.coordinator(tree.ezhou))

    response = coordinator.post(
        "/api/v1/units", json={"name": "凤凰街道", "parent_id": tree.echeng.id}
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["name"], body["level"], body["parent_id"]) == (
        "凤凰街道",
        "street",
        tree.echeng.id,
    )
    assert body["path"] == f"{tree.echeng.path}{body['id']}/"

    before = row_counts()
    outside = coordinator.post("/api/v1/units", json={"name": "江岸区", "parent_id": tree.wuhan.id})
    assert refused(outside, 404) == {"parent_id": "上级单位不存在"}
    root = coordinator.post("/api/v1/units", json={"name": "湖南省", "parent_id": None})
    assert refused(root, 422) == {"parent_id": "请选择上级单位"}
    blank = coordinator.post("/api/v1/units", json={"name": "  ", "parent_id": tree.echeng.id})
    assert refused(blank, 422) == {"name": "请填写单位名称"}
    assert row_counts() == before


def test_admin_creates_a_root_unit(api, make):
    response = api.as_(make.admin()).post(
        "/api/v1/units", json={"name": "湖北省", "parent_id": None, "level": "province"}
    )
    assert response.status_code == 201
    assert response.get_json()["parent_id"] is None


def test_leader_creates_no_units(api, make, tree):
    leader = make.leader(make.team(tree.echeng))
    response = api.as_(leader).post(
        "/api/v1/units", json={"name": "x", "parent_id": tree.echeng.id}
    )
    assert response.status_code == 404


def test_teams_list_is_scoped_and_filtered_by_unit(api, make, tree):

    in_echeng, in_huarong, in_wuhan = (
        make.team(tree.echeng),
        make.team(tree.huarong),
        make.team(tree.wuhan),
    )
    coordinator = api.as_(make.coordinator(tree.ezhou))

    listed = coordinator.get("/api/v1/teams").get_json()["items"]
    assert {t["id"] for t in listed} == {in_echeng.id, in_huarong.id}
    assert next(t for t in listed if t["id"] == in_echeng.id)["unit"] == {
        "id": tree.echeng.id,
        "name": "鄂城区",
    }

    filtered = coordinator.get(f"/api/v1/teams?unit_id={tree.huarong.id}").get_json()["items"]
    assert [t["id"] for t in filtered] == [in_huarong.id]
    assert coordinator.get(f"/api/v1/teams?unit_id={tree.wuhan.id}").status_code == 404

    leader = api.as_(make.leader(in_wuhan))
    assert [t["id"] for t in leader.get("/api/v1/teams").get_json()["items"]] == [in_wuhan.id]


def test_coordinator_creates_teams_inside_their_subtree_only(api, make, tree, row_counts):

    coordinator = api.as_(make.coordinator(tree.ezhou))

    response = coordinator.post(
        "/api/v1/teams",
        json={
            "unit_id": tree.echeng.id,
            "name": "鄂城区退役军人志愿服务队",
            "description": "应急救援",
        },
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["name"] == "鄂城区退役军人志愿服务队"
    assert body["unit"] == {"id": tree.echeng.id, "name": "鄂城区"}
    assert db.session.get(Team, body["id"]).unit_id == tree.echeng.id

    before = row_counts()
    outside = coordinator.post("/api/v1/teams", json={"unit_id": tree.wuhan.id, "name": "长江卫士"})
    assert refused(outside, 404) == {"unit_id": "所属单位不存在"}
    blank = coordinator.post("/api/v1/teams", json={"unit_id": tree.echeng.id, "name": ""})
    assert refused(blank, 422) == {"name": "请填写服务队名称"}
    assert row_counts() == before


def test_get_team(api, make):
    team = make.team(description="汛期巡堤")
    body = api.as_(make.leader(team)).get(f"/api/v1/teams/{team.id}").get_json()
    assert (body["id"], body["name"], body["description"]) == (team.id, team.name, "汛期巡堤")
    assert body["created_at"].endswith("+08:00")


def test_members_list_with_roles_and_full_phones(api, make):
    team = make.team()
    volunteer = make.member(team, name="阿强", skills="驾驶")
    leader = make.leader(team, name="张队长")
    make.member(make.team())  # another team's member is not listed
    body = api.as_(leader).get(f"/api/v1/teams/{team.id}/members").get_json()
    by_id = {m["person"]["id"]: m for m in body["items"]}
    assert {pid: m["role"] for pid, m in by_id.items()} == {
        leader.id: "leader",
        volunteer.id: "member",
    }
    assert by_id[volunteer.id]["person"]["phone"] == volunteer.phone
    assert by_id[volunteer.id]["person"]["phone_masked"] is False
    assert by_id[volunteer.id]["skills"] == "驾驶"


def test_add_member(api, make, row_counts):
    team = make.team()
    leader = api.as_(make.leader(team))

    response = leader.post(
        f"/api/v1/teams/{team.id}/members",
        json={"name": "刘建军", "phone": "+86 138-0013-8000", "skills": "急救"},
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["role"] == "member"
    assert body["person"]["name"] == "刘建军"
    assert body["person"]["phone"] == "+8613800138000"
    assert body["skills"] == "急救"
    assert db.session.scalar(
        select(Membership).where(
            Membership.team_id == team.id, Membership.person_id == body["person"]["id"]
        )
    )

    before = row_counts()
    again = leader.post(f"/api/v1/teams/{team.id}/members", json={"phone": "13800138000"})
    refused(again, 409)
    assert again.get_json()["code"] == "already-member"
    bad = leader.post(f"/api/v1/teams/{team.id}/members", json={"name": "x", "phone": "123"})
    assert "手机号码" in refused(bad, 422)["phone"]
    role = leader.post(
        f"/api/v1/teams/{team.id}/members",
        json={"name": "x", "phone": "13900009999", "role": "captain"},
    )
    assert refused(role, 422) == {"role": "角色应为以下之一：member、leader"}
    assert row_counts() == before


def test_a_known_person_is_invited_not_enrolled_and_not_named(api, make):
    """Issue 11: the phone of another team's leader neither enrols them nor tells the
    caller their stored name; the answer is 202 with the masked number and the name typed."""
    team, other = make.team(), make.team()
    known = make.leader(other, name="李队长")
    leader = api.as_(make.leader(team))
    before = _members(team.id)
    response = leader.post(
        f"/api/v1/teams/{team.id}/members",
        json={"phone": known.phone, "name": "老李", "role": "leader"},
    )
    assert response.status_code == 202
    national = known.phone.removeprefix("+86")
    assert response.get_json() == {
        "status": "invited",
        "phone": f"{national[:3]}****{national[-4:]}",
        "name": "老李",
    }
    assert "李队长" not in response.get_data(as_text=True)
    assert _members(team.id) == before
    invitation = db.session.scalar(select(TeamInvitation))
    assert (invitation.team_id, invitation.person_id, invitation.status) == (
        team.id,
        known.id,
        "pending",
    )
    # Again while pending: the same answer, still one invitation.
    again = leader.post(f"/api/v1/teams/{team.id}/members", json={"phone": known.phone})
    assert again.status_code == 202 and again.get_json()["name"] == ""
    assert len(db.session.scalars(select(TeamInvitation.id)).all()) == 1


def test_a_member_added_again_by_api_is_a_409(api, make):
    team = make.team()
    member = make.member(team)
    response = api.as_(make.leader(team)).post(
        f"/api/v1/teams/{team.id}/members", json={"phone": member.phone}
    )
    refused(response, 409)


def _members(team_id: int) -> list[int]:
    db.session.expire_all()
    return sorted(
        db.session.scalars(select(Membership.person_id).where(Membership.team_id == team_id))
    )


def test_ids_as_json_schema_integers(api, make, tree):
    """3.0 is an integer to JSON Schema, so the API takes it; "3" and true are not."""
    coordinator = api.as_(make.coordinator(tree.ezhou))
    created = coordinator.post(
        "/api/v1/teams", json={"unit_id": float(tree.echeng.id), "name": "甲"}
    )
    assert created.status_code == 201
    assert created.get_json()["unit"]["id"] == tree.echeng.id
    for wrong in (str(tree.echeng.id), True, tree.echeng.id + 0.5):
        response = coordinator.post("/api/v1/teams", json={"unit_id": wrong, "name": "乙"})
        assert refused(response, 422) == {"unit_id": "所属单位应为整数"}
