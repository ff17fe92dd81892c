"""A small JSON Schema (2020-12) checker for the subset our OpenAPI document uses.

jsonschema is not among the project's dependencies; this checks every keyword the
document contains and refuses any keyword it does not know, so a schema feature added
later cannot be silently ignored by the tests.
"""

from __future__ import annotations

import re
from typing import Any

#: keywords that only annotate
ANNOTATIONS = {"title", "description", "default", "examples", "deprecated", "readOnly"}
CHECKED = {
    "$ref",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "anyOf",
    "allOf",
    "oneOf",
    "enum",
    "const",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "pattern",
    "format",
}
RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "array": lambda v: isinstance(v, list),
    "object": lambda v: isinstance(v, dict),
    "null": lambda v: v is None,
}


class SchemaMismatch(AssertionError):
    pass


def resolve(root: dict[str, Any], ref: str) -> dict[str, Any]:
    assert ref.startswith("#/"), ref
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def validate(value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = "$") -> None:
    unknown = set(schema) - CHECKED - ANNOTATIONS
    if unknown:
        raise SchemaMismatch(f"{path}: keywords this checker does not know: {sorted(unknown)}")
    if "$ref" in schema:
        validate(value, resolve(root, schema["$ref"]), root, path)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(TYPES[t](value) for t in types):
            raise SchemaMismatch(f"{path}: {value!r} is not of type {types}")
    if "enum" in schema and value not in schema["enum"]:
        raise SchemaMismatch(f"{path}: {value!r} not in {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        raise SchemaMismatch(f"{path}: {value!r} != {schema['const']!r}")
    if "anyOf" in schema:
        _one_or_more(value, schema["anyOf"], root, path, exactly_one=False)
    if "oneOf" in schema:
        _one_or_more(value, schema["oneOf"], root, path, exactly_one=True)
    for sub in schema.get("allOf", ()):
        validate(value, sub, root, path)
    if isinstance(value, str):
        if len(value) > schema.get("maxLength", len(value)):
            raise SchemaMismatch(f"{path}: longer than {schema['maxLength']}")
        if len(value) < schema.get("minLength", 0):
            raise SchemaMismatch(f"{path}: shorter than {schema['minLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise SchemaMismatch(f"{path}: {value!r} does not match {schema['pattern']}")
        if schema.get("format") == "date-time" and not RFC3339.fullmatch(value):
            raise SchemaMismatch(f"{path}: {value!r} is not an RFC 3339 date-time")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            raise SchemaMismatch(f"{path}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            raise SchemaMismatch(f"{path}: {value} > {schema['maximum']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0) or len(value) > schema.get(
            "maxItems", len(value)
        ):
            raise SchemaMismatch(f"{path}: {len(value)} items out of bounds")
        if "items" in schema:
            for index, item in enumerate(value):
                validate(item, schema["items"], root, f"{path}[{index}]")
    if isinstance(value, dict):
        for name in schema.get("required", ()):
            if name not in value:
                raise SchemaMismatch(f"{path}: missing required property {name!r}")
        properties = schema.get("properties", {})
        for name, item in value.items():
            if name in properties:
                validate(item, properties[name], root, f"{path}.{name}")
            elif schema.get("additionalProperties") is False:
                raise SchemaMismatch(f"{path}: property {name!r} is not allowed")
            elif isinstance(schema.get("additionalProperties"), dict):
                validate(item, schema["additionalProperties"], root, f"{path}.{name}")


def _one_or_more(value, options, root, path, *, exactly_one: bool) -> None:
    passed = 0
    failures = []
    for option in options:
        try:
            validate(value, option, root, path)
            passed += 1
        except SchemaMismatch as exc:
            failures.append(str(exc))
    if passed == 0 or (exactly_one and passed > 1):
        raise SchemaMismatch(f"{path}: {passed} of the alternatives match: {failures}")
