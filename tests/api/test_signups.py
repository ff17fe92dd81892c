from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.api.conftest import refused
from volunteer_hub.events.models import Shift
from volunteer_hub.extensions import db
from volunteer_hub.people.models import Person
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import Signup


@pytest.fixture
def team(make):
    return make.team()


@pytest.fixture
def as_leader(api, make, team):
    return api.as_(make.leader(team))


def _shift(make, team, **kwargs):
    return make.shifts_of(make.event(team, **kwargs))[0]


def test_sign_up_a_known_volunteer_by_phone_in_any_format(as_leader, make, team, row_counts):
    shift = _shift(make, team)
    volunteer = make.member(team, phone="+8613800138000")
    before = row_counts()

    response = as_leader.post(
        f"/api/v1/shifts/{shift.id}/signups", json={"phone": "138 0013 8000", "name": "别的名字"}
    )

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "confirmed"
    assert body["waitlist_position"] is None
    assert body["source"] == "api"
    assert body["person"] == {
        "id": volunteer.id,
        "name": volunteer.name,  # a known phone keeps its name
        "phone": "+8613800138000",  # a member of the leader's team: in full
        "phone_masked": False,
    }
    assert body["created_at"].endswith("+08:00")
    after = row_counts()
    assert after["person"] == before["person"]
    assert after["signup"] == before["signup"] + 1
    stored = db.session.get(Signup, body["id"])
    assert (stored.person_id, stored.status, stored.source) == (volunteer.id, "confirmed", "api")
    assert db.session.get(Shift, shift.id).filled == 1


def test_an_overseer_signs_up_an_unknown_phone_and_creates_the_person(api, make, team):
    coordinator = make.coordinator(team.unit)
    shift = _shift(make, team)
    response = api.as_(coordinator).post(
        f"/api/v1/shifts/{shift.id}/signups", json={"phone": "13900001111", "name": "王建国"}
    )
    assert response.status_code == 201
    body = response.get_json()
    person = db.session.scalar(select(Person).where(Person.phone == "+8613900001111"))
    assert person is not None and person.name == "王建国"
    # Not a member of any team the coordinator oversees: masked.
    assert body["person"]["phone"] == "139****1111"
    assert body["person"]["phone_masked"] is True


def test_an_admin_signs_up_another_teams_member(api, make, team):
    other = make.member(make.team())
    shift = _shift(make, team)
    response = api.as_(make.admin()).post(
        f"/api/v1/shifts/{shift.id}/signups", json={"phone": other.phone}
    )
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["person"]["id"] == other.id


@pytest.mark.parametrize("open_to_all", [False, True])
def test_a_leader_signs_up_only_members_of_the_team(as_leader, make, team, row_counts, open_to_all):
    """Another team's leader, someone in no team, an unknown phone: the same 403, no
    name, nobody created, nothing signed up; an open event changes nothing for this."""
    shift = _shift(make, team, **({"open_to_all": True} if open_to_all else {}))
    other_leader = make.leader(make.team(), name="李队长")
    loner = make.person(name="周某")
    before = row_counts()

    answers = [
        as_leader.post(
            f"/api/v1/shifts/{shift.id}/signups", json={"phone": phone, "name": "随便写"}
        )
        for phone in (other_leader.phone, loner.phone, "+8613900007777")
    ]

    for response in answers:
        refused(response, 403)
    bodies = [a.get_json() for a in answers]
    assert {b["code"] for b in bodies} == {"members-only"}
    assert len({b["detail"] for b in bodies}) == 1  # nothing tells who is registered
    assert team.name in bodies[0]["detail"]
    text = str(bodies)
    assert "李队长" not in text and "周某" not in text
    assert row_counts() == before
    assert db.session.scalar(select(Person).where(Person.phone == "+8613900007777")) is None


def test_a_leader_who_also_coordinates_elsewhere_is_still_only_a_leader_here(api, make, team):
    elsewhere = make.unit()
    leader = make.leader(team, coordinator_unit_id=elsewhere.id)
    shift = _shift(make, team)
    response = api.as_(leader).post(
        f"/api/v1/shifts/{shift.id}/signups", json={"phone": "13900003333", "name": "钱七"}
    )
    refused(response, 403)
    assert db.session.scalar(select(Person).where(Person.phone == "+8613900003333")) is None


def test_unknown_phone_without_a_name_is_refused(api, make, team, row_counts):
    shift = _shift(make, team)
    as_admin = api.as_(make.admin())
    before = row_counts()
    response = as_admin.post(f"/api/v1/shifts/{shift.id}/signups", json={"phone": "13900001111"})
    assert refused(response, 422) == {"name": "请填写姓名"}
    assert row_counts() == before


@pytest.mark.parametrize("phone", ["12345", "138001380001234", "电话号码", ""])
def test_bad_phone_is_refused_and_changes_nothing(as_leader, make, team, row_counts, phone):
    shift = _shift(make, team)
    before = row_counts()
    response = as_leader.post(
        f"/api/v1/shifts/{shift.id}/signups", json={"phone": phone, "name": "李四"}
    )
    fields = refused(response, 422)
    assert "手机号码" in fields["phone"], fields
    assert row_counts() == before


