import pytest

from tests.sms.conftest import fake_twilio, twilio_gateway  # noqa: F401  (shared fixtures)
from volunteer_hub.extensions import db


@pytest.fixture
def scene(make):
    """A unit of two teams: a leader and four members in one, three people in the other,
    a coordinator of the unit, and an event of the first with one shift of two seats."""
    unit = make.unit()
    team, other = make.team(unit), make.team(unit)
    leader = make.leader(team)
    members = [make.member(team) for _ in range(4)]
    outsiders = [make.member(other) for _ in range(3)]
    event = make.event(team, capacity=2)
    shift = make.shifts_of(event)[0]
    db.session.commit()
    return {
        "unit": unit,
        "team": team,
        "other": other,
        "leader": leader,
        "coordinator": make.coordinator(unit),
        "members": members,
        "outsiders": outsiders,
        "event": event,
        "shift": shift,
    }
