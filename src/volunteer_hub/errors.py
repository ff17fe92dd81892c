"""Domain errors raised by services; views and the API turn them into answers."""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """A rule said no. ``message`` is for people (Chinese first), ``field`` names the input.

    Each kind of error declares its ``code`` in its class line, as in
    ``class ShiftStarted(Conflict, code="shift-started")``: the stable name the API
    answers with (api/problems.py), for clients to match on. A code names one kind only:
    a second class declaring it fails at import. ``code=`` at a raise overrides it there.
    """

    status = 400
    code = "invalid"
    #: each declared code and the class that declared it
    _declared: ClassVar[dict[str, type[DomainError]]] = {}

    def __init_subclass__(cls, code: str | None = None, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if code is None:
            return
        first = DomainError._declared.setdefault(code, cls)
        if first is not cls:
            raise TypeError(f"error code {code!r} is declared by {first.__qualname__} already")
        cls.code = code

    def __init__(self, message: str, field: str | None = None, code: str | None = None, **details):
        super().__init__(message)
        self.message = str(message)
        self.field = field
        if code:
            self.code = code
        self.details = details


class ValidationFailed(DomainError, code="validation"):
    """Several field errors at once: ``errors`` maps field name to message."""

    status = 422

    def __init__(self, errors: dict[str, str], message: str | None = None):
        super().__init__(message or "；".join(errors.values()))
        self.errors = errors


class NotFound(DomainError, code="not-found"):
    """Missing, or not visible to the viewer: the two answer alike (404, never 403)."""

    status = 404


class Conflict(DomainError, code="conflict"):
    """The request is sound but the state of things refuses it now (409)."""

    status = 409
