"""`eventrelay connector create|list|show|update|delete|test|authorize`.

Secrets never appear on the command line (where shell history and `ps` would keep them) and are
never printed. Each one comes from an environment variable the command names
(`--password-env JIRA_PASSWORD`) or from standard input (`--password-stdin`: one line per secret,
in the order base URL, test URL, password, client secret, token headers; on a terminal, a prompt
without echo). `create` asks for a missing required secret the same way when standard input is a
terminal.

A URL-based connector (auth none, e.g. a Slack incoming webhook) is authenticated by its URL: give
it with `--base-url-env SLACK_WEBHOOK_URL` or `--base-url-stdin` (and an absolute test URL with
`--test-url-env`/`--test-url-stdin`). A plain `--base-url`/`--test-url` still works for it, with a
warning on stderr; the URL is then stored in Secrets Manager and shown redacted.

Each command calls one admin API route (`eventrelay.admin_api.connectors`); `--json` prints its
answer's `data`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from eventrelay_cli.exit_codes import EXIT_FAILURE, EXIT_OK
from eventrelay_cli.framework import (
    Group,
    LazyChoice,
    enum_values,
    exclusive,
    pass_cli_context,
    with_options,
)

if TYPE_CHECKING:
    from eventrelay_cli.commands.connector_inputs import ConnectorOptions, SecretSources
    from eventrelay_cli.context import CliContext


def _secret_sources() -> SecretSources:
    from eventrelay_cli.commands.connector_inputs import SecretSources

    return SecretSources(environ=os.environ, stdin=sys.stdin)


def _rate(view: dict[str, Any]) -> str:
    limit = view.get("rateLimit")
    if not limit:
        return ""
    parts = [
        f"{limit[key]}/{unit}" for key, unit in (("perSecond", "s"), ("perMinute", "min")) if limit.get(key)
    ]
    return f", paced at {' and '.join(parts)}"


def _summary(view: dict[str, Any], verb: str) -> str:
    line = (
        f"{verb} connector {view['name']} ({view['authType']}) for tenant {view['tenantId']}: "
        f"health {view['health']['state']}{_rate(view)}"
    )
    if view["health"]["state"] == "PENDING_AUTHORIZATION":
        line += f"\nnext: eventrelay connector authorize {view['tenantId']} {view['name']}"
    return line


def _definition_options(*, update: bool) -> Callable[[Callable[[CliContext, ConnectorOptions], int]], Any]:
    """The options of create/update, handed to the command as one ConnectorOptions."""
    options = [
        click.argument("tenant_id"),
        click.argument("name"),
        click.option("--base-url", help="the API's base URL (http or https)"),
        click.option(
            "--base-url-env",
            metavar="VARIABLE",
            help="read the base URL from this variable (for a secret webhook URL, auth none)",
        ),
        click.option("--base-url-stdin", is_flag=True, help="read the base URL from stdin"),
        click.option(
            "--auth",
            type=LazyChoice(enum_values("eventrelay.connectors.models:AuthType")),
            default=None if update else "none",
            help="authentication (default none)",
        ),
        click.option(
            "--header", multiple=True, metavar="NAME=VALUE", help="a header sent on every call (repeatable)"
        ),
        *(
            [click.option("--remove-header", multiple=True, metavar="NAME", help="drop a header")]
            if update
            else []
        ),
        click.option("--description"),
        click.option(
            "--rate-per-second",
            type=click.IntRange(1, 1000),
            metavar="N",
            help="pace calls: at most N per second, across all runners",
        ),
        click.option(
            "--rate-per-minute",
            type=click.IntRange(1, 60_000),
            metavar="N",
            help="pace calls: at most N per minute, across all runners",
        ),
        *(
            [click.option("--no-rate-limit", is_flag=True, help="remove the rate limit (calls not paced)")]
            if update
            else []
        ),
        click.option("--test-url", help="URL `connector test` GETs (absolute, or relative to the base)"),
        click.option("--test-url-env", metavar="VARIABLE", help="read the test URL from this variable"),
        click.option("--test-url-stdin", is_flag=True, help="read the test URL from stdin"),
        # basic auth
        click.option("--username", help="basic auth: the user name"),
        click.option("--password-env", metavar="VARIABLE", help="read the password from this variable"),
        click.option("--password-stdin", is_flag=True, help="read the password from stdin"),
        # token auth (header key/values)
        click.option(
            "--token-header-env",
            multiple=True,
            metavar="NAME=VARIABLE",
            help="a header whose value is read from an environment variable (repeatable)",
        ),
        click.option(
            "--token-header-stdin",
            multiple=True,
            metavar="NAME",
            help="a header whose value is read from stdin, one line each (repeatable)",
        ),
        # oauth2
        click.option("--grant", type=LazyChoice(enum_values("eventrelay.connectors.models:OAuth2Grant"))),
        click.option("--token-url", help="oauth2: the token endpoint"),
        click.option("--scope", help="oauth2: the scope to ask for"),
        click.option(
            "--client-auth",
            type=LazyChoice(enum_values("eventrelay.connectors.models:ClientAuthMethod")),
            help="how the client authenticates to the token endpoint (default client_secret_basic)",
        ),
        click.option(
            "--token-content-type",
            type=LazyChoice(enum_values("eventrelay.connectors.models:TokenContentType")),
            help="oauth2: the token request's body, form-encoded (default) or JSON",
        ),
        click.option("--authorization-url", help="authorization_code grant: the provider's consent page"),
        click.option("--redirect-url", help="authorization_code grant: this stack's /oauth/callback URL"),
        click.option("--client-id", help="oauth2: the client id"),
        click.option("--client-secret-env", metavar="VARIABLE", help="read the client secret from this"),
        click.option("--client-secret-stdin", is_flag=True, help="read the client secret from stdin"),
    ]

    def checked(**values: Any) -> ConnectorOptions:
        from eventrelay_cli.commands.connector_inputs import ConnectorOptions

        given = ConnectorOptions(**values)
        exclusive(
            {
                "--base-url": given.base_url,
                "--base-url-env": given.base_url_env,
                "--base-url-stdin": given.base_url_stdin,
            }
        )
        exclusive(
            {
                "--test-url": given.test_url,
                "--test-url-env": given.test_url_env,
                "--test-url-stdin": given.test_url_stdin,
            }
        )
        if given.no_rate_limit and (given.rate_per_second is not None or given.rate_per_minute is not None):
            raise click.UsageError("--no-rate-limit is not allowed with --rate-per-second/--rate-per-minute")
        if not update and not (given.base_url or given.base_url_env or given.base_url_stdin):
            raise click.UsageError("one of --base-url, --base-url-env, --base-url-stdin is required")
        return given

    return with_options(checked, options)


@click.group(cls=Group, help=__doc__)
def connector() -> None:
    pass


def _path(*segments: str) -> str:
    from eventrelay.admin_api.routing import admin_path

    return admin_path(*segments)


@connector.command("create")
@_definition_options(update=False)
def connector_create(context: CliContext, options: ConnectorOptions) -> int:
    """Create a connector (credentials from environment variables or stdin)."""
    from eventrelay_cli.commands.connector_inputs import (
        body_from_options,
        warn_plain_secret_urls,
        worded_for_options,
    )

    body = {"name": options.name, **body_from_options(options, _secret_sources(), ask_missing=True)}
    with worded_for_options(options):
        created = context.call("POST", _path("tenants", options.tenant_id, "connectors"), body=body)
    warn_plain_secret_urls(options, created["authType"], context.info)
    context.emit(created, lambda v: _summary(v, "created"))
    return EXIT_OK


@connector.command("update")
@_definition_options(update=True)
def connector_update(context: CliContext, options: ConnectorOptions) -> int:
    """Change a connector; options not given keep their value."""
    from eventrelay_cli.commands.connector_inputs import (
        body_from_options,
        warn_plain_secret_urls,
        worded_for_options,
    )

    body = body_from_options(options, _secret_sources(), ask_missing=False)
    with worded_for_options(options):
        path = _path("tenants", options.tenant_id, "connectors", options.name)
        updated = context.call("PATCH", path, body=body)
    warn_plain_secret_urls(options, updated["authType"], context.info)
    context.emit(
        updated,
        lambda v: _summary(v, "updated") if v["changed"] else f"connector {v['name']}: unchanged",
    )
    return EXIT_OK


@connector.command("list")
@click.argument("tenant_id")
@pass_cli_context
def connector_list(context: CliContext, tenant_id: str) -> int:
    """A tenant's connectors and their health."""
    rows = context.call("GET", _path("tenants", tenant_id, "connectors"))
    context.emit(
        rows,
        lambda rs: (
            "\n".join(f"{r['name']}\t{r['authType']}\t{r['health']['state']}\t{r['baseUrl']}" for r in rs)
            or "(no connectors)"
        ),
    )
    return EXIT_OK


