"""`eventrelay apply -f config.yaml [--dry-run]`: make a tenant's configuration match one file.

The file declares event registrations, connectors, actions and rules (see examples/config.yaml).
Secrets are referenced as `{env: VARIABLE}` and read from this process's environment. Applying
the same file twice changes nothing the second time; `--dry-run` shows what would change.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from eventrelay.actions import ActionError
from eventrelay.connectors.errors import ConnectorError
from eventrelay.errors import DependencyFailure
from eventrelay.rules import RuleError
from eventrelay.tenants import TenantNotFound
from eventrelay_cli.context import EXIT_CONFLICT, EXIT_FAILURE, EXIT_NOT_FOUND, EXIT_USAGE, CliError
from eventrelay_cli.declarative import (
    ConfigApplier,
    ConfigError,
    describe,
    load_config,
    rule_parser,
    rule_support,
)
from eventrelay_cli.declarative.apply import Change


def _read(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}", EXIT_USAGE) from None
    except UnicodeDecodeError:
        raise CliError(f"cannot read {path}: not UTF-8 text", EXIT_USAGE) from None


def _human(report: dict[str, Any]) -> str:
    dry_run = report["dryRun"]
    lines = [
        describe(
            Change(
                change["kind"],
                change["name"],
                change["result"],
                tuple(change.get("changed", ())),
                change.get("note"),
            ),
            dry_run,
        )
        for change in report["changes"]
    ]
    summary = report["summary"]
    totals = f"{summary['created']} created, {summary['updated']} updated, {summary['unchanged']} unchanged"
    if dry_run:
        totals = f"dry run, nothing written: {totals}"
    lines.append(f"tenant {report['tenantId']}: {totals}")
    return "\n".join(lines)


def apply_file(args: argparse.Namespace) -> int:
    settings = args.context.settings
    text = _read(args.file)
    source = "stdin" if args.file == "-" else args.file
    try:
        config = load_config(text, os.environ, tenant_id=args.tenant, source=source, parse_rule=rule_parser())
        applier = ConfigApplier.from_settings(settings, rules=rule_support(settings))
        report = applier.apply(config, dry_run=args.dry_run)
    except ConfigError as exc:
        raise CliError("\n  ".join([f"{source} cannot be applied:", *exc.problems]), EXIT_USAGE) from None
    except TenantNotFound as exc:
        tenant = str(exc.args[0]) if exc.args else args.tenant
        raise CliError(
            f"tenant {tenant!r} not found: create it first (eventrelay tenant create)", EXIT_NOT_FOUND
        ) from None
    except (ActionError, ConnectorError, RuleError) as exc:
        # Validated before writing: only a concurrent change (or a store's own stricter check)
        # gets here. What was written stays; the message names items, never values.
        raise CliError(f"{exc}; run apply again", EXIT_CONFLICT) from None
    except DependencyFailure as exc:
        raise CliError(
            f"AWS is unavailable ({exc}); what was written stays: run apply again to finish", EXIT_FAILURE
        ) from None
    args.context.emit(report.to_dict(), _human)
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "apply",
        help="create or update a tenant's registrations, connectors, actions and rules from a file",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-f", "--file", required=True, help="the YAML file (- for standard input)")
    parser.add_argument("--tenant", help="the tenant (default: the file's `tenant`)")
    parser.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    parser.set_defaults(handler=apply_file)
