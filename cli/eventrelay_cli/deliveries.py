"""`eventrelay delivery list|show|replay`: what the action runner did, and doing it again.

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

import argparse
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from eventrelay.delivery.models import Delivery, DeliveryState
from eventrelay.delivery.replay import (
    DeliveryFilter,
    DeliveryNotFound,
    NotReplayable,
    ReplayService,
    find_deliveries,
)
from eventrelay.delivery.store import DeliveryStore
from eventrelay.errors import DependencyFailure
from eventrelay_cli.context import EXIT_CONFLICT, EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_USAGE, CliError

_AGE = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _deliveries(args: argparse.Namespace) -> DeliveryStore:
    from eventrelay.aws import dynamodb_client

    settings = args.context.settings
    if not settings.deliveries_table:
        raise CliError("this stack has no deliveries table (deploy the current template)", EXIT_USAGE)
    return DeliveryStore(settings.deliveries_table, dynamodb_client(settings.region))


def _replay_service(args: argparse.Namespace) -> ReplayService:
    from eventrelay.actions import ActionStore
    from eventrelay.aws import dynamodb_client, sqs_client
    from eventrelay.envelopes import MessageQueue

    settings = args.context.settings
    return ReplayService(
        _deliveries(args),
        ActionStore(settings.config_table, dynamodb_client(settings.region)),
        MessageQueue(settings.events_queue_url, sqs_client(settings.region)),
    )


def _guarded(operation: Callable[[], int]) -> int:
    try:
        return operation()
    except DeliveryNotFound as exc:
        raise CliError(f"delivery {exc.delivery_id} not found", EXIT_NOT_FOUND) from None
    except NotReplayable as exc:
        raise CliError(str(exc), EXIT_CONFLICT) from None
    except DependencyFailure as exc:
        raise CliError(f"AWS is unavailable ({exc})", EXIT_FAILURE) from None


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
    if text is None:
        return None
    try:
        return DeliveryState(text.upper())
    except ValueError:
        choices = ", ".join(state.value for state in DeliveryState)
        raise CliError(f"unknown state {text!r} (one of {choices})", EXIT_USAGE) from None


def _filter(args: argparse.Namespace, default_state: DeliveryState | None = None) -> DeliveryFilter:
    return DeliveryFilter(
        tenant_id=args.tenant_id,
        state=_state(args.state) or default_state,
        action=args.action,
        rule=args.rule,
        event_id=args.event_id,
        since=parse_time(args.since) if args.since else None,
        until=parse_time(args.until) if args.until else None,
    )


def _row(view: dict[str, Any]) -> str:
    status = f"HTTP {view['lastStatus']}" if view["lastStatus"] is not None else (view["lastError"] or "")
    return (
        f"{view['deliveryId']}\t{view['createdAt']}\t{view['state']}\t{view['attempts']}/{view['attemptLimit']}\t"
        f"{view['rule']} -> {view['action']}\t{status}"
    )


def delivery_list(args: argparse.Namespace) -> int:
    def run() -> int:
        found = find_deliveries(_deliveries(args), _filter(args))
        rows = [delivery.to_view() for delivery in islice(found, args.limit)]
        args.context.emit(rows, lambda views: "\n".join(_row(v) for v in views) or "(no deliveries)")
        return 0

    return _guarded(run)


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


def delivery_show(args: argparse.Namespace) -> int:
    def run() -> int:
        store = _deliveries(args)
        delivery = store.get(args.delivery_id)
        if delivery is None or delivery.tenant_id != args.tenant_id:
            raise DeliveryNotFound(args.delivery_id)
        view = {**delivery.to_view(), "attempts": [a.to_view() for a in store.attempts(delivery.delivery_id)]}
        if delivery.envelope is not None:
            view["receivedAt"] = delivery.envelope.receivedAt

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

        args.context.emit(view, text)
        return 0

    return _guarded(run)


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


def delivery_replay(args: argparse.Namespace) -> int:
    def run() -> int:
        service = _replay_service(args)
        if args.delivery_id:
            if any((args.state, args.action, args.rule, args.event_id, args.since, args.until)):
                raise CliError("give a delivery id or filters, not both", EXIT_USAGE)
            if args.dry_run:
                delivery = _deliveries(args).get(args.delivery_id)
                if delivery is None or delivery.tenant_id != args.tenant_id:
                    raise DeliveryNotFound(args.delivery_id)
                reason = service.why_not_replayable(delivery)
                answer = {"dryRun": True, "wouldReplay": 0 if reason else 1, "reason": reason}
                args.context.emit(
                    answer,
                    lambda a: (
                        f"would replay {a['wouldReplay']} delivery"
                        + (f" ({a['reason']})" if a["reason"] else "")
                    ),
                )
                return 0
            replayed: Delivery = service.replay(args.tenant_id, args.delivery_id)
            args.context.emit(
                {"replayed": 1, "deliveryId": replayed.delivery_id, "round": replayed.round},
                lambda a: f"replaying delivery {a['deliveryId']} (round {a['round']})",
            )
            return 0
        where = _filter(args, default_state=DeliveryState.FAILED)
        if args.dry_run:
            count = len(service.candidates(where))
            args.context.emit(
                {"dryRun": True, "wouldReplay": count},
                lambda a: (
                    f"would replay {a['wouldReplay']} {where.state.value if where.state else ''} deliveries"
                ),
            )
            return 0
        candidates = service.candidates(where)
        args.context.info(f"replaying {len(candidates)} deliveries")
        report = service.replay_each(where.tenant_id, candidates, progress=ProgressBar())
        summary: dict[str, Any] = {
            "matched": report.matched,
            "replayed": len(report.replayed),
            "skipped": [{"deliveryId": d, "reason": r} for d, r in report.skipped],
        }
        args.context.emit(
            summary,
            lambda a: (
                f"replayed {a['replayed']} of {a['matched']} deliveries"
                + "".join(f"\n  skipped {s['deliveryId']}: {s['reason']}" for s in a["skipped"])
            ),
        )
        return 0

    return _guarded(run)


def _filter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state", help="PENDING, RETRYING, SUCCEEDED or FAILED")
    parser.add_argument("--action", help="only deliveries of this action")
    parser.add_argument("--rule", help="only deliveries of this rule")
    parser.add_argument("--event-id", help="only the deliveries of one event")
    parser.add_argument("--since", help="created at or after (ISO 8601, or an age: 30m, 6h, 7d)")
    parser.add_argument("--until", help="created at or before (ISO 8601, or an age)")


def register(subparsers: Any) -> None:
    delivery = subparsers.add_parser(
        "delivery",
        help="deliveries of events to actions: list, show, replay",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    ).add_subparsers(dest="delivery_command", metavar="ACTION", required=True)
    lst = delivery.add_parser("list", help="a tenant's deliveries, newest first")
    lst.add_argument("tenant_id")
    _filter_options(lst)
    lst.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    lst.set_defaults(handler=delivery_list)
    show = delivery.add_parser("show", help="one delivery and every attempt")
    show.add_argument("tenant_id")
    show.add_argument("delivery_id")
    show.set_defaults(handler=delivery_show)
    replay = delivery.add_parser(
        "replay", help="replay one delivery, or all matching filters (FAILED by default)"
    )
    replay.add_argument("tenant_id")
    replay.add_argument("delivery_id", nargs="?")
    _filter_options(replay)
    replay.add_argument("--dry-run", action="store_true", help="only count what would be replayed")
    replay.set_defaults(handler=delivery_replay)
