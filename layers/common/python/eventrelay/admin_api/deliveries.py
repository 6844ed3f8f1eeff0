"""A tenant's deliveries: list (filters, cursor), show with attempts, replay one or by filter.

The filters are the same in a listing's query and a bulk replay's body: `state` (PENDING,
RETRYING, SUCCEEDED, FAILED), `action`, `rule`, `eventId`, and `since`/`until`, ISO 8601 times
(`2026-11-23`, `2026-11-23T10:00:00Z`; without a zone: UTC) bounding when deliveries were
created. A bulk replay without `state` replays FAILED deliveries; `dryRun: true` only counts them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eventrelay.admin import DeliveryQuery
from eventrelay.admin.deliveries import MAX_PAGE
from eventrelay.admin_api.inputs import Fields, InvalidRequest, query_integer
from eventrelay.admin_api.routing import AdminCall, Reply, RouteTable
from eventrelay.delivery.models import DeliveryState
from eventrelay.delivery.replay import ReplayReport

routes = RouteTable()

FILTERS = ("state", "action", "rule", "eventId", "since", "until")
DEFAULT_PAGE = 50


def _state(fields: Fields) -> DeliveryState | None:
    text = fields.text("state")
    if not text:
        return None
    try:
        return DeliveryState(text.upper())
    except ValueError:
        choices = ", ".join(state.value for state in DeliveryState)
        raise InvalidRequest([f"state: must be one of {choices}"]) from None


def _moment(fields: Fields, name: str) -> float | None:
    text = fields.text(name)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest([f"{name}: must be an ISO 8601 time such as 2026-11-23T10:00:00Z"]) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def delivery_query(fields: Fields) -> DeliveryQuery:
    """The filters of a listing's query or a bulk replay's body."""
    return DeliveryQuery(
        state=_state(fields),
        action=fields.text("action") or None,
        rule=fields.text("rule") or None,
        event_id=fields.text("eventId") or None,
        since=_moment(fields, "since"),
        until=_moment(fields, "until"),
    )


def replay_report_view(report: ReplayReport) -> dict[str, Any]:
    return {
        "matched": report.matched,
        "replayed": len(report.replayed),
        "skipped": [{"deliveryId": delivery_id, "reason": reason} for delivery_id, reason in report.skipped],
    }


@routes.get("/tenants/{tenantId}/deliveries")
def list_deliveries(call: AdminCall) -> Reply:
    """A page of a tenant's deliveries, newest first; `nextCursor` (null at the end) continues it."""
    query = Fields(call.query)
    query.refuse_unknown({*FILTERS, "limit", "cursor"})
    limit = query_integer(call.query, "limit", minimum=1, maximum=MAX_PAGE) or DEFAULT_PAGE
    page = call.service.deliveries.list(
        call.tenant_id, delivery_query(query), limit=limit, cursor=query.text("cursor") or None
    )
    return Reply(
        {"deliveries": [delivery.to_view() for delivery in page.deliveries], "nextCursor": page.next_cursor}
    )


@routes.get("/tenants/{tenantId}/deliveries/{deliveryId}")
def show_delivery(call: AdminCall) -> Reply:
    """One delivery and every attempt (`attemptCount` is their number)."""
    return Reply(call.service.deliveries.show(call.tenant_id, call.parameter("deliveryId")).to_dict())


@routes.post("/tenants/{tenantId}/deliveries/{deliveryId}/replay")
def replay_delivery(call: AdminCall) -> Reply:
    """Replay one delivery (a new round of attempts); `dryRun: true` only says whether it would."""
    body = Fields(call.body())
    body.refuse_unknown({"dryRun"})
    deliveries = call.service.deliveries
    delivery_id = call.parameter("deliveryId")
    if body.boolean("dryRun"):
        reason = deliveries.why_not_replayable(call.tenant_id, delivery_id)
        return Reply({"dryRun": True, "wouldReplay": 0 if reason else 1, "reason": reason})
    replayed = deliveries.replay(call.tenant_id, delivery_id)
    return Reply(
        {"replayed": 1, "deliveryId": replayed.delivery_id, "round": replayed.round}, 200, "Delivery replayed"
    )


@routes.post("/tenants/{tenantId}/deliveries/replay")
def replay_deliveries(call: AdminCall) -> Reply:
    """Replay every delivery the filters match (FAILED ones without `state`); `dryRun: true` counts them."""
    body = Fields(call.body())
    body.refuse_unknown({*FILTERS, "dryRun"})
    query = delivery_query(body)
    deliveries = call.service.deliveries
    if body.boolean("dryRun"):
        candidates = deliveries.replay_candidates(call.tenant_id, query)
        return Reply({"dryRun": True, "wouldReplay": len(candidates)})
    report = deliveries.replay_matching(call.tenant_id, query)
    return Reply(replay_report_view(report), 200, "Deliveries replayed")
