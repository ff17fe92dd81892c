"""schemathesis against /api/v1/openapi.json: generated requests, valid and invalid, for
every operation, as an admin and as a team leader.

Each answer must be documented for its operation and match the documented schema
(schemathesis's checks), never be a 5xx, and every 4xx must be a problem document.
Ids in paths, queries and bodies are steered onto seeded rows half the time (and some
times and phone numbers onto usable ones), so the operations reach their rules and
writes, not only the 404 of an id that does not exist or the 422 of a random phone.

The document is read at import (schemathesis parametrizes at collection; its
fixture-based loader does not run on pytest 9.2) from an app holding only the API
blueprint; ``test_the_fuzzed_document_is_the_served_one`` checks it is the document the
app serves over WSGI. Requests go to the session's app in-process.
"""

from __future__ import annotations

import secrets
import zlib
from datetime import timedelta

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings

from tests import factories
from volunteer_hub.api.openapi import document
from volunteer_hub.api.problems import PROBLEM_MEDIA_TYPE
from volunteer_hub.api.schemas import MAX_ID
from volunteer_hub.api.views import bp as api_bp
from volunteer_hub.auth.models import ApiToken
from volunteer_hub.auth.permissions import viewer_for
from volunteer_hub.auth.services import TOKEN_PREFIX, hash_token
from volunteer_hub.calendar import services as feeds
from volunteer_hub.extensions import db
from volunteer_hub.signups import services as signups
from volunteer_hub.signups.models import SignupSource

pytestmark = pytest.mark.slow

#: generated cases per operation, role and mode (valid / invalid data)
EXAMPLES = 10
#: the whole run must have sent at least this many requests
MINIMUM_REQUESTS = 500
ROLES = ("admin", "leader")

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the checkout
    derandomize=True,  # the same requests on every run: what fails in CI fails locally
    suppress_health_check=list(HealthCheck),
)


def _document() -> dict:
    only_api = Flask("openapi-document")
    only_api.register_blueprint(api_bp)
    return document(only_api)


class _AppUnderTest:
    """WSGI entry of the session's app, which exists only once the fixtures have run."""

    app: Flask | None = None

    def __call__(self, environ, start_response):
        assert self.app is not None, "the seeded fixture sets the app"
        return self.app(environ, start_response)


app_under_test = _AppUnderTest()
#: one token for the run; each test gives it to the person it acts as. Fixed at import,
#: so schemathesis knows the header is ours and never generates (or drops) it.
TOKEN = TOKEN_PREFIX + secrets.token_urlsafe(32)
CONFIG = schemathesis.Config.from_dict(
    {
        "headers": {"Authorization": f"Bearer {TOKEN}"},
        "checks": {
            # Valid shapes may still break a rule the schema cannot state (a shift ending
            # before it starts, a new volunteer without a name): those answer 422; a
            # leader naming a phone outside the team answers 403 (members-only).
            "positive_data_acceptance": {"expected-statuses": ["2xx", "403", "404", "409", "422"]},
        },
    }
)
schema = schemathesis.openapi.from_dict(_document(), config=CONFIG)
schema.app = app_under_test  # requests (and the checks' probes) go in-process


