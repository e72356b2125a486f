"""The refusals a use case may answer with, free of HTTP: the pipeline maps each `kind`
to the documented status and envelope."""

from __future__ import annotations

from typing import Any

NO_ACCESS = "The API key does not have access to this resource, or it does not exist."


class DomainError(Exception):
    """An expected refusal; `kind` says which (the HTTP layer maps it to a status)."""

    kind = "invalid"

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details


class AccessDenied(DomainError):
    kind = "forbidden"


class NotFound(DomainError):
    kind = "not_found"


class NotFinished(DomainError):
    kind = "invalid"


class InvalidInput(DomainError):
    """Input the contract's schemas let through that still means nothing (a polygon ring
    that is not closed, a bbox with west beyond ±180): `details` names the field."""

    kind = "invalid"


class Conflict(DomainError):
    kind = "conflict"
