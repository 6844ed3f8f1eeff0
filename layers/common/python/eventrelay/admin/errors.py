"""Errors the admin service adds to the areas' own (every one derives from an `errors.py` base).

Messages name resources, attributes and fields, never a secret value.
"""

from __future__ import annotations

from collections.abc import Sequence

from eventrelay.errors import InvalidResource, ResourceConflict, ResourceInUse, ResourceNotFound


class InUse(ResourceInUse):
    """Delete refused: `users` (names) still refer to the resource."""

    def __init__(self, what: str, name: str, user_kind: str, users: Sequence[str]) -> None:
        self.name = name
        self.users = list(users)
        super().__init__(
            f"{what} '{name}' is used by {user_kind}(s) {', '.join(self.users)}: "
            "delete them first, or force the delete"
        )


class ConnectorInUse(InUse):
    def __init__(self, name: str, actions: Sequence[str]) -> None:
        super().__init__("connector", name, "action", actions)


class ActionInUse(InUse):
    def __init__(self, name: str, rules: Sequence[str]) -> None:
        super().__init__("action", name, "rule", rules)


class Invalid(InvalidResource):
    """One line per problem (`credentials: basic auth needs a password`)."""

    def __init__(self, what: str, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"invalid {what}: " + "; ".join(self.problems))


class InvalidConnector(Invalid):
    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("connector", problems)


class InvalidRegistration(Invalid):
    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("event registration", problems)


class InvalidLimits(Invalid):
    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("limits", problems)


class InvalidDeliveryQuery(Invalid):
    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("delivery query", problems)


class RegistrationNotFound(ResourceNotFound):
    def __init__(self, tenant_id: str, event_name: str, event_version: str) -> None:
        super().__init__(f"{event_name}/{event_version} is not registered for {tenant_id}")


class DeliveryNotReplayable(ResourceConflict):
    """The delivery cannot be replayed now; `reason` says why (an attempt is running, ...)."""

    def __init__(self, delivery_id: str, reason: str) -> None:
        self.delivery_id = delivery_id
        self.reason = reason
        super().__init__(f"delivery {delivery_id} cannot be replayed: {reason}")


class DeliveriesNotDeployed(InvalidResource):
    def __init__(self) -> None:
        super().__init__("this stack has no deliveries table (deploy the current template)")


class InvalidTenant(Invalid):
    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("tenant", problems)
