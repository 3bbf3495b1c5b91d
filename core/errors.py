"""Domain errors with stable codes; the API turns them into JSON responses with the matching status."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, message: Any, *, code: str | None = None, fields: dict[str, list[str]] | None = None):
        super().__init__(str(message))
        self.message = str(message)
        if code:
            self.code = code
        self.fields = fields or {}


class InvalidInput(DomainError):
    """Bad input: a 400 naming each offending field."""

    status = 400
    code = "invalid_input"


class NotAllowed(DomainError):
    """The actor's role may not do this."""

    status = 403
    code = "permission_denied"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The workflow table or a guard refuses the action in the object's current state."""

    status = 409
    code = "transition_not_allowed"


class Unprocessable(DomainError):
    status = 422
    code = "unprocessable"
