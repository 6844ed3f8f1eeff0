"""`eventrelay delivery list|show|replay`: what the action runner did, and doing it again.

\b
    eventrelay delivery list acme --state FAILED --since 24h
    eventrelay delivery show acme d-3f1c...
    eventrelay delivery replay acme d-3f1c...                      # one delivery
    eventrelay delivery replay acme --state FAILED --action create-ticket --since 2026-11-23 --dry-run
    eventrelay delivery replay acme --state FAILED --action create-ticket --since 2026-11-23

Times (`--since`, `--until`) are ISO 8601 (`2026-11-23`, `2026-11-23T10:00:00Z`) or an age such as
`30m`, `6h`, `7d`; they bound when deliveries were created. A bulk replay without `--state`
replays FAILED deliveries; `--dry-run` only counts what would be replayed.
"""

from __future__ import annotations

import functools
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

import click

from eventrelay_cli.exit_codes import EXIT_OK, EXIT_USAGE, CliError
from eventrelay_cli.framework import Group, pass_cli_context

if TYPE_CHECKING:
    from eventrelay.delivery.models import DeliveryState
    from eventrelay.delivery.replay import DeliveryFilter, ReplayService
    from eventrelay.delivery.store import DeliveryStore
    from eventrelay_cli.context import CliContext

_AGE = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _deliveries(context: CliContext) -> DeliveryStore:
    from eventrelay.aws import dynamodb_client
    from eventrelay.delivery.store import DeliveryStore

    settings = context.settings
    if not settings.deliveries_table:
        raise CliError("this stack has no deliveries table (deploy the current template)", EXIT_USAGE)
    return DeliveryStore(settings.deliveries_table, dynamodb_client(settings.region))


def _replay_service(context: CliContext) -> ReplayService:
    from eventrelay.actions import ActionStore
    from eventrelay.aws import dynamodb_client, sqs_client
    from eventrelay.delivery.replay import ReplayService
    from eventrelay.envelopes import MessageQueue

    settings = context.settings
    return ReplayService(
        _deliveries(context),
        ActionStore(settings.config_table, dynamodb_client(settings.region)),
        MessageQueue(settings.events_queue_url, sqs_client(settings.region)),
    )


