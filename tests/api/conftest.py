"""An API client for tests that checks every answer against the OpenAPI document:
the status must be documented for the operation, the media type must match, and the
body must validate against the documented schema."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from tests import factories
from tests.api.schema_check import resolve, validate
from volunteer_hub.api.openapi import document
from volunteer_hub.extensions import db
from volunteer_hub.models import Event, Membership, Person, Shift, Signup, Team, Unit


class ApiClient:
    def __init__(self, client, doc: dict[str, Any], token: str | None = None):
        self.client = client
        self.doc = doc
        self.token = token
        self.checked = 0

    def as_(self, person) -> ApiClient:
        """A client acting with a fresh token of ``person``."""
        return ApiClient(self.client, self.doc, factories.api_token(person))

    def anonymous(self) -> ApiClient:
        return ApiClient(self.client, self.doc, None)

    def request(self, method: str, url: str, **kwargs):
        headers = dict(kwargs.pop("headers", None) or {})
        if self.token and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.token}"
        response = self.client.open(url, method=method, headers=headers, **kwargs)
        self.check(method, url, response)
        return response

    def get(self, url, **kwargs):
        return self.request("GET", url, **kwargs)

    def post(self, url, **kwargs):
        return self.request("POST", url, **kwargs)

    def patch(self, url, **kwargs):
        return self.request("PATCH", url, **kwargs)

    def delete(self, url, **kwargs):
        return self.request("DELETE", url, **kwargs)

    def check(self, method: str, url: str, response) -> None:
        """The answer is what the document says this operation answers."""
        path = url.split("?", 1)[0]
        operation = find_operation(self.doc, method, path)
        if operation is None:
            # Not an operation of ours (unknown path, undocumented method): a problem.
            assert response.status_code in (404, 405), (method, url, response.status_code)
            assert response.mimetype == "application/problem+json"
            validate(response.get_json(), {"$ref": "#/components/schemas/Problem"}, self.doc)
            return
        responses = operation["responses"]
        status = str(response.status_code)
        assert status in responses, (
            f"{method} {url} answered {status}, not documented: "
            f"{response.get_data(as_text=True)[:500]}"
        )
        documented = responses[status]
        if "$ref" in documented:
            documented = resolve(self.doc, documented["$ref"])
        content = documented.get("content", {})
        assert response.mimetype in content, (method, url, response.mimetype, list(content))
        for name, header in documented.get("headers", {}).items():
            if header.get("required"):
                assert name in response.headers, (method, url, name)
        validate(response.get_json(), content[response.mimetype]["schema"], self.doc)
        self.checked += 1


def find_operation(doc: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    for template, item in doc["paths"].items():
        pattern = "^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            return item.get(method.lower())
    return None


@pytest.fixture
def openapi(app) -> dict[str, Any]:
    return document(app)


@pytest.fixture
def api(client, openapi) -> ApiClient:
    """``api.as_(person).get(...)``; every answer is checked against the document."""
    return ApiClient(client, openapi)


COUNTED = (Unit, Team, Person, Membership, Event, Shift, Signup)


@pytest.fixture
def row_counts():
    """``row_counts()`` → rows per table, to show a refused request changed nothing."""

    def counts() -> dict[str, int]:
        db.session.rollback()  # read what is committed, as another process would
        return {
            model.__tablename__: db.session.scalar(select(func.count()).select_from(model))
            for model in COUNTED
        }

    return counts


def problem_fields(response) -> dict[str, str]:
    """``{"shifts.0.capacity": "第 1 个班次：人数至少为 1"}`` from a problem answer."""
    assert response.mimetype == "application/problem+json", response.get_data(as_text=True)
    body = response.get_json()
    assert body["status"] == response.status_code
    return {error["field"]: error["message"] for error in body.get("errors", [])}


def refused(response, status: int) -> dict[str, str]:
    """The request was refused with ``status`` as a problem, and the session rolled back
    (nothing it did can be committed by anyone later). Returns the field errors."""
    assert response.status_code == status, response.get_data(as_text=True)[:1000]
    assert not db.session().in_transaction(), "the error handler left the transaction open"
    return problem_fields(response)
