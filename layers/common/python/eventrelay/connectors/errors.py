"""Typed errors of the connectors area. Messages name fields and rules, never secret values."""

from __future__ import annotations

from eventrelay.errors import InvalidResource, ResourceConflict, ResourceExists, ResourceNotFound


class ConnectorError(Exception):
    """Base class; `message` is safe to show an admin."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConnectorNotFound(ConnectorError, ResourceNotFound):
    def __init__(self, tenant_id: str, name: str) -> None:
        super().__init__(f"connector {name} not found for tenant {tenant_id}")


class ConnectorExists(ConnectorError, ResourceExists):
    def __init__(self, tenant_id: str, name: str) -> None:
        super().__init__(f"connector {name} already exists for tenant {tenant_id}")


class ConnectorConflict(ConnectorError, ResourceConflict):
    """Someone else changed the connector between read and write; read it again and retry."""

    def __init__(self, name: str) -> None:
        super().__init__(f"connector {name} was changed concurrently; retry")


class InvalidConnectorCredentials(ConnectorError, InvalidResource):
    """The credentials given do not fit the connector's auth type (the problems name fields only).

    Not the Events API's `errors.InvalidCredentials` (a publisher's tenant id or shared secret).
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class InvalidConnectorUrl(InvalidConnectorCredentials):
    """A URL-based connector's URL is its credential: a redacted form cannot stand for a new one.

    A subclass of InvalidConnectorCredentials, so that whoever maps that error maps this one.
    """

    def __init__(self, problem: str) -> None:
        super().__init__([problem])


class AuthorizationError(ConnectorError):
    """The OAuth authorization-code flow could not complete; the message is safe for the browser."""


class AuthorizationStateInvalid(AuthorizationError):
    def __init__(self) -> None:
        super().__init__("the authorization link is invalid, already used or expired; start again")


class NotAuthorizationCode(ConnectorError):
    def __init__(self, name: str) -> None:
        super().__init__(f"connector {name} does not use the OAuth 2.0 authorization-code grant")
