"""Domain errors raised by services; views and the API turn them into answers."""

from __future__ import annotations


class DomainError(Exception):
    """A rule said no. ``message`` is for people (Chinese first), ``field`` names the input."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, field: str | None = None, code: str | None = None, **details):
        super().__init__(message)
        self.message = str(message)
        self.field = field
        if code:
            self.code = code
        self.details = details


class ValidationFailed(DomainError):
    """Several field errors at once: ``errors`` maps field name to message."""

    status = 422
    code = "validation"

    def __init__(self, errors: dict[str, str], message: str | None = None):
        super().__init__(message or "；".join(errors.values()))
        self.errors = errors


class NotFound(DomainError):
    status = 404
    code = "not-found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
