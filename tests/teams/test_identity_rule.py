"""The identity rule itself (auth.permissions.may_edit_identity), which every channel
goes through (teams.services.update_member)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.teams.conftest import join
from volunteer_hub.auth.permissions import may_edit_identity, viewer_for
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.units.models import Unit


def city(world):
    return db.session.scalar(select(Unit).where(Unit.name == "鄂州市"))


def identity(person_id: int) -> tuple[str, str, str]:
    db.session.expire_all()
    person = db.session.get(Person, person_id)
    return person.name, person.phone, person.skills


def may(viewer_person, person) -> bool:
    return may_edit_identity(viewer_for(viewer_person), person.id)


def test_rule_for_leaders(world, make):
    assert may(world.leader_a, world.member_a)  # only in A
    assert may(world.leader_a, world.leader_a)  # their own
    join(world.team_a, world.member_b)
    assert not may(world.leader_a, world.member_b)  # also in B
    assert may(world.leader_b, world.member_a) is False  # not in B at all
    second_leader = make.leader(world.team_a)
    assert not may(world.leader_a, second_leader)  # staff, even of the same team
    coordinator = make.coordinator(world.district_y)
    join(world.team_a, coordinator)
    assert not may(world.leader_a, coordinator)  # staff
    assert not may(world.leader_a, make.admin())
    volunteer = make.person()  # in no team: nobody's to vouch for
    assert not may(world.leader_a, volunteer)


def test_rule_for_coordinators_and_admins(world, make):
    ezhou = make.coordinator(city(world))
    admin = make.admin()
    join(world.team_a, world.member_b)
    assert may(ezhou, world.member_b) and may(admin, world.member_b)
    assert not may(world.coordinator_x, world.member_b) and not may(
        world.coordinator_y, world.member_b
    )
    assert may(world.coordinator_x, world.member_a)
    # Leaders: only a coordinator above all their teams.
    assert may(world.coordinator_x, world.leader_a)
    assert may(ezhou, world.leader_b)
    assert not may(world.coordinator_x, world.leader_b)
    # Coordinators: only from strictly above; a peer of the same unit may not.
    assert may(ezhou, world.coordinator_x)
    assert not may(world.coordinator_y, world.coordinator_x)
    peer = make.coordinator(world.district_x)
    assert not may(peer, world.coordinator_x)
    assert not may(ezhou, make.coordinator(city(world)))
    # Admin accounts: admins only.
    other_admin = make.admin()
    join(world.team_a, other_admin)
    assert not may(ezhou, other_admin) and may(admin, other_admin)


@pytest.mark.parametrize("field", ["name", "phone"])
def test_update_member_refuses_whatever_the_channel(world, field):
    from volunteer_hub.teams.services import IdentityLocked, update_member

    join(world.team_a, world.leader_b)
    values = {"name": None, "phone": None, "skills": None}
    values[field] = "新名字" if field == "name" else "13700007777"
    with pytest.raises(IdentityLocked):
        update_member(
            world.team_a.id,
            world.leader_b.id,
            values["name"],
            values["phone"],
            "member",
            values["skills"],
            viewer=viewer_for(world.leader_a),
        )
    db.session.rollback()
    assert identity(world.leader_b.id)[:2] == ("李队长", world.leader_b.phone)
