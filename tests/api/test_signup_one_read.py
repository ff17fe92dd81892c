"""The API sign-up reads the shift, the viewer's right to see it and the person in one
statement (``one_read.sign_up_by_phone``), and answers from the values it wrote: what
that read decides must be what the rules decided before it."""

from __future__ import annotations

import pytest

from tests.api.conftest import refused
from volunteer_hub.events.models import Event, Shift
from volunteer_hub.extensions import db
from volunteer_hub.signups import services as signups


def _shift(make, team, **kwargs):
    return make.shifts_of(make.event(team, **kwargs))[0]


def test_a_duplicate_is_refused_before_it_takes_a_seat(api, make, statements):
    team = make.team()
    shift = _shift(make, team)
    as_leader = api.as_(make.leader(team))
    volunteer = make.member(team)
    url = f"/api/v1/shifts/{shift.id}/signups"
    assert as_leader.post(url, json={"phone": volunteer.phone}).status_code == 201
    statements.clear()

    second = as_leader.post(url, json={"phone": volunteer.phone})

    refused(second, 409)
    assert second.get_json()["code"] == "already-signed-up"
    seat_or_lock = [
        s for s in statements if s.startswith(("UPDATE", "INSERT")) or "FOR UPDATE" in s
    ]
    assert seat_or_lock == [], "the seat was claimed and given back, or the shift locked"
    assert db.session.get(Shift, shift.id).filled == 1


def test_the_unique_index_still_refuses_a_duplicate_the_read_did_not_see(make):
    # Two requests for the same person at the same moment both read "not on the shift";
    # the second INSERT finds the first's row and gives its seat back.
    team = make.team()
    shift = _shift(make, team)
    volunteer = make.member(team)
    signups.sign_up(shift.id, volunteer.id, "api")
    facts = signups.ShiftFacts.of(shift, db.session.get(Event, shift.event_id), team)

    with pytest.raises(signups.AlreadySignedUp):
        signups.place(facts, volunteer.id, volunteer.phone, "api", None, signups.utcnow())

    assert db.session.get(Shift, shift.id).filled == 1


def test_a_seat_freed_after_the_read_saw_the_shift_full_is_taken(make):
    # The read is no lock: the seat the lock finds free is claimed, not waitlisted.
    team = make.team()
    shift = _shift(make, team, capacity=1)
    volunteer = make.member(team)
    facts = signups.ShiftFacts.of(shift, db.session.get(Event, shift.event_id), team)

    result = signups.place(
        facts, volunteer.id, volunteer.phone, "api", None, signups.utcnow(), seen_full=True
    )

    assert (result.confirmed, result.waitlist_position) == (True, None)
    assert db.session.get(Shift, shift.id).filled == 1


def test_the_answer_is_the_row_as_stored(api, make):
    team = make.team()
    shift = _shift(make, team, capacity=1)
    as_leader = api.as_(make.leader(team))
    url = f"/api/v1/shifts/{shift.id}/signups"
    answers = [
        as_leader.post(url, json={"phone": make.member(team).phone}).get_json() for _ in range(2)
    ]
    db.session.expire_all()

    roster = as_leader.get(url).get_json()["items"]

    assert [a["status"] for a in answers] == ["confirmed", "waitlisted"]
    assert answers == roster


def test_an_overseer_s_new_person_is_answered_as_stored(api, make):
    team = make.team()
    shift = _shift(make, team)
    as_coordinator = api.as_(make.coordinator(team.unit))
    url = f"/api/v1/shifts/{shift.id}/signups"
    answer = as_coordinator.post(url, json={"phone": "13900003333", "name": " 新人 "}).get_json()
    db.session.expire_all()

    [stored] = as_coordinator.get(url).get_json()["items"]

    assert answer["person"]["name"] == "新人"
    assert answer == stored


@pytest.mark.parametrize(
    "who", ["admin", "coordinator", "parent coordinator", "other coordinator", "leader", "other"]
)
def test_who_may_sign_up_is_who_may_see_the_shift(api, make, who):
    parent = make.unit()
    unit = make.unit(parent=parent)
    team = make.team(unit)
    shift = _shift(make, team)
    person = {
        "admin": lambda: make.admin(),
        "coordinator": lambda: make.coordinator(unit),
        "parent coordinator": lambda: make.coordinator(parent),
        "other coordinator": lambda: make.coordinator(make.unit()),
        "leader": lambda: make.leader(team),
        "other": lambda: make.leader(make.team(make.unit())),
    }[who]()
    client = api.as_(person)
    url = f"/api/v1/shifts/{shift.id}/signups"
    sees = client.get(url).status_code  # queries.visible_shift decides

    answer = client.post(url, json={"phone": make.member(team).phone})

    assert sees in (200, 404)
    assert (answer.status_code == 404) == (sees == 404), answer.get_json()
    if sees == 404:
        assert answer.get_json()["detail"] == "班次不存在"


