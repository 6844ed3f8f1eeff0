"""A tenant's dataset runs: the latest runs, and one run with its counts and per-row errors.

Runs are started by files (an upload to the datasets bucket, a System Asset Event), never by a
route: `eventrelay dataset run` uploads the file itself and follows the run through these routes.
"""

from __future__ import annotations

from eventrelay.admin.datasets import MAX_RUNS_LISTED
from eventrelay.admin_api.inputs import Fields, query_integer
from eventrelay.admin_api.routing import AdminCall, Reply, RouteTable

routes = RouteTable()

DEFAULT_RUNS = 50


@routes.get("/tenants/{tenantId}/datasets/runs")
def list_runs(call: AdminCall) -> Reply:
    """The tenant's latest runs, newest first (`limit`, default 50)."""
    query = Fields(call.query)
    query.refuse_unknown({"limit"})
    limit = query_integer(call.query, "limit", minimum=1, maximum=MAX_RUNS_LISTED) or DEFAULT_RUNS
    return Reply({"runs": [run.to_view() for run in call.service.datasets.list(call.tenant_id, limit)]})


@routes.get("/tenants/{tenantId}/datasets/runs/{runId}")
def show_run(call: AdminCall) -> Reply:
    """One run: state, counts, the kept per-row errors (line, row, reason)."""
    return Reply(call.service.datasets.show(call.tenant_id, call.parameter("runId")).to_view())
