"""The OpenAPI document is complete and consistent with the code it describes."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic.json_schema import models_json_schema

from tests.api.schema_check import ANNOTATIONS, CHECKED, SchemaMismatch, resolve, validate
from tests.api.test_events import event_body
from volunteer_hub.api import schemas
from volunteer_hub.api.openapi import REF_TEMPLATE, openapi_path

METHODS = {"get", "post", "put", "patch", "delete"}


def _refs(node: Any):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_served_without_a_token(client, openapi):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == openapi
    assert openapi["openapi"] == "3.1.0"


def test_every_api_rule_is_documented_and_nothing_else(app, openapi):
    documented = {
        (path, method)
        for path, item in openapi["paths"].items()
        for method in item
        if method in METHODS
    }
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routed.add((openapi_path(rule.rule), method.lower()))
    assert routed == documented
    assert len(routed) >= 16


def test_every_reference_resolves(openapi):
    refs = set(_refs(openapi))
    assert refs
    for ref in refs:
        assert resolve(openapi, ref) is not None, ref
    defined = set(openapi["components"]["schemas"])
    used = {ref.rsplit("/", 1)[1] for ref in refs if ref.startswith("#/components/schemas/")}
    assert used <= defined


def test_operations_are_complete(openapi):
    operation_ids = set()
    assert openapi["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": openapi["components"]["securitySchemes"]["bearerAuth"]["description"],
    }
    assert openapi["security"] == [{"bearerAuth": []}]
    for path, item in openapi["paths"].items():
        names = {part[1:-1] for part in path.split("/") if part.startswith("{")}
        for method, operation in item.items():
            assert operation["operationId"] not in operation_ids
            operation_ids.add(operation["operationId"])
            assert operation["summary"]
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (path, method)
            responses = operation["responses"]
            assert any(code.startswith("2") for code in responses), (path, method)
            assert "500" in responses
            if operation.get("security") == []:
                assert path == "/api/v1/openapi.json"
            else:
                assert "401" in responses, (path, method)
            if names:
                assert "404" in responses, (path, method)
            if "requestBody" in operation:
                assert {"400", "422"} <= set(responses), (path, method)
                content = operation["requestBody"]["content"]
                assert list(content) == ["application/json"]
            for code, response in responses.items():
                if code.startswith(("4", "5")):
                    target = resolve(openapi, response["$ref"])
                    assert list(target["content"]) == ["application/problem+json"]


def test_401_documents_the_challenge_header(openapi):
    unauthorized = openapi["components"]["responses"]["Problem401"]
    assert unauthorized["headers"]["WWW-Authenticate"]["required"] is True


def test_schemas_are_the_models_the_views_validate_with(openapi):
    _refs_by_model, generated = models_json_schema(
        [
            (schemas.EventCreate, "validation"),
            (schemas.EventUpdate, "validation"),
            (schemas.SignupCreate, "validation"),
            (schemas.EventOut, "serialization"),
            (schemas.SignupOut, "serialization"),
        ],
        ref_template=REF_TEMPLATE,
    )
    for name, schema in generated["$defs"].items():
        assert openapi["components"]["schemas"][name] == schema, name


def test_query_parameters_come_from_the_query_model(openapi):
    parameters = {p["name"]: p for p in openapi["paths"]["/api/v1/events"]["get"]["parameters"]}
    assert set(parameters) == {"team_id", "from", "to", "status", "limit", "offset"}
    assert parameters["from"]["schema"] == {"type": "string", "format": "date-time"}
    assert parameters["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 200,
        "default": 50,
    }
    assert not any(p["required"] for p in parameters.values())


def test_request_schemas_accept_what_the_api_accepts_and_refuse_naive_times(openapi, make):
    team = make.team()
    create = {"$ref": "#/components/schemas/EventCreate"}
    good = event_body(team)
    validate(good, create, openapi)
    naive = event_body(team)
    naive["shifts"][0]["starts_at"] = "2030-07-01T09:00:00"
    with pytest.raises(SchemaMismatch):
        validate(naive, create, openapi)
    with pytest.raises(SchemaMismatch):
        validate({**good, "capcity": 1}, create, openapi)
    with pytest.raises(SchemaMismatch):
        validate({**good, "shifts": [{**good["shifts"][0], "capacity": 0}]}, create, openapi)


def test_the_test_checker_knows_every_keyword_in_the_document(openapi):
    """schema_check refuses unknown keywords when it meets them; this makes sure it
    would meet none, so no part of a schema goes unchecked in the other tests."""

    def keywords(schema: Any, found: set[str]):
        if isinstance(schema, dict):
            for key, value in schema.items():
                found.add(key)
                if key == "properties":
                    for sub in value.values():
                        keywords(sub, found)
                elif key in ("items", "additionalProperties"):
                    keywords(value, found)
                elif key in ("anyOf", "oneOf", "allOf"):
                    for sub in value:
                        keywords(sub, found)

    found: set[str] = set()
    for schema in openapi["components"]["schemas"].values():
        keywords(schema, found)
    assert found <= CHECKED | ANNOTATIONS, found - CHECKED - ANNOTATIONS
