"""Dataset runs as admins see them: a tenant's latest runs, and one run with its per-row errors."""

from __future__ import annotations

import builtins

from eventrelay.admin.errors import DeliveriesNotDeployed
from eventrelay.datasets.models import Run
from eventrelay.datasets.store import RunStore
from eventrelay.errors import ResourceNotFound

MAX_RUNS_LISTED = 200


class RunNotFound(ResourceNotFound):
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"dataset run {run_id} not found")


class DatasetAdmin:
    """Reads only: runs are started by files (an upload, a System Asset Event), never by an admin call."""

    def __init__(self, runs: RunStore | None) -> None:
        self._runs_or_none = runs

    @property
    def _runs(self) -> RunStore:
        if self._runs_or_none is None:  # runs live in the deliveries table
            raise DeliveriesNotDeployed()
        return self._runs_or_none

    def list(self, tenant_id: str, limit: int = 50) -> builtins.list[Run]:
        """The tenant's latest runs, newest first."""
        return self._runs.list(tenant_id, limit=min(limit, MAX_RUNS_LISTED))

    def show(self, tenant_id: str, run_id: str) -> Run:
        """One run (another tenant's answers as not found)."""
        run = self._runs.get(run_id)
        if run is None or run.tenant_id != tenant_id:
            raise RunNotFound(run_id)
        return run
