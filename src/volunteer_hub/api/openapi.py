"""The OpenAPI 3.1 document, built from the app's own url_map and pydantic models.

Each API view is wrapped by ``@operation``, which parses its input with the declared
models and serialises its answer with the declared response model. The document reads
the same declarations off every rule of the blueprint, so a route cannot be missing
from it and a schema cannot differ from what the code accepts or returns.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from werkzeug.routing import Rule

from volunteer_hub.api.parsing import parse_body, parse_query
from volunteer_hub.api.problems import PROBLEM_MEDIA_TYPE
from volunteer_hub.api.schemas import MAX_ID, Problem

REF_TEMPLATE = "#/components/schemas/{model}"
SECURITY_SCHEME = "bearerAuth"
_RULE_ARGUMENT = re.compile(r"<(?:(?P<converter>[^:<>]+):)?(?P<name>\w+)>")

#: the problem answers every operation may give, by when they happen
PROBLEM_RESPONSES = {
    400: "请求体不是有效的 JSON，或请求与规则不符。Malformed JSON or a refused request.",
    401: "缺少或无效的 API 令牌。Missing or invalid bearer token.",
    403: "规则不允许：如队长为非本队队员报名（members-only）。Refused by a rule.",
    404: "资源不存在，或您无权查看。Not found, or not visible to you.",
    409: "与当前状态冲突：已报名、班次已开始、活动已取消等。Conflict with the current state.",
    422: "输入有误，errors 列出每个字段的问题。Invalid input, per field.",
    500: "服务器内部错误。Internal error.",
}


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    response: type[BaseModel] | None = None
    #: the schema of an answer that is not a model (the document itself)
    response_schema: dict[str, Any] | None = None
    status: int = 200
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: type[BaseModel] | None = None
    #: other successful answers: (status, model, description); a view returning an
    #: instance of one of these models is serialised with its status
    other_responses: tuple[tuple[int, type[BaseModel], str], ...] = ()
    #: problem statuses beyond those implied (401, 404 with path ids, 400/422 with input)
    problems: tuple[int, ...] = ()
    description: str = ""
    public: bool = False


def operation(summary: str = "", *, tag: str, **options: Any) -> Callable:
    """Declare an API view: its input models, its answer, the problems it may give.

    Without a ``summary`` the view's docstring gives it: its first paragraph is the
    summary, the rest the description (so the words sit with the code they describe).
    The view receives ``body=`` and ``query=`` as parsed models and returns a response
    model instance (serialised with ``status``) or a ready Flask response.
    """

    def decorate(view: Callable) -> Callable:
        op = Operation(**_words(summary, view.__doc__, options), tag=tag, **options)

        @functools.wraps(view)
        def wrapper(**view_args: Any):
            if op.query is not None:
                view_args["query"] = parse_query(op.query)
            if op.body is not None:
                view_args["body"] = parse_body(op.body, required=op.body_required)
            result = view(**view_args)
            if op.response is not None and isinstance(result, op.response):
                return current_app.response_class(
                    result.model_dump_json(), status=op.status, mimetype="application/json"
                )
            for status, model, _description in op.other_responses:
                if isinstance(result, model):
                    return current_app.response_class(
                        result.model_dump_json(), status=status, mimetype="application/json"
                    )
            return result

        wrapper.api_operation = op  # type: ignore[attr-defined]
        wrapper.api_public = op.public  # type: ignore[attr-defined]
        return wrapper

    return decorate


def creates(summary: str = "", *, tag: str, **options: Any) -> Callable:
    """``operation`` of a view that creates something: it answers 201."""
    return operation(summary, tag=tag, status=201, **options)


def _words(summary: str, docstring: str | None, options: dict[str, Any]) -> dict[str, str]:
    """The summary (and description, unless given) of an operation."""
    if summary or not docstring:
        return {"summary": summary}
    first, _, rest = inspect.cleandoc(docstring).partition("\n\n")
    words = {"summary": _unwrap(first)}
    if rest and "description" not in options:
        words["description"] = _unwrap(rest)
    return words


def _unwrap(text: str) -> str:
    """Lines of a docstring as one line: Chinese runs on without a space (also after
    or before full-width punctuation), English words keep theirs."""
    joined = ""
    for line in text.split():
        edge = {joined[-1:], line[0]}
        if joined and any(c.isascii() for c in edge) and not edge & _FULL_WIDTH_PUNCTUATION:
            joined += " "
        joined += line
    return joined


_FULL_WIDTH_PUNCTUATION = set("，。；：、（）“”！？")


def document(app: Flask, blueprint: str = "api") -> dict[str, Any]:
    """The OpenAPI document for every rule of ``blueprint``; built once per app."""
    key = f"volunteer_hub.openapi.{blueprint}"
    if key not in app.extensions:
        app.extensions[key] = _build(app, blueprint)
    return app.extensions[key]


def openapi_path(rule: str) -> str:
    """``/api/v1/teams/<int:team_id>`` → ``/api/v1/teams/{team_id}``."""
    return _RULE_ARGUMENT.sub(lambda m: "{" + m["name"] + "}", rule)


def _build(app: Flask, blueprint: str) -> dict[str, Any]:
    operations = _operations(app, blueprint)
    models = _Models(operations)
    paths: dict[str, dict[str, Any]] = {}
    for rule, op in sorted(operations, key=lambda item: item[0].rule):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            item = _path_item(rule, op, models)
            paths.setdefault(openapi_path(rule.rule), {})[method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "volunteer_hub API",
            "version": "1.0.0",
            "description": (
                "退役军人志愿服务队的单位、服务队、队员、活动与班次、报名。"
                "时间一律为带时区偏移的 ISO 8601（输出为 Asia/Shanghai，+08:00）；"
                "错误为 application/problem+json（RFC 9457），与成功的回答一样是 UTF-8。"
                "列表回答带 total（符合条件的总条数）和 next（下一页的地址，没有更多时为 null），"
                "按 limit 和 offset 翻页。"
            ),
        },
        "paths": paths,
        "components": {
            "schemas": models.schemas,
            "responses": _problem_responses(),
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "flask users token --phone … 生成的令牌",
                }
            },
        },
        "security": [{SECURITY_SCHEME: []}],
    }


def _operations(app: Flask, blueprint: str) -> list[tuple[Rule, Operation]]:
    """Every rule of the blueprint with its declaration; a rule without one is a bug."""
    operations = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint.partition(".")[0] != blueprint:
            continue
        op = getattr(app.view_functions[rule.endpoint], "api_operation", None)
        if op is None:
            raise RuntimeError(f"API view {rule.endpoint} is not declared with @operation")
        operations.append((rule, op))
    return operations


class _Models:
    """The JSON schemas of every model the operations name, as components to refer to."""

    def __init__(self, operations: list[tuple[Rule, Operation]]):
        wanted: list[tuple[type[BaseModel], str]] = [(Problem, "serialization")]
        for _rule, op in operations:
            named = [(op.body, "validation"), (op.query, "validation")]
            named.append((op.response, "serialization"))
            named += [(model, "serialization") for _status, model, _d in op.other_responses]
            for model, mode in named:
                if model is not None and (model, mode) not in wanted:
                    wanted.append((model, mode))
        self.refs, definitions = models_json_schema(wanted, ref_template=REF_TEMPLATE)
        self.schemas: dict[str, Any] = definitions.get("$defs", {})

    def ref(self, model: type[BaseModel], mode: str) -> dict[str, str]:
        return dict(self.refs[(model, mode)])

    def schema_of(self, model: type[BaseModel], mode: str) -> dict[str, Any]:
        return self.schemas[self.ref(model, mode)["$ref"].rsplit("/", 1)[1]]


def _path_item(rule: Rule, op: Operation, models: _Models) -> dict[str, Any]:
    item: dict[str, Any] = {
        "operationId": rule.endpoint.partition(".")[2],
        "summary": op.summary,
        "tags": [op.tag],
    }
    if op.description:
        item["description"] = op.description
    parameters = _path_parameters(rule.rule)
    if op.query is not None:
        parameters += _query_parameters(models.schema_of(op.query, "validation"))
    if parameters:
        item["parameters"] = parameters
    if op.body is not None:
        item["requestBody"] = {
            "required": op.body_required,
            "content": {"application/json": {"schema": models.ref(op.body, "validation")}},
        }
    responses: dict[str, Any] = {}
    if op.response is not None or op.response_schema is not None:
        schema = op.response_schema or models.ref(op.response, "serialization")
        responses[str(op.status)] = {
            "description": op.summary,
            "content": {"application/json": {"schema": schema}},
        }
    elif op.status == 204:
        responses["204"] = {"description": op.summary}
    for status, model, description in op.other_responses:
        responses[str(status)] = {
            "description": description,
            "content": {"application/json": {"schema": models.ref(model, "serialization")}},
        }
    for status in sorted(_problem_statuses(op, rule.arguments)):
        responses[str(status)] = {"$ref": f"#/components/responses/Problem{status}"}
    item["responses"] = responses
    if op.public:
        item["security"] = []
    return item


def _problem_responses() -> dict[str, Any]:
    problem_ref = {"$ref": REF_TEMPLATE.format(model="Problem")}
    responses: dict[str, Any] = {}
    for status, description in PROBLEM_RESPONSES.items():
        responses[f"Problem{status}"] = {
            "description": description,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": problem_ref}},
        }
    responses["Problem401"]["headers"] = {
        "WWW-Authenticate": {
            "description": 'Bearer realm="volunteer_hub"',
            "required": True,
            "schema": {"type": "string"},
        }
    }
    return responses


def _problem_statuses(op: Operation, arguments: set[str]) -> set[int]:
    statuses = {500, *op.problems}
    if not op.public:
        statuses.add(401)
    if arguments:
        statuses.add(404)
    if op.query is not None:
        statuses.add(422)
    if op.body is not None:
        statuses |= {400, 422}
    return statuses


def _path_parameters(rule: str) -> list[dict[str, Any]]:
    parameters = []
    for match in _RULE_ARGUMENT.finditer(rule):
        schema: dict[str, Any] = {"type": "string"}
        if (match["converter"] or "").startswith("int"):
            schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        parameters.append({"name": match["name"], "in": "path", "required": True, "schema": schema})
    return parameters


def _query_parameters(schema: dict[str, Any]) -> list[dict[str, Any]]:
    required = set(schema.get("required", ()))
    parameters = []
    for name, prop in schema.get("properties", {}).items():
        parameter: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {k: v for k, v in prop.items() if k not in ("title", "description")},
        }
        description = " ".join(filter(None, (prop.get("title"), prop.get("description"))))
        if description:
            parameter["description"] = description
        parameters.append(parameter)
    return parameters


def as_json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=1)
