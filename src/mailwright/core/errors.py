"""Domain errors; the HTTP edge maps each to an RFC 7807 problem with its status."""

from typing import Any


class DomainError(Exception):
    """A failure the caller can act on, with a stable code and the field at fault."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.details = details

    def to_problem(self) -> dict[str, Any]:
        """The RFC 7807 body for this error."""
        body: dict[str, Any] = {
            "type": f"https://mailwright.dev/problems/{self.code}",
            "title": self.code.replace("_", " "),
            "status": self.status,
            "detail": self.message,
        }
        if self.field is not None:
            body["field"] = self.field
        if self.details is not None:
            body["errors"] = self.details
        return body


class InvalidInput(DomainError):
    """The input does not have the shape or values required."""

    status = 400
    code = "invalid_input"


class NotFound(DomainError):
    """The thing asked for does not exist."""

    status = 404
    code = "not_found"


class Conflict(DomainError):
    """The request contradicts what is stored."""

    status = 409
    code = "conflict"


class Unauthorized(DomainError):
    """Missing or wrong credentials."""

    status = 401
    code = "unauthorized"


class PayloadTooLarge(DomainError):
    """A body or an event over its size limit."""

    status = 413
    code = "payload_too_large"