def test_an_invalid_phone_on_a_shift_one_may_not_see_is_404(api, make):
    shift = _shift(make, make.team())
    stranger = api.as_(make.leader(make.team()))

    answer = stranger.post(f"/api/v1/shifts/{shift.id}/signups", json={"phone": "12"})

    assert answer.status_code == 404


def test_a_sign_up_reads_once_and_its_side_effects_load_nothing(api, make, statements):
    team = make.team()
    shift = _shift(make, team, capacity=1)
    as_coordinator = api.as_(make.coordinator(team.unit))
    url = f"/api/v1/shifts/{shift.id}/signups"
    as_coordinator.get(url)  # the token's first use is recorded (an UPDATE of its own)

    for phone, name in (("13900004444", "甲"), ("13900005555", "乙")):
        statements.clear()
        assert as_coordinator.post(url, json={"phone": phone, "name": name}).status_code == 201
        kinds = [" ".join(s.split()[:3]) for s in statements]

        # the token; the one read; the new person, the seat and the signup (one statement
        # on PostgreSQL); the confirmation text and the feed change (one statement on
        # PostgreSQL, held_writes). Nothing else. A shift the read saw full is not tried
        # first: its lock says whether a seat came free (on PostgreSQL, the new person's
        # INSERT rides in the lock's statement).
        on_postgresql = db.engine.dialect.name == "postgresql"
        if name == "乙" and on_postgresql:
            seated = ["WITH NEW_PERSON AS", "INSERT INTO SIGNUP"]
        elif name == "乙":
            seated = ["INSERT INTO PERSON", "SELECT SHIFT.FILLED <", "INSERT INTO SIGNUP"]
        elif on_postgresql:
            seated = ["WITH NEW_PERSON AS"]
        else:
            seated = ["INSERT INTO PERSON", "UPDATE SHIFT SET", "INSERT INTO SIGNUP"]
        if on_postgresql:
            side_rows = ["WITH W0 AS"]
        else:
            side_rows = ["INSERT INTO OUTGOING_SMS", "INSERT INTO FEED_CHANGE"]
        assert kinds == [
            "SELECT API_TOKEN.ID, API_TOKEN.LAST_USED_AT,",
            "SELECT SHIFT.ID AS",
            *seated,
            *side_rows,
        ]
        if on_postgresql:
            assert "INSERT INTO OUTGOING_SMS" in statements[-1], statements[-1]
            assert "INSERT INTO FEED_CHANGE" in statements[-1], statements[-1]


def test_a_member_s_number_is_shown_in_full_without_asking_again(api, make, statements):
    team = make.team()
    shift = _shift(make, team)
    as_leader = api.as_(make.leader(team))
    url = f"/api/v1/shifts/{shift.id}/signups"
    as_leader.get(url)  # the token's first use is recorded (an UPDATE of its own)
    volunteer = make.member(team)
    statements.clear()

    answer = as_leader.post(url, json={"phone": volunteer.phone}).get_json()

    assert answer["person"]["phone"] == volunteer.phone
    assert answer["person"]["phone_masked"] is False
    assert not [s for s in statements if "FROM MEMBERSHIP" in s.split(" JOIN ")[0]]


def test_a_member_of_another_team_one_oversees_is_shown_in_full_too(api, make):
    unit = make.unit()
    team, other_team = make.team(unit), make.team(unit)
    shift = _shift(make, team)
    as_coordinator = api.as_(make.coordinator(unit))
    stranger_here = make.member(other_team)

    answer = as_coordinator.post(
        f"/api/v1/shifts/{shift.id}/signups", json={"phone": stranger_here.phone}
    ).get_json()

    assert (answer["person"]["phone"], answer["person"]["phone_masked"]) == (
        stranger_here.phone,
        False,
    )


def test_a_sign_up_hands_its_handlers_what_it_read_in_the_event(make, monkeypatch):
    from volunteer_hub import domain_events
    from volunteer_hub.domain_events import SignupPlaced

    team = make.team()
    event = make.event(team, title="堤防巡查", location="东堤")
    shift = make.shifts_of(event)[0]
    person = make.member(team)
    published = []
    publish = domain_events.publish

    def recording(event):
        published.append(event)
        publish(event)

    monkeypatch.setattr(signups, "publish", recording)

    result = signups.sign_up(shift.id, person.id, "web")

    [placed] = [event for event in published if isinstance(event, SignupPlaced)]
    facts = placed.facts
    assert placed.signup_id == result.placed.id
    assert (facts.status, facts.person_id, facts.phone) == ("confirmed", person.id, person.phone)
    assert (facts.event_id, facts.code, facts.starts_at) == (
        shift.event_id,
        shift.code,
        shift.starts_at,
    )
    assert (facts.title, facts.location, facts.team_name) == ("堤防巡查", "东堤", team.name)
