"""One transaction per request, ended in one place: views never commit or roll back.

A view parses its input, calls services and returns its answer. When it has answered,
``_end`` (the last ``after_request`` hook) ends the request's transaction by one rule:

- a request that changes things (POST, PUT, PATCH, DELETE) whose answer is a success
  (status below 400, redirects included) is committed, and the after-commit queue
  (``after_commit``) runs, as after any commit;
- everything else is rolled back: every error answer, and every GET, HEAD and OPTIONS
  request, so reading a page never writes by accident. The two reads that do mean to
  write commit on their own, where they write: a feed built on its first fetch
  (calendar/views.py) and an API token's last-use time (api/auth.py).

Flask builds the answer before ``_end`` runs, so a flash or a redirect is sent only with
a committed transaction: if the commit fails, the request fails (500) instead.

A domain error is rolled back before any answer to it is rendered: the page then shows
committed rows only, and a flush that failed cannot break the error page's queries. The
DomainError handlers (web.py for pages, api/problems.py for JSON) call
``answer_domain_error``, which rolls back and answers with what the view declared before
calling its service (``on_domain_error``: its form again with the errors, a flash and a
redirect back), or with the handler's default answer.

Any other exception: Flask answers 500, after which ``_end`` rolls back; where Flask
re-raises instead (testing), the teardown does.

Nothing is committed before the answer is built, so an answer read after a write sees
the session's own objects; where a service changed rows around the ORM, ``read_back``
makes the answer read them as the commit will leave them (the API's event answers).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, flash, g, redirect, request

from volunteer_hub.errors import DomainError
from volunteer_hub.extensions import db

#: methods that only read: their transaction is never committed here
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_RESPOND = "volunteer_hub.on_domain_error"

Respond = Callable[[DomainError], Any]


def init_app(app: Flask) -> None:
    """Install the rule; call it before any other ``after_request`` hook is registered,
    so that ``_end`` runs after all of them (Flask runs them in reverse order)."""
    app.after_request(_end)
    app.teardown_request(_teardown)


def on_domain_error(
    respond: Respond | None = None,
    *,
    back: str | None = None,
    only: type[DomainError] = DomainError,
    unless: type[DomainError] | tuple[()] = (),
) -> None:
    """Answer a DomainError raised later in this request with ``respond(exc)``, after the
    rollback, if it is an ``only`` and not an ``unless``; other errors get the handler's
    default answer (a NotFound: the 404 page). ``back=url`` is the usual answer of a form
    posted from a page: the error's message flashed, and a redirect to that page."""
    if back is not None:
        respond = functools.partial(_flash_and_redirect, back)
    setattr(g, _RESPOND, (respond, only, unless))


def answer_domain_error(exc: DomainError, default: Respond) -> Any:
    """For the DomainError handlers: roll back, then the view's answer or ``default``'s."""
    db.session.rollback()
    respond, only, unless = g.pop(_RESPOND, (default, DomainError, ()))
    if not isinstance(exc, only) or isinstance(exc, unless):
        respond = default
    return respond(exc)


def _flash_and_redirect(url: str, exc: DomainError) -> Response:
    flash(exc.message, "error")
    return redirect(url)


def _end(response: Response) -> Response:
    g.pop(_RESPOND, None)
    if request.method in READ_METHODS or response.status_code >= 400:
        db.session.rollback()
    else:
        db.session.commit()
    return response


def _teardown(exc: BaseException | None) -> None:
    if exc is not None:  # the answer was never built, so _end did not run
        g.pop(_RESPOND, None)
        db.session.rollback()


def read_back() -> None:
    """Flush, then forget what this session had loaded, so that an answer built next is
    read from the rows as the commit will leave them: services change some rows around
    the ORM (conditional UPDATEs, rows added by id), which objects already loaded miss."""
    db.session.flush()
    db.session.expire_all()
