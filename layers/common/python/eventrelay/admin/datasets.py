"""Dataset runs as admins see them: a tenant's latest runs, one run with its per-row errors, and
where to upload a file that starts one (a presigned PUT: see `eventrelay.datasets.uploads`)."""

from __future__ import annotations

import builtins
from typing import Protocol

from eventrelay.admin.errors import DeliveriesNotDeployed, Invalid
from eventrelay.datasets.models import Run
from eventrelay.datasets.store import RunStore
from eventrelay.datasets.uploads import MAX_UPLOAD_BYTES, DatasetUploads, UploadTicket, file_name_problem
from eventrelay.errors import InvalidResource, ResourceNotFound
from eventrelay.rules import Rule

MAX_RUNS_LISTED = 200


class RunNotFound(ResourceNotFound):
    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"dataset run {run_id} not found")


class NotADatasetRule(InvalidResource):
    def __init__(self, rule_name: str) -> None:
        self.rule_name = rule_name
        super().__init__(f"rule '{rule_name}' is not a dataset rule (source: dataset)")


class DatasetsNotDeployed(InvalidResource):
    def __init__(self) -> None:
        super().__init__("this stack has no datasets bucket (deploy the current template)")


class RuleLookup(Protocol):
    def get(self, tenant_id: str, name: str) -> Rule: ...


class DatasetAdmin:
    """Runs are started by files (an upload, a System Asset Event), never by an admin call: the
    admin side reads runs, and hands out upload URLs whose file starts one."""

    def __init__(
        self, runs: RunStore | None, rules: RuleLookup, uploads: DatasetUploads | None = None
    ) -> None:
        self._runs_or_none = runs
        self._rules = rules
        self._uploads = uploads

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

    def upload(self, tenant_id: str, rule_name: str, file_name: str, size: int) -> UploadTicket:
        """Where to PUT a file of `size` bytes for the tenant's dataset rule `rule_name`: its run
        starts once the file is there. RuleNotFound for an unknown rule (another tenant's too)."""
        problems = [problem for problem in (file_name_problem(file_name),) if problem is not None]
        if not 0 <= size <= MAX_UPLOAD_BYTES:
            problems.append(
                f"size must be 0 to {MAX_UPLOAD_BYTES} bytes ({MAX_UPLOAD_BYTES // 2**20} MiB); "
                "upload a larger file to the datasets bucket with any S3 client"
            )
        if problems:
            raise Invalid("dataset upload", problems)
        if self._uploads is None:
            raise DatasetsNotDeployed()
        if not self._rules.get(tenant_id, rule_name).is_dataset:
            raise NotADatasetRule(rule_name)
        return self._uploads.ticket(tenant_id, rule_name, file_name, size)
