"""Where the CLI points (the local stack or a deployed stack) and how it prints.

Commands receive a CliContext through `framework.pass_cli_context`; it is resolved when the first
command that needs it runs, so `--help` never loads settings, pydantic or boto3.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eventrelay_cli.exit_codes import EXIT_USAGE, CliError

if TYPE_CHECKING:
    from eventrelay.admin import AdminService
    from eventrelay.settings import Settings
    from eventrelay_cli.admin_client import AdminTransport

LOCAL_STATE_FILE = Path(".eventrelay") / "local.json"


def cli_subject() -> str:
    """Who the audit log records for changes made through this CLI: `cli:<os user>`."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        user = f"uid{os.getuid()}"
    return f"cli:{user}"


def find_local_state(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / LOCAL_STATE_FILE
        if candidate.is_file():
            return candidate
    return None


@dataclass
class CliContext:
    json_output: bool
    settings: Settings | None  # None when the CLI targets an admin API (`--api`) instead of AWS
    api_url: str
    admin_api: AdminTransport | None = None
    _admin: AdminService | None = field(default=None, init=False, repr=False)

    def call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        query: dict[str, str] | None = None,
    ) -> Any:
        """Call one admin API route (`admin_path(...)`) and answer its `data` document: over
        HTTPS with `--api`, else in this process on the admin service."""
        if self.admin_api is None:
            from eventrelay_cli.admin_client import InProcessAdmin

            self.admin_api = InProcessAdmin(self.admin, cli_subject())
        return self.admin_api.call(method, path, body=body, query=query)

    def admin(self) -> AdminService:
        """The admin service (commands not yet on the admin API: `apply`), built once per process."""
        if self.settings is None:
            raise CliError("this command talks to AWS directly and is not available with --api", EXIT_USAGE)
        if self._admin is None:
            from eventrelay.roots import AwsClients
            from eventrelay.roots.admin import build_admin_service

            service = build_admin_service(self.settings, AwsClients.for_settings(self.settings))
            self._admin = service.acting_as(cli_subject())
        return self._admin

    def emit(self, data: Any, human: Callable[[Any], str] | None = None) -> None:
        """Print `data` as JSON with --json, else as the human rendering (or indented JSON)."""
        if self.json_output or human is None:
            print(json.dumps(data, indent=None if self.json_output else 2, sort_keys=True, default=str))
        else:
            print(human(data))

    def info(self, message: str) -> None:
        """A human note, kept off stdout so --json output stays parseable."""
        print(message, file=sys.stderr)


def _context_from_local_state(path: Path, json_output: bool) -> CliContext:
    from eventrelay.aws import reset_clients
    from eventrelay.settings import Settings

    state = json.loads(path.read_text(encoding="utf-8"))
    for key, value in state["environ"].items():
        os.environ[key] = value
    reset_clients()
    return CliContext(json_output=json_output, settings=Settings.from_environ(), api_url=state["api_url"])


def _context_from_stack(stack: str, region: str | None, json_output: bool) -> CliContext:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from eventrelay.settings import Settings

    try:
        cloudformation = boto3.client("cloudformation", region_name=region)
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except (BotoCoreError, ClientError) as exc:
        raise CliError(f"cannot read stack {stack!r}: {exc.__class__.__name__}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    resolved_region = cloudformation.meta.region_name
    try:
        settings = Settings(
            region=resolved_region,
            config_table=outputs["ConfigTableName"],
            limits_table=outputs["LimitsTableName"],
            deliveries_table=outputs.get("DeliveriesTableName", ""),
            events_queue_url=outputs["EventsQueueUrl"],
            jobs_queue_url=outputs["JobsQueueUrl"],
            secret_prefix=outputs["SecretPrefix"],
            datasets_bucket=outputs.get("DatasetsBucketName", ""),
            dataset_deliveries_queue_url=outputs.get("DatasetDeliveriesQueueUrl", ""),
        )
    except KeyError as missing:
        raise CliError(f"stack {stack!r} has no output {missing}; is it an eventrelay stack?") from None
    os.environ.update({k: v for k, v in settings.as_environ().items() if v})
    return CliContext(json_output=json_output, settings=settings, api_url=outputs["ApiUrl"])


TOKEN_VARIABLE = "EVENTRELAY_TOKEN"  # noqa: S105 - the variable's name, not a token


def _context_for_admin_api(admin_api: str, json_output: bool, api_url: str | None) -> CliContext:
    from eventrelay_cli.admin_client import HttpAdmin
    from eventrelay_cli.login import saved_token

    token = os.environ.get(TOKEN_VARIABLE) or saved_token(admin_api)
    if not token:
        raise CliError(
            f"--api needs a token: set {TOKEN_VARIABLE}, or run `eventrelay login --api {admin_api}`",
            EXIT_USAGE,
        )
    return CliContext(
        json_output=json_output,
        settings=None,
        api_url=api_url or admin_api,
        admin_api=HttpAdmin(admin_api, token),
    )


def resolve_context(
    *,
    json_output: bool,
    stack: str | None,
    local: bool,
    region: str | None,
    api_url: str | None,
    admin_api: str | None = None,
) -> CliContext:
    """--api (or EVENTRELAY_API) targets an admin API over HTTPS; --stack (or EVENTRELAY_STACK) a
    deployed stack through AWS; otherwise the running local stack."""
    from eventrelay.settings import Settings, SettingsError

    admin_api = admin_api or os.environ.get("EVENTRELAY_API")
    if admin_api:
        return _context_for_admin_api(admin_api, json_output, api_url)
    stack = stack or os.environ.get("EVENTRELAY_STACK")
    if stack and not local:
        context = _context_from_stack(stack, region, json_output)
    else:
        state = find_local_state()
        if state is None:
            try:
                settings = Settings.from_environ()
            except SettingsError:
                raise CliError(
                    "no target: start the local stack (`eventrelay local`) or pass --stack NAME", EXIT_USAGE
                ) from None
            context = CliContext(json_output, settings, os.environ.get("EVENTRELAY_API_URL", ""))
        else:
            context = _context_from_local_state(state, json_output)
    if api_url:
        context.api_url = api_url
    return context
