"""RFC 9457 problem details, and the error handlers that answer with them under /api/.

Bad input changes nothing: an error answer ends its request with a rollback
(transactions.py), and a domain error is rolled back before its problem is built.
"""

from __future__ import annotations

import json

from flask import Blueprint, current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from volunteer_hub.errors import DomainError, ValidationFailed
from volunteer_hub.transactions import answer_domain_error

PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem(status: int, title: str, detail: str | None = None, **extra):
    body = {"type": "about:blank", "title": str(title), "status": status}
    if detail:
        body["detail"] = str(detail)
    body.update(extra)
    # UTF-8 like every successful answer (pydantic writes those): Chinese stays readable
    # instead of \uXXXX escapes, whatever the app's JSON provider is set to.
    return current_app.response_class(
        json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM_MEDIA_TYPE
    )


#: the title of each status; lazy, so that an answer translates only its own
_TITLES = {
    400: _l("请求有误"),
    401: _l("需要 API 令牌"),
    404: _l("未找到"),
    405: _l("不支持该请求方法"),
    409: _l("与当前状态冲突"),
    422: _l("输入有误"),
    429: _l("请求过于频繁"),
    500: _l("服务器内部错误"),
}
_OTHER_TITLE = _l("请求失败")


def title_for(status: int) -> str:
    return str(_TITLES.get(status, _OTHER_TITLE))


def from_domain_error(exc: DomainError):
    status = exc.status
    if isinstance(exc, ValidationFailed):
        errors = [{"field": field, "message": message} for field, message in exc.errors.items()]
    elif exc.field:
        errors = [{"field": exc.field, "message": exc.message}]
        if status == 400:
            # A rule refused one input field: the same answer as a schema error on it.
            status = 422
    else:
        errors = []
    return problem(status, title_for(status), exc.message, code=exc.code, errors=errors)


def register(bp: Blueprint) -> None:
    bp.register_error_handler(DomainError, _domain_error)
    bp.register_error_handler(ValidationError, _validation_error)
    bp.register_error_handler(HTTPException, _http_error)
    prefix = bp.url_prefix or "/"

    # Routing errors happen before a blueprint is known, so 405 needs an app-wide
    # handler; it leaves everything outside the API as it was.
    @bp.app_errorhandler(405)
    def _method_not_allowed(exc: HTTPException):
        if not request.path.startswith(prefix):
            return exc
        return _http_error(exc)


def _domain_error(exc: DomainError):
    return answer_domain_error(exc, from_domain_error)


def _validation_error(exc: ValidationError):
    from volunteer_hub.api.parsing import field_errors

    return from_domain_error(ValidationFailed(field_errors(None, exc)))


def _http_error(exc: HTTPException):
    status = exc.code or 500
    if status == 404:
        detail = _("没有这个资源，或您无权查看。")
    elif status == 405:
        detail = _("该地址不支持 %(method)s 请求。", method=request.method)
    elif status == 500:
        detail = _("服务器出错了，请稍后再试。")
    else:
        detail = exc.description
    response = problem(status, title_for(status), detail)
    valid_methods = getattr(exc, "valid_methods", None)
    if valid_methods:
        response.headers["Allow"] = ", ".join(valid_methods)
    return response
