"""A tenant's dataset runs: the latest runs, one run with its counts and per-row errors, and an
upload URL for a file that starts one.

Runs are started by files (an upload to the datasets bucket, a System Asset Event), never by a
route: `eventrelay dataset run` asks for an upload URL, PUTs the file there, and follows the run
through these routes.
"""

from __future__ import annotations

from eventrelay.admin.datasets import MAX_RUNS_LISTED
from eventrelay.admin_api.inputs import Fields, InvalidRequest, query_integer
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


@routes.post("/tenants/{tenantId}/datasets/uploads")
def create_upload(call: AdminCall) -> Reply:
    """A presigned S3 PUT URL for a file of a dataset rule (15 minutes, for exactly `size` bytes)."""
    body = Fields(call.body())
    body.refuse_unknown({"rule", "fileName", "size"})
    size = body.integer("size")
    if size is None:
        raise InvalidRequest(["size: required (the file's length in bytes)"])
    ticket = call.service.datasets.upload(
        call.tenant_id, body.required_text("rule"), body.required_text("fileName"), size
    )
    return Reply(ticket.to_view(), 201, "Upload URL created; PUT the file there with these headers")
