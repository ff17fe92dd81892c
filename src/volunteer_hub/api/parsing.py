"""Request bodies and query strings into models; pydantic's errors into Chinese, per field.
Ids in the input that name what the viewer cannot see: a 404 on that field.

Every error names its field twice: as a path a program can use (``shifts.0.capacity``)
and in the message a person reads (第 1 个班次：人数至少为 1). The labels are the
``title`` of each model field, so they live beside the fields they describe.
"""

from __future__ import annotations

import re
import types
import typing
from typing import Any, TypeVar

from flask import request
from flask_babel import gettext as _
from pydantic import BaseModel, ValidationError

from volunteer_hub import queries
from volunteer_hub.auth.permissions import Viewer
from volunteer_hub.boundary import clean_json_text
from volunteer_hub.errors import DomainError, NotFound, ValidationFailed
from volunteer_hub.units.models import Unit

M = TypeVar("M", bound=BaseModel)


def unit_of_field(viewer: Viewer, unit_id: int, *, field: str, message: str) -> Unit:
    """The unit an input field names, if the viewer may see it; else a 404 on that field."""
    try:
        return queries.visible_unit(viewer, unit_id)
    except NotFound:
        raise NotFound(message, field=field) from None


class MalformedJson(DomainError, code="malformed-json"):
    """The request has no body where one is required, or the body is not JSON."""


def parse_body(model: type[M], *, required: bool = True) -> M:
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise MalformedJson(_("缺少请求体：请发送 JSON 对象"))
        raw = b"{}"
    try:
        # The text itself, not Python values: strict models keep JSON's own types.
        return model.model_validate_json(clean_json_text(raw))
    except ValidationError as exc:
        malformed = [e for e in exc.errors(include_url=False) if e["type"] == "json_invalid"]
        if malformed:
            reason = (malformed[0].get("ctx") or {}).get("error", "")
            raise MalformedJson(_("请求体不是有效的 JSON：%(reason)s", reason=reason)) from None
        raise ValidationFailed(field_errors(model, exc)) from None


def parse_query(model: type[M]) -> M:
    try:
        return model.model_validate_strings(request.args.to_dict())
    except ValidationError as exc:
        errors = field_errors(model, exc)
        for name, value in request.args.items():
            if name not in errors:
                continue
            if not value.strip():
                # "unit_id=&from=", as a URL template leaves it: say how not to filter.
                errors[name] += _("（不按此项筛选时请省去该参数）")
            elif " " in value and "T" in value:
                # A "+" in a query string is a space once decoded.
                errors[name] += _("（网址里的 + 要写成 %2B）")
        raise ValidationFailed(errors) from None


def field_errors(model: type[BaseModel] | None, exc: ValidationError) -> dict[str, str]:
    """``{"shifts.0.capacity": "第 1 个班次：人数至少为 1"}``; the first error per field."""
    errors: dict[str, str] = {}
    for error in exc.errors(include_url=False):
        path, label, prefix = _describe(model, error["loc"], error["type"])
        field = ".".join(str(part) for part in path) or "body"
        errors.setdefault(field, prefix + _message(error, label))
    return errors


def _describe(
    model: type[BaseModel] | None, loc: tuple[int | str, ...], error_type: str
) -> tuple[list[int | str], str, str]:
    """The field path (aliases, list indexes; no union tags), its label and the prefix
    naming the list item it sits in."""
    path: list[int | str] = []
    label = _("请求体")
    prefix = ""
    current: Any = model
    for position, part in enumerate(loc):
        if isinstance(part, int):
            path.append(part)
            prefix = _("第 %(n)d 个%(item)s：", n=part + 1, item=label)
            current = _item_type(current)
            continue
        field = _field(current, part)
        if field is not None:
            name, info = field
            path.append(name)
            label = info.title or name
            current = _unwrap(info.annotation)
        elif (error_type == "extra_forbidden" and position == len(loc) - 1) or model is None:
            path.append(part)
            label = str(part)
        # otherwise a union or validator tag pydantic adds to the location: not a field
    return path, label, prefix


def _field(model: Any, key: str):
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return None
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return info.alias or name, info
    return None


def _unwrap(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            inner = _unwrap(arg)
            if inner is not type(None):
                return inner
    return annotation


def _item_type(annotation: Any) -> Any:
    if typing.get_origin(annotation) is list:
        return _unwrap(typing.get_args(annotation)[0])
    return None


def _message(error: dict[str, Any], label: str) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return _("请填写%(label)s", label=label)
    if kind == "extra_forbidden":
        return _("不认识的字段：%(label)s", label=label)
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return _("%(label)s应为 JSON 对象", label=label)
    if kind == "string_type":
        return _("%(label)s应为字符串", label=label)
    if kind in ("int_type", "int_parsing", "int_from_float", "int_parsing_size"):
        return _("%(label)s应为整数", label=label)
    if kind in ("bool_type", "bool_parsing"):
        return _("%(label)s应为 true 或 false", label=label)
    if kind == "list_type":
        return _("%(label)s应为数组", label=label)
    if kind == "string_too_short":
        return _("%(label)s不能为空", label=label)
    if kind == "string_too_long":
        return _("%(label)s不能超过 %(n)d 个字", label=label, n=ctx.get("max_length", 0))
    if kind == "too_short":
        return _("%(label)s至少需要 %(n)d 个", label=label, n=ctx.get("min_length", 0))
    if kind == "too_long":
        return _("%(label)s不能超过 %(n)d 个", label=label, n=ctx.get("max_length", 0))
    if kind == "greater_than_equal":
        return _("%(label)s至少为 %(n)s", label=label, n=ctx.get("ge"))
    if kind == "less_than_equal":
        return _("%(label)s不能大于 %(n)s", label=label, n=ctx.get("le"))
    if kind in ("literal_error", "enum"):
        # pydantic lists them as "'a', 'b' or 'c'"
        expected = re.sub(r"', '|' or '", "、", str(ctx.get("expected", ""))).strip("'")
        return _("%(label)s应为以下之一：%(expected)s", label=label, expected=expected)
    if kind == "string_pattern_mismatch":  # the only pattern: something besides spaces
        return _("请填写%(label)s", label=label)
    if kind == "timezone_aware":
        return _("%(label)s必须带时区偏移，如 2025-07-01T09:00:00+08:00", label=label)
    if kind == "date_iso":
        return _("%(label)s应为日期，如 2026-07-01", label=label)
    if kind.startswith(("datetime", "date_")):
        if kind == "datetime_range":
            return _("%(label)s超出范围（2000–2099 年）", label=label)
        return _(
            "%(label)s应为带时区偏移的 ISO 8601 时间，如 2025-07-01T09:00:00+08:00",
            label=label,
        )
    if kind == "category_ref":
        return _("%(label)s应为类别名称或编号", label=label)
    return _("%(label)s不正确：%(reason)s", label=label, reason=error.get("msg", ""))