@connector.command("show")
@click.argument("tenant_id")
@click.argument("name")
@pass_cli_context
def connector_show(context: CliContext, tenant_id: str, name: str) -> int:
    """One connector (which credentials are set, never their values)."""
    context.emit(context.call("GET", _path("tenants", tenant_id, "connectors", name)))
    return EXIT_OK


@connector.command("delete")
@click.argument("tenant_id")
@click.argument("name")
@click.option("--force", is_flag=True, help="delete even if actions use it")
@pass_cli_context
def connector_delete(context: CliContext, tenant_id: str, name: str, force: bool) -> int:
    """Delete a connector and its credentials."""
    path = _path("tenants", tenant_id, "connectors", name)
    deleted = context.call("DELETE", path, query={"force": "true"} if force else None)
    context.emit(deleted, lambda _: f"deleted connector {name}")
    return EXIT_OK


@connector.command("test")
@click.argument("tenant_id")
@click.argument("name")
@click.option(
    "--body-limit", type=int, default=2048, show_default=True, help="characters of the body to show"
)
@pass_cli_context
def connector_test(context: CliContext, tenant_id: str, name: str, body_limit: int) -> int:
    """Test connection: GET the test URL with the connector's auth."""
    path = _path("tenants", tenant_id, "connectors", name, "test")
    view = context.call("POST", path, body={"bodyLimit": body_limit})

    def human(v: dict[str, Any]) -> str:
        status = f"HTTP {v['status']}" if v["status"] is not None else "no response"
        lines = [f"GET {v['url']}: {v['outcome']}, {status} in {v['durationMs']} ms (health {v['health']})"]
        if v["error"]:
            lines.append(f"error: {v['error']}")
        if v["body"]:
            lines += ["", v["body"] + (" [truncated]" if v["bodyTruncated"] else "")]
        return "\n".join(lines)

    context.emit(view, human)
    return EXIT_OK if view["ok"] else EXIT_FAILURE


@connector.command("authorize")
@click.argument("tenant_id")
@click.argument("name")
@pass_cli_context
def connector_authorize(context: CliContext, tenant_id: str, name: str) -> int:
    """Print the URL to open for the OAuth 2.0 authorization-code grant."""
    view = context.call("POST", _path("tenants", tenant_id, "connectors", name, "authorize"))
    context.emit(
        view,
        lambda v: f"Open this URL in a browser and grant access (valid until {v['expiresAt']}):\n{v['url']}",
    )
    return EXIT_OK
