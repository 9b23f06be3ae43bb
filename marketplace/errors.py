"""Domain errors raised by services; the API turns them into `{"code", "detail"}` responses."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refused operation with a stable code. Services raise these; nothing is half-written."""

    code = "error"
    http_status = 400

    def __init__(
        self, detail: str, *, code: str | None = None, http_status: int | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if http_status is not None:
            self.http_status = http_status
        self.extra = extra


class InvalidTransition(DomainError):
    code = "invalid_transition"
    http_status = 409


class NotFound(DomainError):
    code = "not_found"
    http_status = 404


class Forbidden(DomainError):
    code = "forbidden"
    http_status = 403


class Conflict(DomainError):
    code = "conflict"
    http_status = 409
