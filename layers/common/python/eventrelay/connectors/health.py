"""Connector health: AUTHORIZED until the provider refuses the grant or calls keep failing with 401.

Writes happen only on a change (a success after failures, a failure, a state change), so a
healthy connector costs no extra DynamoDB write per call.
"""

from __future__ import annotations

from eventrelay.clock import Clock, iso_utc, system_clock
from eventrelay.connectors.models import Connector, ConnectorHealth, HealthState
from eventrelay.connectors.store import ConnectorStore
from eventrelay.observability import logger

# Consecutive calls ending in 401 (after a token refresh, for OAuth) that deauthorize a connector.
DEFAULT_AUTH_FAILURE_LIMIT = 3


class HealthRecorder:
    def __init__(
        self,
        store: ConnectorStore,
        clock: Clock = system_clock,
        auth_failure_limit: int = DEFAULT_AUTH_FAILURE_LIMIT,
    ) -> None:
        self._store = store
        self._clock = clock
        self._limit = auth_failure_limit

    def succeeded(self, connector: Connector) -> ConnectorHealth:
        health = connector.health
        if health.state is HealthState.AUTHORIZED and health.auth_failures == 0:
            return health
        restored = ConnectorHealth(state=HealthState.AUTHORIZED, changed_at=iso_utc(self._clock()))
        self._store.set_health(connector.tenant_id, connector.name, restored)
        if health.state is not HealthState.AUTHORIZED:
            logger.info(
                "connector authorized again",
                extra={"tenant_id": connector.tenant_id, "connector": connector.name},
            )
        return restored

    def authorized(self, connector: Connector) -> ConnectorHealth:
        """The admin completed an authorization (authorization-code callback)."""
        restored = ConnectorHealth(state=HealthState.AUTHORIZED, changed_at=iso_utc(self._clock()))
        self._store.set_health(connector.tenant_id, connector.name, restored)
        return restored

    def auth_failed(self, connector: Connector) -> ConnectorHealth:
        """One more call ended in 401; after `auth_failure_limit` in a row the connector is deauthorized."""
        failures = self._store.record_auth_failure(connector.tenant_id, connector.name)
        if failures >= self._limit and connector.health.state is not HealthState.DEAUTHORIZED:
            return self.deauthorize(
                connector, f"{failures} consecutive calls were refused with HTTP 401", failures
            )
        return connector.health.model_copy(update={"auth_failures": failures})

    def deauthorize(self, connector: Connector, reason: str, auth_failures: int = 0) -> ConnectorHealth:
        health = ConnectorHealth(
            state=HealthState.DEAUTHORIZED,
            reason=reason,
            changed_at=iso_utc(self._clock()),
            auth_failures=auth_failures,
        )
        self._store.set_health(connector.tenant_id, connector.name, health)
        logger.warning(
            "connector deauthorized",
            extra={"tenant_id": connector.tenant_id, "connector": connector.name, "reason": reason},
        )
        return health