def test_full_shift_waitlists_with_position(as_leader, make, team):
    shift = _shift(make, team, capacity=1)
    members = [make.member(team) for _ in range(3)]
    answers = [
        as_leader.post(f"/api/v1/shifts/{shift.id}/signups", json={"phone": m.phone})
        for m in members
    ]
    assert [a.status_code for a in answers] == [201, 201, 201]
    bodies = [a.get_json() for a in answers]
    assert [b["status"] for b in bodies] == ["confirmed", "waitlisted", "waitlisted"]
    assert [b["waitlist_position"] for b in bodies] == [None, 1, 2]
    assert db.session.get(Shift, shift.id).filled == 1


def test_second_active_signup_is_409(as_leader, make, team, row_counts):
    shift = _shift(make, team)
    volunteer = make.member(team)
    first = as_leader.post(f"/api/v1/shifts/{shift.id}/signups", json={"phone": volunteer.phone})
    assert first.status_code == 201
    before = row_counts()

    second = as_leader.post(f"/api/v1/shifts/{shift.id}/signups", json={"phone": volunteer.phone})

    refused(second, 409)
    body = second.get_json()
    assert body["code"] == "already-signed-up"
    assert body["title"] == "与当前状态冲突"
    assert "已报名" in body["detail"]
    assert row_counts() == before
    assert db.session.get(Shift, shift.id).filled == 1


def test_signup_after_the_shift_started_is_409(api, make, team, row_counts):
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    shift = _shift(make, team, starts_at=started)
    as_admin = api.as_(make.admin())
    before = row_counts()
    response = as_admin.post(
        f"/api/v1/shifts/{shift.id}/signups", json={"phone": "13900002222", "name": "赵六"}
    )
    refused(response, 409)
    assert response.get_json()["code"] == "shift-started"
    assert row_counts() == before  # not even the new person


def test_signup_for_a_draft_is_409(as_leader, make, team):
    shift = _shift(make, team, status="draft")
    response = as_leader.post(
        f"/api/v1/shifts/{shift.id}/signups", json={"phone": make.member(team).phone}
    )
    refused(response, 409)
    assert response.get_json()["code"] == "event-not-open"


def test_roster_lists_confirmed_then_waitlist_with_positions(as_leader, make, team):
    # Open to all, so people of no team could sign up (by SMS).
    shift = _shift(make, team, capacity=1, open_to_all=True)
    member = make.member(team)
    outsider = make.person(phone="+8613512345678")
    third = make.person()
    for person in (outsider, member, third):
        signups.sign_up(shift.id, person.id, "sms")
    cancelled = signups.sign_up(_shift(make, team).id, make.member(team).id, "web").signup
    signups.cancel(cancelled.id)
    db.session.commit()

    response = as_leader.get(f"/api/v1/shifts/{shift.id}/signups")

    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [(i["person"]["id"], i["status"], i["waitlist_position"]) for i in items] == [
        (outsider.id, "confirmed", None),
        (member.id, "waitlisted", 1),
        (third.id, "waitlisted", 2),
    ]
    phones = {i["person"]["id"]: (i["person"]["phone"], i["person"]["phone_masked"]) for i in items}
    assert phones[outsider.id] == ("135****5678", True)
    assert phones[member.id] == (member.phone, False)


def test_delete_cancels_and_promotes_the_first_waitlisted(as_leader, make, team):
    shift = _shift(make, team, capacity=1)
    holder, first_waiting, second_waiting = (make.member(team) for _ in range(3))
    held = signups.sign_up(shift.id, holder.id, "web").signup
    promoted = signups.sign_up(shift.id, first_waiting.id, "web").signup
    still_waiting = signups.sign_up(shift.id, second_waiting.id, "web").signup
    db.session.commit()

    response = as_leader.delete(f"/api/v1/signups/{held.id}")

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["signup"]["id"] == held.id
    assert body["signup"]["status"] == "cancelled"
    assert body["signup"]["cancelled_at"].endswith("+08:00")
    assert body["promoted_signup_ids"] == [promoted.id]
    assert body["promoted_person_ids"] == [first_waiting.id]
    db.session.refresh(promoted)
    db.session.refresh(still_waiting)
    assert (promoted.status, still_waiting.status) == ("confirmed", "waitlisted")
    assert signups.waitlist_position(still_waiting) == 1
    assert db.session.get(Shift, shift.id).filled == 1

    again = as_leader.delete(f"/api/v1/signups/{held.id}")
    refused(again, 409)
    assert again.get_json()["code"] == "signup-not-active"


def test_delete_a_waitlisted_signup_promotes_nobody(as_leader, make, team):
    shift = _shift(make, team, capacity=1)
    signups.sign_up(shift.id, make.member(team).id, "web")
    waiting = signups.sign_up(shift.id, make.member(team).id, "web").signup
    db.session.commit()
    body = as_leader.delete(f"/api/v1/signups/{waiting.id}").get_json()
    assert body["signup"]["status"] == "cancelled"
    assert body["promoted_signup_ids"] == [] and body["promoted_person_ids"] == []


def test_unknown_signup_and_shift_are_404(as_leader):
    assert refused(as_leader.delete("/api/v1/signups/424242"), 404) == {}
    assert as_leader.get("/api/v1/shifts/424242/signups").status_code == 404
    response = as_leader.post(
        "/api/v1/shifts/424242/signups", json={"phone": "13900002222", "name": "赵六"}
    )
    assert response.status_code == 404