class Seeded:
    """The rows ids are steered onto."""

    def __init__(self, ids: dict[str, list[int]]):
        self.ids = ids

    def steer(self, kind: str, value):
        ids = self.ids.get(kind)
        # Only valid ids, and half of them: an invalid one is what a negative case tests.
        if not ids or type(value) is not int or not 1 <= value <= MAX_ID or value % 2:
            return value
        return ids[(value // 2) % len(ids)]


_sent = {"requests": 0, "tests": 0}

ID_KINDS = {
    "team_id": "team",
    "event_id": "event",
    "shift_id": "shift",
    "signup_id": "signup",
    "feed_id": "feed",
    "unit_id": "unit",
    "parent_id": "unit",
}


def _steer(case, seeded: Seeded) -> None:
    """Half the valid ids onto seeded rows; in valid cases, half the shifts onto a time
    span that ends after it starts and half the phone numbers onto real mobile numbers,
    which random data almost never is."""

    def ids(values):
        if not isinstance(values, dict):
            return values
        steered = {
            name: seeded.steer(ID_KINDS[name], value) if name in ID_KINDS else value
            for name, value in values.items()
        }
        if isinstance(steered.get("scope"), str) and "id" in steered:
            steered["id"] = seeded.steer(steered["scope"], steered["id"])
        return steered

    case.path_parameters = ids(case.path_parameters)
    case.query = ids(case.query)
    body = case.body = ids(case.body)
    if not isinstance(body, dict) or not case.meta.generation.mode.is_positive:
        return
    phone = body.get("phone")
    if isinstance(phone, str) and zlib.crc32(phone.encode()) % 2:
        body["phone"] = f"+86138{zlib.crc32(phone.encode()) % 10**8:08d}"
        body["name"] = body.get("name") or "王建国"
    shifts = body.get("shifts")
    for index, shift in enumerate(shifts if isinstance(shifts, list) else ()):
        if isinstance(shift, dict) and shift.get("capacity", 0) % 2:
            starts = factories.future(48 + index)
            shift["starts_at"] = starts.isoformat()
            shift["ends_at"] = (starts + timedelta(hours=2)).isoformat()


@pytest.fixture
def seeded(request, app):
    """Two units with a team each, a leader, members signed up, an event of three
    shifts (one full, with a waitlist) and a feed; ``TOKEN`` is the admin's or the
    leader's."""
    make = factories
    city = make.unit("武汉市", level="city")
    district = make.unit("江岸区", parent=city)
    team = make.team(district, name="长江卫士应急救援队")
    other_team = make.team(make.unit("鄂州市", level="city"), name="鄂州护苗护学队")
    leader = make.leader(team, name="张队长")
    members = [make.member(team) for _ in range(3)]
    event = make.event(team, shifts=3, capacity=2)
    other_event = make.event(other_team, shifts=1)
    shifts = make.shifts_of(event)
    signup_ids = [
        signups.sign_up(shifts[0].id, person.id, SignupSource.API).signup.id for person in members
    ]
    db.session.commit()
    asking = make.admin(name="管理员") if request.param == "admin" else leader
    db.session.add(ApiToken(person_id=asking.id, name="fuzz", token_hash=hash_token(TOKEN)))
    feed_id = feeds.create_feed("team", team.id, [], viewer_for(asking)).feed.id
    db.session.commit()
    ids = {
        "unit": [city.id, district.id],
        "team": [team.id, other_team.id],
        "event": [event.id, other_event.id],
        "shift": [s.id for s in shifts],
        "signup": signup_ids,
        "feed": [feed_id],
        "person": [asking.id, members[0].id],
    }
    app_under_test.app = app
    _sent["tests"] += 1
    return Seeded(ids)


@pytest.fixture(scope="module", autouse=True)
def _enough_requests():
    yield
    expected = len(list(schema.get_all_operations())) * len(ROLES)
    print(f"\nschemathesis: {_sent['requests']} requests in {_sent['tests']} tests")
    if _sent["tests"] == expected:  # the whole module ran, not a selection of it
        assert _sent["requests"] >= MINIMUM_REQUESTS, _sent


@pytest.mark.parametrize("seeded", ROLES, indirect=True)
@schema.parametrize()
@FUZZ_SETTINGS
def test_api(case, seeded):
    _steer(case, seeded)
    response = case.call_and_validate()
    _sent["requests"] += 1
    assert response.status_code < 500, response.text[:1000]
    if 400 <= response.status_code < 500:
        media_type = response.headers.get("content-type", [""])[0].split(";")[0]
        assert media_type == PROBLEM_MEDIA_TYPE, (response.status_code, media_type)


def test_the_fuzzed_document_is_the_served_one(app):
    served = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    assert served.raw_schema == schema.raw_schema
    assert len(list(served.get_all_operations())) >= 16
