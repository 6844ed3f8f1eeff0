"""`eventrelay apply -f config.yaml [--dry-run]`: make a tenant's configuration match one file.

The file declares event registrations, connectors, actions and rules (see examples/config.yaml).
Secrets are referenced as `{env: VARIABLE}` and read from this process's environment. Applying
the same file twice changes nothing the second time; `--dry-run` shows what would change.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from eventrelay_cli.exit_codes import (
    EXIT_CONFLICT,
    EXIT_FAILURE,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
)
from eventrelay_cli.framework import Command, pass_cli_context

if TYPE_CHECKING:
    from eventrelay_cli.context import CliContext


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
    from eventrelay_cli.declarative import describe
    from eventrelay_cli.declarative.apply import Change

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


@click.command(cls=Command, help=__doc__)
@click.option("-f", "--file", "path", required=True, help="the YAML file (- for standard input)")
@click.option("--tenant", help="the tenant (default: the file's `tenant`)")
@click.option("--dry-run", is_flag=True, help="show what would change; write nothing")
@pass_cli_context
def apply(context: CliContext, path: str, tenant: str | None, dry_run: bool) -> int:
    from eventrelay.actions import ActionError
    from eventrelay.connectors.errors import ConnectorError
    from eventrelay.errors import DependencyFailure
    from eventrelay.rules import RuleError, parse_rule_draft
    from eventrelay.tenants import TenantNotFound
    from eventrelay_cli.declarative import ConfigApplier, ConfigError, load_config

    text = _read(path)
    source = "stdin" if path == "-" else path
    try:
        config = load_config(text, os.environ, tenant_id=tenant, source=source, parse_rule=parse_rule_draft)
        report = ConfigApplier(context.admin()).apply(config, dry_run=dry_run)
    except ConfigError as exc:
        raise CliError("\n  ".join([f"{source} cannot be applied:", *exc.problems]), EXIT_USAGE) from None
    except TenantNotFound as exc:
        missing = str(exc.args[0]) if exc.args else tenant
        raise CliError(
            f"tenant {missing!r} not found: create it first (eventrelay tenant create)", EXIT_NOT_FOUND
        ) from None
    except (ActionError, ConnectorError, RuleError) as exc:
        # Validated before writing: only a concurrent change (or a store's own stricter check)
        # gets here. What was written stays; the message names items, never values.
        raise CliError(f"{exc}; run apply again", EXIT_CONFLICT) from None
    except DependencyFailure as exc:
        raise CliError(
            f"AWS is unavailable ({exc}); what was written stays: run apply again to finish", EXIT_FAILURE
        ) from None
    context.emit(report.to_dict(), _human)
    return EXIT_OK
