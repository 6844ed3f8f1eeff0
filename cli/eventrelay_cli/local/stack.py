"""The local stack: embedded AWS, the template's functions in worker processes, the HTTP API on 127.0.0.1.

Everything is read from template.yaml: tables and queues (created on the embedded AWS), each
function's handler, timeout, memory and environment, its HTTP API routes and its SQS event
sources. The same handler files that deploy to Lambda serve every request here, each instance in
its own process (see lambda_runtime.py), started on demand up to `max_instances_per_function`.
"""

from __future__ import annotations

import errno
import json
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eventrelay.admin import AdminService, TenantWithSecret
from eventrelay.aws import s3_client, secretsmanager_client, sqs_client
from eventrelay.registrations import RegistrationKind
from eventrelay.roots import AwsClients
from eventrelay.roots.admin import build_admin_service
from eventrelay.tenants import TenantExists, TenantSecretStore
from eventrelay_cli.local.backends import DynamoDBLocal, find_dynamodb_local_jar
from eventrelay_cli.local.environment import LOCAL_REGION, LocalAws
from eventrelay_cli.local.http_gateway import HttpGateway
from eventrelay_cli.local.lambda_runtime import LocalFunction, read_function_specs
from eventrelay_cli.local.local_auth import CONSOLE_PARAMETERS, LocalAuthorizationServer
from eventrelay_cli.local.notifications import S3NotificationPoller, queue_notifications
from eventrelay_cli.local.processes import PortInUse, check_port_free
from eventrelay_cli.local.sqs_event_source import SqsEventSource
from eventrelay_cli.local.state import StateDirectory
from eventrelay_cli.local.template_resources import load_template
from eventrelay_cli.local.token_issuer import LocalTokenIssuer

DEMO_TENANT = "demo"
# Where the gateway serves the local token issuer's public keys (the admin function fetches them).
JWKS_PATH = "/.well-known/jwks.json"
OPERATOR_SUBJECT = "local-operator"
# The operator token printed at start lasts a working day; `eventrelay token` mints others.
OPERATOR_TOKEN_TTL_SECONDS = 12 * 3600
DEFAULT_PORT = 3000
# The local stack's outbound calls may reach services on this machine (and nothing else private).
LOCAL_OUTBOUND_ALLOW = "127.0.0.0/8,::1/128"
HOST = "127.0.0.1"
# DynamoDB Local dying this often within the window is not a hiccup: the stack exits instead.
DYNAMODB_RESTARTS_ALLOWED = 3
DYNAMODB_RESTART_WINDOW_SECONDS = 60.0


def warn(message: str) -> None:
    """A line the person running the stack must see, whatever the log level."""
    print(f"eventrelay local: {message}", file=sys.stderr, flush=True)


@dataclass
class LocalStackOptions:
    template: Path
    port: int = DEFAULT_PORT
    dynamodb: str = "auto"  # auto | local | moto
    state_dir: Path = field(default_factory=Path.cwd)
    demo_secret: str | None = None
    # Forget the saved tables, secrets and queued messages before starting.
    fresh: bool = False
    # On stop: how long requests under way and events already queued get to finish.
    drain_seconds: float = 10.0
    queue_wait_seconds: int = 1
    # Instances (worker processes) per function at most; an SQS function also stays within its
    # event source's concurrency. Each instance holds 50-100 MB (boto3, Powertools, pydantic).
    max_instances_per_function: int = 8