def parse_time(text: str, now: float | None = None) -> float:
    """ISO 8601 (naive means UTC) or an age like `30m`, `6h`, `7d` before now, as epoch seconds."""
    age = _AGE.match(text.strip())
    if age:
        return (now if now is not None else time.time()) - int(age.group(1)) * _UNIT_SECONDS[age.group(2)]
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise CliError(
            f"cannot read the time {text!r}: use ISO 8601 or an age like 30m, 6h, 7d", EXIT_USAGE
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _state(text: str | None) -> DeliveryState | None:
    from eventrelay.delivery.models import DeliveryState

    if text is None:
        return None
    try:
        return DeliveryState(text.upper())
    except ValueError:
        choices = ", ".join(state.value for state in DeliveryState)
        raise CliError(f"unknown state {text!r} (one of {choices})", EXIT_USAGE) from None


def _filter(
    tenant_id: str,
    selection: dict[str, str | None],
    default_state: DeliveryState | None = None,
) -> DeliveryFilter:
    from eventrelay.delivery.replay import DeliveryFilter

    since, until = selection["since"], selection["until"]
    return DeliveryFilter(
        tenant_id=tenant_id,
        state=_state(selection["state"]) or default_state,
        action=selection["action"],
        rule=selection["rule"],
        event_id=selection["event_id"],
        since=parse_time(since) if since else None,
        until=parse_time(until) if until else None,
    )


def _filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--state, --action, --rule, --event-id, --since, --until, handed over as one `selection`."""
    names = ("state", "action", "rule", "event_id", "since", "until")
    options = [
        click.option("--state", help="PENDING, RETRYING, SUCCEEDED or FAILED"),
        click.option("--action", help="only deliveries of this action"),
        click.option("--rule", help="only deliveries of this rule"),
        click.option("--event-id", help="only the deliveries of one event"),
        click.option("--since", help="created at or after (ISO 8601, or an age: 30m, 6h, 7d)"),
        click.option("--until", help="created at or before (ISO 8601, or an age)"),
    ]

    @functools.wraps(command)  # keeps the options already attached to the command
    def with_selection(*args: Any, **values: Any) -> Any:
        selection = {name: values.pop(name) for name in names}
        return command(*args, selection=selection, **values)

    decorated: Callable[..., Any] = with_selection
    for option in reversed(options):
        decorated = option(decorated)
    return decorated


def _row(view: dict[str, Any]) -> str:
    status = f"HTTP {view['lastStatus']}" if view["lastStatus"] is not None else (view["lastError"] or "")
    return (
        f"{view['deliveryId']}\t{view['createdAt']}\t{view['state']}\t{view['attempts']}/{view['attemptLimit']}\t"
        f"{view['rule']} -> {view['action']}\t{status}"
    )


@click.group(cls=Group, help=__doc__)
def delivery() -> None:
    pass


@delivery.command("list")
@click.argument("tenant_id")
@_filter_options
@click.option("--limit", type=int, default=50, help="at most this many (default 50)")
@pass_cli_context
def delivery_list(context: CliContext, tenant_id: str, selection: dict[str, str | None], limit: int) -> int:
    """A tenant's deliveries, newest first."""
    from eventrelay.delivery.replay import find_deliveries

    found = find_deliveries(_deliveries(context), _filter(tenant_id, selection))
    rows = [found_delivery.to_view() for found_delivery in islice(found, limit)]
    context.emit(rows, lambda views: "\n".join(_row(v) for v in views) or "(no deliveries)")
    return EXIT_OK


def _attempt_line(view: dict[str, Any]) -> str:
    status = f"HTTP {view['statusCode']}" if view["statusCode"] is not None else "no response"
    replay = f" (replay round {view['round']})" if view["replay"] else ""
    line = (
        f"  #{view['attempt']} {view['startedAt']} {view['outcome']} {status} {view['durationMs']} ms{replay}"
    )
    if view["error"]:
        line += f"\n      error: {view['error']}"
    if view["responseBody"]:
        line += f"\n      body: {view['responseBody'][:200]}"
    return line


@delivery.command("show")
@click.argument("tenant_id")
@click.argument("delivery_id")
@pass_cli_context
def delivery_show(context: CliContext, tenant_id: str, delivery_id: str) -> int:
    """One delivery and every attempt."""
    from eventrelay.delivery.replay import DeliveryNotFound

    store = _deliveries(context)
    found = store.get(delivery_id)
    if found is None or found.tenant_id != tenant_id:
        raise DeliveryNotFound(delivery_id)
    view = {**found.to_view(), "attempts": [a.to_view() for a in store.attempts(found.delivery_id)]}
    if found.envelope is not None:
        view["receivedAt"] = found.envelope.receivedAt

    def text(v: dict[str, Any]) -> str:
        head = [
            f"delivery {v['deliveryId']}: {v['state']}, "
            f"{v['attempts']} of {v['attemptLimit']} attempts made"
            + (f", {v['replays']} replay(s)" if v["replays"] else ""),
            f"  event   {v['eventName']}/{v['eventVersion']} {v['eventId']}",
            f"  rule    {v['rule']} -> action {v['action']}",
        ]
        if v.get("nextAttemptAt"):
            head.append(f"  next    {v['nextAttemptAt']}")
        return "\n".join([*head, "attempts:", *(_attempt_line(a) for a in v["attempts"])])

    context.emit(view, text)
    return EXIT_OK


class ProgressBar:
    """`[#########-----------] 9/20` on stderr, redrawn in place on a terminal."""

    def __init__(self, width: int = 30) -> None:
        self.width = width
        self.interactive = sys.stderr.isatty()

    def __call__(self, done: int, total: int) -> None:
        filled = self.width * done // max(1, total)
        line = f"[{'#' * filled}{'-' * (self.width - filled)}] {done}/{total}"
        if self.interactive:
            print("\r" + line, end="" if done < total else "\n", file=sys.stderr, flush=True)
        elif done == total or done % 50 == 0:
            print(line, file=sys.stderr, flush=True)


@delivery.command("replay")
@click.argument("tenant_id")
@click.argument("delivery_id", required=False)
@_filter_options
@click.option("--dry-run", is_flag=True, help="only count what would be replayed")
@pass_cli_context
def delivery_replay(
    context: CliContext,
    tenant_id: str,
    delivery_id: str | None,
    selection: dict[str, str | None],
    dry_run: bool,
) -> int:
    """Replay one delivery, or all matching filters (FAILED by default)."""
    from eventrelay.delivery.models import Delivery, DeliveryState
    from eventrelay.delivery.replay import DeliveryNotFound

    service = _replay_service(context)
    if delivery_id:
        if any(selection.values()):
            raise CliError("give a delivery id or filters, not both", EXIT_USAGE)
        if dry_run:
            found = _deliveries(context).get(delivery_id)
            if found is None or found.tenant_id != tenant_id:
                raise DeliveryNotFound(delivery_id)
            reason = service.why_not_replayable(found)
            answer = {"dryRun": True, "wouldReplay": 0 if reason else 1, "reason": reason}
            context.emit(
                answer,
                lambda a: (
                    f"would replay {a['wouldReplay']} delivery" + (f" ({a['reason']})" if a["reason"] else "")
                ),
            )
            return EXIT_OK
        replayed: Delivery = service.replay(tenant_id, delivery_id)
        context.emit(
            {"replayed": 1, "deliveryId": replayed.delivery_id, "round": replayed.round},
            lambda a: f"replaying delivery {a['deliveryId']} (round {a['round']})",
        )
        return EXIT_OK
    where = _filter(tenant_id, selection, default_state=DeliveryState.FAILED)
    if dry_run:
        count = len(service.candidates(where))
        context.emit(
            {"dryRun": True, "wouldReplay": count},
            lambda a: (
                f"would replay {a['wouldReplay']} {where.state.value if where.state else ''} deliveries"
            ),
        )
        return EXIT_OK
    candidates = service.candidates(where)
    context.info(f"replaying {len(candidates)} deliveries")
    report = service.replay_each(where.tenant_id, candidates, progress=ProgressBar())
    summary: dict[str, Any] = {
        "matched": report.matched,
        "replayed": len(report.replayed),
        "skipped": [{"deliveryId": d, "reason": r} for d, r in report.skipped],
    }
    context.emit(
        summary,
        lambda a: (
            f"replayed {a['replayed']} of {a['matched']} deliveries"
            + "".join(f"\n  skipped {s['deliveryId']}: {s['reason']}" for s in a["skipped"])
        ),
    )
    return EXIT_OK
