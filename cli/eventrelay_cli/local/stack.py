"""The local stack: embedded AWS, the template's functions in worker processes, the HTTP API on 127.0.0.1.

Everything is read from template.yaml: tables and queues (created on the embedded AWS), each
function's handler, timeout, memory and environment, its HTTP API routes and its SQS event
sources. The same handler files that deploy to Lambda serve every request here, each instance in
its own process (see lambda_runtime.py), started on demand up to `max_instances_per_function`.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from eventrelay.admin import AdminService, TenantWithSecret
from eventrelay.aws import sqs_client
from eventrelay.registrations import RegistrationKind
from eventrelay.roots import AwsClients
from eventrelay.roots.admin import build_admin_service
from eventrelay.tenants import TenantExists
from eventrelay_cli.context import LOCAL_STATE_FILE
from eventrelay_cli.local.backends import find_dynamodb_local_jar
from eventrelay_cli.local.environment import LocalAws
from eventrelay_cli.local.http_gateway import HttpGateway
from eventrelay_cli.local.lambda_runtime import LocalFunction, read_function_specs
from eventrelay_cli.local.sqs_event_source import SqsEventSource

DEMO_TENANT = "demo"
DEFAULT_PORT = 3000
# The local stack's outbound calls may reach services on this machine (and nothing else private).
LOCAL_OUTBOUND_ALLOW = "127.0.0.0/8,::1/128"


@dataclass
class LocalStackOptions:
    template: Path
    port: int = DEFAULT_PORT
    dynamodb: str = "auto"  # auto | local | moto
    state_dir: Path = field(default_factory=Path.cwd)
    demo_secret: str | None = None
    queue_wait_seconds: int = 1
    # Instances (worker processes) per function at most; an SQS function also stays within its
    # event source's concurrency. Each instance holds 50-100 MB (boto3, Powertools, pydantic).
    max_instances_per_function: int = 8


@dataclass
class LocalStack:
    options: LocalStackOptions
    aws: LocalAws = field(init=False)
    gateway: HttpGateway = field(init=False)
    event_sources: list[SqsEventSource] = field(default_factory=list, init=False)
    functions: dict[str, LocalFunction] = field(default_factory=dict, init=False)
    demo: TenantWithSecret | None = field(default=None, init=False)

    @property
    def api_url(self) -> str:
        return self.gateway.url

    @property
    def state_file(self) -> Path:
        return self.options.state_dir / LOCAL_STATE_FILE

    def _use_dynamodb_local(self) -> bool:
        choice = self.options.dynamodb
        if choice == "local":
            return True
        if choice == "moto":
            return False
        return (
            find_dynamodb_local_jar(self.options.template.parent) is not None
            and shutil.which("java") is not None
        )

    def start(self) -> LocalStack:
        self.aws = LocalAws(
            template=self.options.template,
            use_dynamodb_local=self._use_dynamodb_local(),
            outbound_allow=LOCAL_OUTBOUND_ALLOW,
        )
        self.aws.start()
        try:
            self.aws.export()
            admin = build_admin_service(self.aws.settings, AwsClients.for_settings(self.aws.settings))
            self.demo = seed_demo(admin, self.options.demo_secret)
            self._start_functions()
            self._write_state()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_functions(self) -> None:
        self.gateway = HttpGateway(port=self.options.port, region=self.aws.settings.region)
        sqs = sqs_client(self.aws.settings.region)
        for spec in read_function_specs(self.options.template).values():
            function = LocalFunction.from_spec(
                spec,
                environment=self.aws.function_environment(spec),
                region=self.aws.settings.region,
                max_instances=self.options.max_instances_per_function,
            )
            self.functions[spec.logical_id] = function
            for route in spec.http_routes:
                self.gateway.add_route(route.route_key, function)
            for source in spec.sqs_sources:
                if not source.enabled:
                    continue
                self.event_sources.append(
                    SqsEventSource.from_spec(
                        source,
                        function,
                        queue_url=self.aws.resources.queue_urls[source.queue_logical_id],
                        sqs=sqs,
                        wait_time_seconds=self.options.queue_wait_seconds,
                    )
                )
        self.gateway.start()
        for event_source in self.event_sources:
            event_source.start()

    def _write_state(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        state = {"api_url": self.api_url, "environ": self.aws.environ()}
        self.state_file.write_text(json.dumps(state, indent=2), encoding="utf-8")
        os.chmod(self.state_file, 0o600)

    def stop(self) -> None:
        for event_source in self.event_sources:
            event_source.stop()
        gateway = getattr(self, "gateway", None)
        if gateway is not None:
            gateway.stop()
        for function in self.functions.values():
            function.close()
        self.state_file.unlink(missing_ok=True)
        self.aws.stop()

    def banner(self) -> str:
        demo = self.demo
        secret = demo.shared_secret if demo else "(kept from an earlier run)"
        backend = "DynamoDB Local" if self.aws.dynamodb_local else "moto"
        return "\n".join(
            [
                "eventrelay local stack is running (Ctrl-C stops it)",
                f"  Events API     {self.api_url}",
                f"  AWS (moto)     {self.aws.moto.url}   tables on {backend} at {self.aws.dynamodb_url}",
                f"  demo tenant    {DEMO_TENANT}",
                f"  demo secret    {secret}",
                "  registered     OrderPlaced/v01 (open), SystemAssetEvent/v01 (system_asset)",
                "",
                "Publish an event:",
                f"  curl -s -X POST {self.api_url}/v1/eventManager/event \\",
                "    -H 'Content-Type: application/json' \\",
                "    -H 'eventName: OrderPlaced' -H 'eventVersion: v01' \\",
                f"    -H 'tenantId: {DEMO_TENANT}' -H 'sharedSecret: {secret}' \\",
                '    -d \'{"orderId": "o-1", "total": 42}\'',
                "",
                "Administer it from another terminal in this folder: eventrelay --help",
            ]
        )


def seed_demo(admin: AdminService, demo_secret: str | None = None) -> TenantWithSecret | None:
    """The demo tenant with two registrations; None when it exists already."""
    try:
        created: TenantWithSecret | None = admin.tenants.create(DEMO_TENANT, "Demo tenant", demo_secret)
    except TenantExists:
        created = None
    admin.events.register(DEMO_TENANT, "OrderPlaced", "v01", description="demo: any JSON object")
    admin.events.register(DEMO_TENANT, "SystemAssetEvent", "v01", RegistrationKind.SYSTEM_ASSET)
    return created


def run_until_interrupted(options: LocalStackOptions, announce: Callable[[str], None] = print) -> int:
    stack = LocalStack(options).start()
    stopped = threading.Event()
    try:
        announce(stack.banner())
        stopped.wait()
    except KeyboardInterrupt:
        announce("stopping…")
    finally:
        stack.stop()
    return 0
