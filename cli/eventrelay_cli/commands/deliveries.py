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
from typing import TYPE_CHECKING, Any

import click

from eventrelay_cli.exit_codes import EXIT_OK, EXIT_USAGE, CliError
from eventrelay_cli.framework import Group, pass_cli_context

if TYPE_CHECKING:
    from eventrelay.admin import DeliveryQuery
    from eventrelay.delivery.models import DeliveryState
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


def _state(text: str | None) -> DeliveryState | None:
    from eventrelay.delivery.models import DeliveryState

    if text is None:
        return None
    try:
        return DeliveryState(text.upper())
    except ValueError:
        choices = ", ".join(state.value for state in DeliveryState)
        raise CliError(f"unknown state {text!r} (one of {choices})", EXIT_USAGE) from None


def _query(selection: dict[str, str | None]) -> DeliveryQuery:
    from eventrelay.admin import DeliveryQuery

    since, until = selection["since"], selection["until"]
    return DeliveryQuery(
        state=_state(selection["state"]),
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
@click.option("--limit", type=int, default=50, help="at most this many (default 50, up to 1000)")
@pass_cli_context
def delivery_list(context: CliContext, tenant_id: str, selection: dict[str, str | None], limit: int) -> int:
    """A tenant's deliveries, newest first."""
    page = context.admin().deliveries.list(tenant_id, _query(selection), limit=limit)
    rows = [found.to_view() for found in page.deliveries]
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
    context.emit(context.admin().deliveries.show(tenant_id, delivery_id).to_dict(), _detail_text)
    return EXIT_OK


class ProgressBar:
    """`[#########-----------] 9/20` on stderr, redrawn in place on a terminal; `announce` says
    how many there are before the first one."""

    def __init__(self, width: int = 30, announce: Callable[[str], None] | None = None) -> None:
        self.width = width
        self.interactive = sys.stderr.isatty()
        self.announce = announce
        self.started = False

    def __call__(self, done: int, total: int) -> None:
        if not self.started:
            self.started = True
            if self.announce is not None:
                self.announce(f"replaying {total} deliveries")
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
    deliveries = context.admin().deliveries
    if delivery_id:
        if any(selection.values()):
            raise CliError("give a delivery id or filters, not both", EXIT_USAGE)
        if dry_run:
            reason = deliveries.why_not_replayable(tenant_id, delivery_id)
            answer = {"dryRun": True, "wouldReplay": 0 if reason else 1, "reason": reason}
            context.emit(
                answer,
                lambda a: (
                    f"would replay {a['wouldReplay']} delivery" + (f" ({a['reason']})" if a["reason"] else "")
                ),
            )
            return EXIT_OK
        replayed = deliveries.replay(tenant_id, delivery_id)
        context.emit(
            {"replayed": 1, "deliveryId": replayed.delivery_id, "round": replayed.round},
            lambda a: f"replaying delivery {a['deliveryId']} (round {a['round']})",
        )
        return EXIT_OK
    query = _query(selection)
    if dry_run:
        count = len(deliveries.replay_candidates(tenant_id, query))
        state = selection["state"].upper() if selection["state"] else "FAILED"  # the documented default
        context.emit(
            {"dryRun": True, "wouldReplay": count},
            lambda a: f"would replay {a['wouldReplay']} {state} deliveries",
        )
        return EXIT_OK
    report = deliveries.replay_matching(tenant_id, query, progress=ProgressBar(announce=context.info))
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
