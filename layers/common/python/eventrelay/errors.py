"""Typed domain errors of the Events API. `http_api` is the one place mapping them to responses."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class ErrorCode(StrEnum):
    """The contract's error codes, with HTTP status and the fixed `errorDesc`."""

    NOT_REGISTERED = "1001"
    BAD_HEADER = "1002"
    BAD_BODY = "1003"
    INVALID_PAYLOAD = "1004"
    INVALID_CREDENTIALS = "1005"
    RATE_LIMITED = "1006"
    BODY_TOO_LARGE = "1007"
    UNSUPPORTED_MEDIA_TYPE = "1008"
    UNAVAILABLE = "1009"
    IDEMPOTENCY_CONFLICT = "1010"
    NOT_FOUND = "1011"
    ADMIN_CONFLICT = "1012"
    UNAUTHENTICATED = "1013"
    FORBIDDEN = "1014"
    CROSS_ORIGIN = "1015"

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS[self]

    @property
    def description(self) -> str:
        return _DESCRIPTION[self]


_HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.NOT_REGISTERED: 400,
    ErrorCode.BAD_HEADER: 400,
    ErrorCode.BAD_BODY: 400,
    ErrorCode.INVALID_PAYLOAD: 400,
    ErrorCode.INVALID_CREDENTIALS: 401,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.BODY_TOO_LARGE: 413,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: 415,
    ErrorCode.UNAVAILABLE: 503,
    ErrorCode.IDEMPOTENCY_CONFLICT: 409,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.ADMIN_CONFLICT: 409,
    ErrorCode.UNAUTHENTICATED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.CROSS_ORIGIN: 403,
}

_DESCRIPTION: dict[ErrorCode, str] = {
    ErrorCode.NOT_REGISTERED: "Oops, something went wrong! Please contact Tech Support to report. ",
    ErrorCode.BAD_HEADER: "Missing or malformed header",
    ErrorCode.BAD_BODY: "Request body is not a JSON object",
    ErrorCode.INVALID_PAYLOAD: "Payload validation failed",
    ErrorCode.INVALID_CREDENTIALS: "Invalid credentials",
    ErrorCode.RATE_LIMITED: "Rate limit exceeded",
    ErrorCode.BODY_TOO_LARGE: "Request body too large",
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: "Unsupported content type",
    # The message says whether the event was surely not accepted or the outcome is unknown.
    ErrorCode.UNAVAILABLE: "Temporarily unable to accept the request; please retry (the message says how)",
    ErrorCode.IDEMPOTENCY_CONFLICT: "Idempotency key reused with a different request",
    ErrorCode.NOT_FOUND: "Not found",
    ErrorCode.ADMIN_CONFLICT: "Already exists, or still in use",
    ErrorCode.UNAUTHENTICATED: "Missing, expired or invalid token",
    # Only operator-only routes answer this; another tenant's resources answer 1011 instead.
    ErrorCode.FORBIDDEN: "Operator only",
    # A state change sent by a page of another origin (CSRF): the console's own origin only.
    ErrorCode.CROSS_ORIGIN: "Cross-origin request refused",
}


@dataclass
class ApiError(Exception):
    """An error the caller sees in the contract's shape. `message` must never carry a secret."""

    code: ErrorCode
    message: str
    headers: dict[str, str] | None = None

    def __str__(self) -> str:
        return f"{self.code.value}: {self.message}"


class NotRegistered(ApiError):
    def __init__(self) -> None:
        super().__init__(ErrorCode.NOT_REGISTERED, "Event is not registered")


class BadHeader(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.BAD_HEADER, message)


class BadBody(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.BAD_BODY, message)


class InvalidPayload(ApiError):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(ErrorCode.INVALID_PAYLOAD, "Payload validation failed: " + "; ".join(problems))


class InvalidCredentials(ApiError):
    def __init__(self) -> None:
        super().__init__(ErrorCode.INVALID_CREDENTIALS, "Invalid tenantId or sharedSecret")


class RateLimited(ApiError):
    def __init__(self, window_description: str, headers: dict[str, str]) -> None:
        super().__init__(ErrorCode.RATE_LIMITED, f"Rate limit exceeded: {window_description}", headers)


class BodyTooLarge(ApiError):
    def __init__(self, cap: int) -> None:
        super().__init__(ErrorCode.BODY_TOO_LARGE, f"Request body exceeds {cap} bytes")


class UnsupportedMediaType(ApiError):
    def __init__(self) -> None:
        super().__init__(ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Content-Type must be application/json")


class Unavailable(ApiError):
    def __init__(
        self, message: str = "Temporarily unable to accept the event; it was not accepted, retry"
    ) -> None:
        super().__init__(ErrorCode.UNAVAILABLE, message)


class IdempotencyConflict(ApiError):
    def __init__(self) -> None:
        super().__init__(
            ErrorCode.IDEMPOTENCY_CONFLICT, "Idempotency-Key was already used with a different request body"
        )


class NotFound(ApiError):
    def __init__(self, what: str) -> None:
        super().__init__(ErrorCode.NOT_FOUND, f"{what} not found")


class Unauthenticated(ApiError):
    """No token, or one that is expired, not yet valid, badly signed or meant for someone else.

    The message never says which check failed beyond a fixed reason, and never echoes the token."""

    def __init__(self, reason: str = "missing, expired or invalid token") -> None:
        super().__init__(ErrorCode.UNAUTHENTICATED, f"Unauthenticated: {reason}")


class Forbidden(ApiError):
    """A valid tenant admin's token on an operator-only operation."""

    def __init__(self, operation: str) -> None:
        super().__init__(ErrorCode.FORBIDDEN, f"{operation} is for operators only")


class CrossOriginRefused(ApiError):
    """A state-changing admin request whose `Origin` is another site's (a cross-site page)."""

    def __init__(self) -> None:
        super().__init__(
            ErrorCode.CROSS_ORIGIN, "Cross-origin request refused: send it from the console's origin"
        )


class DependencyFailure(Exception):
    """An AWS dependency failed; the caller was not served and nothing was accepted."""


# Admin-side outcomes. Every area's specific errors (ConnectorNotFound, RuleAlreadyExists, ...)
# derive from one of these, so each surface maps them in ONE table: the CLI to exit codes
# (3 not found, 4 exists/in use, 1 invalid), the admin API to 1011 / 1012 / 400.
class AdminError(Exception):
    """An admin operation refused; `str(error)` is safe to show (never a secret value)."""


class ResourceNotFound(AdminError):
    """The named resource does not exist (or belongs to another tenant: same answer)."""


class ResourceExists(AdminError):
    """Create refused: a resource with this name already exists."""


class ResourceInUse(AdminError):
    """Delete refused: other resources still refer to this one (the message names them)."""


class ResourceConflict(AdminError):
    """The resource changed concurrently between read and write; read it again and retry."""


class InvalidResource(AdminError):
    """The resource as given breaks a rule (the message lists each problem)."""
