"""`eventrelay delivery list|show|replay`: what the action runner did, and doing it again.

\b
    eventrelay delivery list acme --state FAILED --since 24h
    eventrelay delivery show acme d-3f1c...
    eventrelay delivery replay acme d-3f1c...                      # one delivery
    eventrelay delivery replay acme --state FAILED --action create-ticket --since 2026-11-23 --dry-run
    eventrelay delivery replay acme --state FAILED --action create-ticket --since 2026-11-23
    eventrelay delivery replay acme --run run-4c1f...              # a dataset run's FAILED rows

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
from typing import TYPE_CHECKING, Any

import click

from eventrelay_cli.exit_codes import EXIT_OK, EXIT_USAGE, CliError
from eventrelay_cli.framework import Group, pass_cli_context

if TYPE_CHECKING:
    from eventrelay_cli.context import CliContext

_AGE = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


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


def _path(*segments: str) -> str:
    from eventrelay.admin_api.routing import admin_path

    return admin_path(*segments)


def _state(text: str | None) -> str | None:
    from eventrelay.delivery.models import DeliveryState

    if text is None:
        return None
    try:
        return DeliveryState(text.upper()).value
    except ValueError:
        choices = ", ".join(state.value for state in DeliveryState)
        raise CliError(f"unknown state {text!r} (one of {choices})", EXIT_USAGE) from None


def _iso(text: str) -> str:
    """An option's time as the API reads it: ISO 8601 UTC (an age is taken from now, here)."""
    return datetime.fromtimestamp(parse_time(text), tz=UTC).isoformat().replace("+00:00", "Z")


def _filters(selection: dict[str, str | None]) -> dict[str, str]:
    """The filter options as the API names them (only those given); a dataset run's deliveries
    carry the run id as their event id, so `--run` is the event filter under its own name."""
    state, since, until = selection["state"], selection["since"], selection["until"]
    if selection["event_id"] and selection["run"]:
        raise CliError("give --event-id or --run, not both", EXIT_USAGE)
    given = {
        "state": _state(state),
        "action": selection["action"],
        "rule": selection["rule"],
        "eventId": selection["event_id"] or selection["run"],
        "since": _iso(since) if since else None,
        "until": _iso(until) if until else None,
    }
    return {name: value for name, value in given.items() if value}


def _filter_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--state, --action, --rule, --event-id, --run, --since, --until, handed over as one `selection`."""
    names = ("state", "action", "rule", "event_id", "run", "since", "until")
    options = [
        click.option("--state", help="PENDING, RETRYING, SUCCEEDED or FAILED"),
        click.option("--action", help="only deliveries of this action"),
        click.option("--rule", help="only deliveries of this rule"),
        click.option("--event-id", help="only the deliveries of one event"),
        click.option("--run", help="only the deliveries of one dataset run (its rows)"),
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
@click.option("--limit", type=int, default=50, help="at most this many (default 50, up to 1000)")
@click.option("--cursor", help="the cursor a previous page printed, for the next (older) deliveries")
@pass_cli_context
def delivery_list(
    context: CliContext, tenant_id: str, selection: dict[str, str | None], limit: int, cursor: str | None
) -> int:
    """A tenant's deliveries, newest first."""
    query = {**_filters(selection), "limit": str(limit)}
    if cursor is not None:
        query["cursor"] = cursor
    page = context.call("GET", _path("tenants", tenant_id, "deliveries"), query=query)
    context.emit(page, lambda p: "\n".join(_row(v) for v in p["deliveries"]) or "(no deliveries)")
    if page["nextCursor"] is not None and not context.json_output:
        context.info(f"more: --cursor {page['nextCursor']}")
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


def _detail_text(view: dict[str, Any]) -> str:
    head = [
        f"delivery {view['deliveryId']}: {view['state']}, "
        f"{view['attemptCount']} of {view['attemptLimit']} attempts made"
        + (f", {view['replays']} replay(s)" if view["replays"] else ""),
        f"  event   {view['eventName']}/{view['eventVersion']} {view['eventId']}",
        f"  rule    {view['rule']} -> action {view['action']}",
    ]
    if view.get("nextAttemptAt"):
        head.append(f"  next    {view['nextAttemptAt']}")
    return "\n".join([*head, "attempts:", *(_attempt_line(a) for a in view["attempts"])])


@delivery.command("show")
@click.argument("tenant_id")
@click.argument("delivery_id")
@pass_cli_context
def delivery_show(context: CliContext, tenant_id: str, delivery_id: str) -> int:
    """One delivery and every attempt."""
    context.emit(context.call("GET", _path("tenants", tenant_id, "deliveries", delivery_id)), _detail_text)
    return EXIT_OK


def _full_bar(total: int, width: int = 30) -> None:
    """`[##############################] 20/20` on stderr: the replay answered, all of them done."""
    print(f"[{'#' * width}] {total}/{total}", file=sys.stderr, flush=True)


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
    if delivery_id:
        if any(selection.values()):
            raise CliError("give a delivery id or filters, not both", EXIT_USAGE)
        path = _path("tenants", tenant_id, "deliveries", delivery_id, "replay")
        if dry_run:
            context.emit(
                context.call("POST", path, body={"dryRun": True}),
                lambda a: (
                    f"would replay {a['wouldReplay']} delivery" + (f" ({a['reason']})" if a["reason"] else "")
                ),
            )
            return EXIT_OK
        context.emit(
            context.call("POST", path),
            lambda a: f"replaying delivery {a['deliveryId']} (round {a['round']})",
        )
        return EXIT_OK
    path = _path("tenants", tenant_id, "deliveries", "replay")
    filters = _filters(selection)
    counted = context.call("POST", path, body={**filters, "dryRun": True})
    if dry_run:
        state = filters.get("state", "FAILED")  # the documented default
        context.emit(counted, lambda a: f"would replay {a['wouldReplay']} {state} deliveries")
        return EXIT_OK
    # One request replays them all: the count is announced first, the bar drawn when it answers.
    if counted["wouldReplay"]:
        context.info(f"replaying {counted['wouldReplay']} deliveries")
    summary = context.call("POST", path, body=filters)
    if summary["matched"]:
        _full_bar(summary["matched"])
    context.emit(
        summary,
        lambda a: (
            f"replayed {a['replayed']} of {a['matched']} deliveries"
            + "".join(f"\n  skipped {s['deliveryId']}: {s['reason']}" for s in a["skipped"])
        ),
    )
    return EXIT_OK