@dataclass
class LocalStack:
    """`start()` then `stop()`. State lives in `options.state_dir`/.eventrelay (see state.py)."""

    options: LocalStackOptions
    aws: LocalAws = field(init=False)
    gateway: HttpGateway = field(init=False)
    event_sources: list[SqsEventSource] = field(default_factory=list, init=False)
    # moto's S3 sends no bucket notifications: these send what the template's would.
    notification_pollers: list[S3NotificationPoller] = field(default_factory=list, init=False)
    functions: dict[str, LocalFunction] = field(default_factory=dict, init=False)
    demo: TenantWithSecret | None = field(default=None, init=False)
    demo_secret: str | None = field(default=None, init=False)
    state: StateDirectory = field(init=False)
    # The admin API's token issuer: a key generated at each start, saved for `eventrelay token`.
    token_issuer: LocalTokenIssuer = field(init=False)
    operator_token: str = field(default="", init=False)
    # Called (from the watchdog's thread) when the stack cannot go on: the runner then stops it.
    on_failure: Callable[[str], None] = field(default=lambda reason: None)
    _stopping: threading.Event = field(default_factory=threading.Event, init=False)
    _stopped: threading.Event = field(default_factory=threading.Event, init=False)
    # Held while the watchdog restarts DynamoDB Local: stop() waits for it before stopping it.
    _restarting: threading.Lock = field(default_factory=threading.Lock, init=False)
    _watchdog: threading.Thread | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.state = StateDirectory(self.options.state_dir)

    @property
    def api_url(self) -> str:
        return self.gateway.url

    @property
    def console_url(self) -> str:
        return f"{self.api_url}/console/"

    @property
    def state_file(self) -> Path:
        return self.state.endpoints_file

    @property
    def keeps_state(self) -> bool:
        """Tables on disk: only then are secrets and queued messages saved and restored with them."""
        return getattr(self, "aws", None) is not None and self.aws.dynamodb_local is not None

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
        """PortInUse / StateInUse before anything is started or touched."""
        check_port_free(HOST, self.options.port)
        self.state.acquire()
        try:
            if self.options.fresh:
                self.state.wipe()
            self._start_token_issuer()
            self._start_gateway()
            self.aws = LocalAws(
                template=self.options.template,
                use_dynamodb_local=self._use_dynamodb_local(),
                outbound_allow=LOCAL_OUTBOUND_ALLOW,
                dynamodb_path=self.state.dynamodb_path,
                admin_jwks_url=self.gateway.url + JWKS_PATH,
                parameter_overrides=CONSOLE_PARAMETERS,
            )
            self.aws.start()
            self.aws.export()
            region = self.aws.settings.region
            if self.keeps_state:
                self.state.restore_secrets(secretsmanager_client(region))
            admin = build_admin_service(
                self.aws.settings, AwsClients.for_settings(self.aws.settings)
            ).acting_as("local-stack:demo")
            self.demo = seed_demo(admin, self.options.demo_secret)
            self.demo_secret = self._read_demo_secret()
            if self.keeps_state:
                # Saved now too: a stack killed before it stops cleanly still keeps the demo secret.
                self.state.save_secrets(secretsmanager_client(region), self.aws.settings.secret_prefix)
            self._start_functions()
            if self.keeps_state:
                self.state.restore_queues(sqs_client(region), self.aws.resources.queue_urls)
            self.state.write_endpoints({"api_url": self.api_url, "environ": self.aws.environ()})
            self._start_watchdog()
        except BaseException:
            self.stop()
            raise
        return self

    def _read_demo_secret(self) -> str | None:
        if self.demo is not None:
            return self.demo.shared_secret
        settings = self.aws.settings
        store = TenantSecretStore(settings.secret_prefix, secretsmanager_client(settings.region))
        kept = store.get(DEMO_TENANT)
        return kept.current if kept is not None else None

    def _start_token_issuer(self) -> None:
        """A fresh key each start (tokens of an earlier run are refused), saved mode 0600 where
        `eventrelay token` finds it, and the operator token printed once in the banner."""
        self.token_issuer = LocalTokenIssuer.generate()
        self.state.write_token_key(self.token_issuer.to_document())
        self.operator_token = self.token_issuer.mint(
            OPERATOR_SUBJECT, operator=True, ttl_seconds=OPERATOR_TOKEN_TTL_SECONDS
        )

    def _serve_jwks(self, event: dict[str, Any], context: object) -> dict[str, Any]:
        return {
            "statusCode": 200,
            "headers": {"content-type": "application/json", "cache-control": "max-age=300"},
            "body": json.dumps(self.token_issuer.jwks()),
        }

    def _start_gateway(self) -> None:
        """Bound before the functions exist (requests meanwhile answer 404, and nobody knows the
        URL yet): the admin function's environment names the JWKS URL, hence the port."""
        self.gateway = HttpGateway(host=HOST, port=self.options.port, region=LOCAL_REGION)
        try:
            self.gateway.start()
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:  # taken since the check at start
                raise PortInUse(HOST, self.options.port) from None
            raise
        self.gateway.add_route(f"GET {JWKS_PATH}", self._serve_jwks)
        # The console's sign-in (code + PKCE), with tokens from the same issuer.
        for route_key, handler in LocalAuthorizationServer(issuer=lambda: self.token_issuer).routes():
            self.gateway.add_route(route_key, handler)

    def _start_functions(self) -> None:
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
        for event_source in self.event_sources:
            event_source.start()
        self._start_notification_pollers()

    def _start_notification_pollers(self) -> None:
        region = self.aws.settings.region
        resources = self.aws.resources
        for notification in queue_notifications(load_template(self.options.template)):
            poller = S3NotificationPoller(
                s3=s3_client(region),
                sqs=sqs_client(region),
                bucket=resources.buckets[notification.bucket_logical_id],
                queue_url=resources.queue_urls[notification.queue_logical_id],
                region=region,
                prefix=notification.prefix,
                suffix=notification.suffix,
            )
            poller.start()
            self.notification_pollers.append(poller)

    def _start_watchdog(self) -> None:
        if self.aws.dynamodb_local is None:
            return
        self._watchdog = threading.Thread(target=self._watch_dynamodb, name="dynamodb-watchdog", daemon=True)
        self._watchdog.start()

    def _watch_dynamodb(self) -> None:
        """DynamoDB Local dying is said loudly and repaired: restarted on the same port, so every
        instance's endpoint stays valid, with its tables (on disk) as they were. Dying again and
        again is not repaired: the stack stops (through `on_failure`), rather than answer 1009 for
        ever. This thread ends only once the stack has stopped: a Java process it restarted dies
        with it (see `die_with_parent`)."""
        dynamodb = self.aws.dynamodb_local
        assert dynamodb is not None
        restarts: list[float] = []
        while not self._stopped.wait(0.5):
            with self._restarting:
                if self._stopping.is_set() or dynamodb.exit_status() is None:
                    continue
                if not self._restart_dynamodb(dynamodb, restarts):
                    return

    def _restart_dynamodb(self, dynamodb: DynamoDBLocal, restarts: list[float]) -> bool:
        status = dynamodb.exit_status()
        how = f"signal {-status}" if status is not None and status < 0 else f"exit status {status}"
        now = time.monotonic()
        restarts[:] = [moment for moment in restarts if now - moment < DYNAMODB_RESTART_WINDOW_SECONDS]
        if len(restarts) >= DYNAMODB_RESTARTS_ALLOWED:
            reason = (
                f"DynamoDB Local (pid {dynamodb.pid}) died ({how}), {len(restarts) + 1} times within "
                f"{DYNAMODB_RESTART_WINDOW_SECONDS:.0f} s; stopping the stack"
            )
            warn(reason)
            self.on_failure(reason)
            return False
        warn(
            f"DynamoDB Local (pid {dynamodb.pid}) died ({how}); "
            "tables answer 1009 until it is back: restarting it"
        )
        restarts.append(now)
        try:
            dynamodb.restart()
        except (OSError, RuntimeError, TimeoutError) as exc:
            reason = f"DynamoDB Local did not start again ({exc}); stopping the stack"
            warn(reason)
            self.on_failure(reason)
            return False
        warn(f"DynamoDB Local is back on {dynamodb.url} (pid {dynamodb.pid}), tables as they were")
        return True

    def stop(self) -> None:
        """Stop accepting HTTP first, finish what was accepted, save the state, then stop the rest."""
        with self._restarting:  # a restart under way finishes first; none starts after this
            self._stopping.set()
        gateway = getattr(self, "gateway", None)
        if gateway is not None:
            gateway.stop(self.options.drain_seconds)
        for poller in self.notification_pollers:
            poller.stop()
        self._drain_queues()
        for event_source in self.event_sources:
            event_source.stop()
        for function in self.functions.values():
            function.close()
        if getattr(self, "aws", None) is not None:
            try:
                self._save_state()
            finally:
                self.aws.stop()
        self._stopped.set()
        if self._watchdog is not None:
            self._watchdog.join(timeout=5)
        if self.state.held:
            self.state.remove_endpoints()
            self.state.release()

    def _drain_queues(self) -> None:
        """Let the consumers finish the events already queued (bounded: what is left is saved)."""
        if not self.event_sources:
            return
        sqs = sqs_client(self.aws.settings.region)
        deadline = time.monotonic() + self.options.drain_seconds
        while time.monotonic() < deadline:
            if all(_waiting(sqs, source.queue_url) == 0 for source in self.event_sources):
                return
            time.sleep(0.1)

    def _save_state(self) -> None:
        if not (self.keeps_state and self.state.held and hasattr(self.aws, "settings")):
            return
        region = self.aws.settings.region
        self.state.save_secrets(secretsmanager_client(region), self.aws.settings.secret_prefix)
        sqs = sqs_client(region)
        self.state.save_queues(sqs, self.aws.resources.queue_urls)
        left = sum(_not_visible(sqs, url) for url in self.aws.resources.queue_urls.values())
        if left:
            warn(f"{left} queued message(s) were delayed or in flight at stop and are not kept")

    def banner(self) -> str:
        secret = self.demo_secret or "(not saved: get a new one with eventrelay secret rotate demo)"
        backend = "DynamoDB Local" if self.aws.dynamodb_local else "moto"
        kept = (
            f"{self.state.folder} (kept across restarts; --fresh starts over)"
            if self.keeps_state
            else "not kept (tables on moto)"
        )
        return "\n".join(
            [
                "eventrelay local stack is running (Ctrl-C stops it)",
                f"  Events API     {self.api_url}",
                f"  AWS (moto)     {self.aws.moto.url}   tables on {backend} at {self.aws.dynamodb_url}",
                f"  state          {kept}",
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
                f"Admin API ({self.api_url}/v1/admin, OpenAPI at {self.api_url}/v1/openapi.json), "
                "an operator's token (shown once, valid 12 h):",
                f"  export EVENTRELAY_TOKEN={self.operator_token}",
                f"  eventrelay --api {self.api_url} tenant list",
                "A tenant admin's token: eventrelay token TENANT",
                "",
                f"The console (sign in as an operator or a tenant admin): {self.console_url}",
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


def _waiting(sqs: object, queue_url: str) -> int:
    """Messages visible or in flight in the queue (delayed ones are not due yet)."""
    counts = sqs.get_queue_attributes(  # type: ignore[attr-defined]
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in counts.values())


def _not_visible(sqs: object, queue_url: str) -> int:
    counts = sqs.get_queue_attributes(  # type: ignore[attr-defined]
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessagesDelayed"],
    )["Attributes"]
    return sum(int(value) for value in counts.values())


class StopRequest:
    """Set from a signal handler or the watchdog; the main thread polls it.

    Only a plain attribute is written in the handler: a handler that took a lock (Event.set) could
    deadlock against the main thread interrupted while holding that very lock."""

    def __init__(self) -> None:
        self.reason: str | None = None
        self.failed = False

    def request(self, reason: str, *, failed: bool = False) -> None:
        if self.reason is None:
            self.reason = reason
            self.failed = failed


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def run_until_stopped(options: LocalStackOptions, announce: Callable[[str], None] = print) -> int:
    """Run until SIGINT, SIGTERM or SIGHUP (handled explicitly: a stack started with SIGINT ignored,
    as a backgrounded job is, still stops on Ctrl-C's signal), or until the stack cannot go on.
    Returns the exit status: 0 after a requested stop, 1 after a failure."""
    stop = StopRequest()
    previous = {
        number: signal.signal(number, lambda signum, frame: stop.request(signal.Signals(signum).name))
        for number in STOP_SIGNALS
    }
    try:
        stack = LocalStack(options, on_failure=lambda reason: stop.request(reason, failed=True))
        stack.start()
        try:
            announce(stack.banner())
            while stop.reason is None:
                time.sleep(0.2)
            announce(f"stopping ({stop.reason})…")
        finally:
            stack.stop()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    return 1 if stop.failed else 0
