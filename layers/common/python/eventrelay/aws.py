"""AWS clients of the runtime: one botocore session per process, one client per service and region
(created lazily, injectable), and every call bounded by the time the invocation has left.

Endpoints follow boto3's own variables (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_DYNAMODB, ...), which is
how the local stack and the tests point the same code at moto server or DynamoDB Local.

One session, botocore's: the runtime uses low-level clients only, and those ARE botocore clients
(`boto3.client` returns the same class), while importing boto3 also imports s3transfer and what it
needs. A session loads the endpoint rules, the credential chain and each service model once; a
`boto3.session.Session()` per client loaded them again for every client (431 ms of a first invoke).

Time budget (issue 13: with AWS accepting connections but never answering, a function must give its
documented error, 1009 for publish, before Lambda's timeout, and without rebuilding clients):

- Each HTTP attempt is bounded by fixed socket timeouts. In Lambda (LAMBDA_TIMEOUTS), AWS answers
  these APIs in milliseconds from the same region, so seconds mean "hung"; they are sized for the
  shortest function timeout (publish, 10 s): two whole attempts and INVOCATION_MARGIN fit in it.
  Elsewhere (OTHER_TIMEOUTS: the CLI over the internet, the tests on a busy machine) no deadline
  has to be met and patience is cheaper than a spurious failure. botocore
  fixes socket timeouts per client (in its connection pool), so changing them per invocation would
  mean a client per invocation; a longer function needs room for more attempts, not longer ones.
- The invocation's deadline decides how many attempts a call gets. `within_remaining_time` (around
  each handler) sets it from the Lambda context: remaining time minus INVOCATION_MARGIN, kept for the
  answer (publish's 1009, the runner's batch item failures). Before every attempt, retries included
  (botocore's `before-send` event), an attempt that could not finish by the deadline is not started:
  the call fails with DeadlineReached, a BotoCoreError, which `dependency_boundary` turns into
  DependencyFailure like any unavailable dependency. The retry mode's own cap (MAX_ATTEMPTS) holds.
- The deadline is one per process, not per thread: Lambda runs one invocation per process at a
  time, and the runner's batch calls AWS from worker threads that must obey it too. Outside an
  invocation (the CLI, tests, scripts) there is no deadline: socket timeouts and the cap only.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from eventrelay.errors import DependencyFailure

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient


@dataclass(frozen=True)
class Timeouts:
    """Socket timeouts of one HTTP attempt, in seconds."""

    connect: float
    read: float


LAMBDA_TIMEOUTS = Timeouts(connect=1.0, read=3.0)
OTHER_TIMEOUTS = Timeouts(connect=2.0, read=5.0)
# For a best-effort write after another dependency hung (the rate-limit refund after a hung SQS
# send): the hang used most of the invocation's time, and a whole LAMBDA_TIMEOUTS attempt would not
# fit in what is left. A conditional DynamoDB write in the same region answers in milliseconds.
LAMBDA_QUICK_TIMEOUTS = Timeouts(connect=0.5, read=0.5)
MAX_ATTEMPTS = 3
# Kept from the invocation's remaining time for what follows the last AWS call: the answer.
INVOCATION_MARGIN = 1.0


def default_timeouts(environ: Mapping[str, str] = os.environ) -> Timeouts:
    return LAMBDA_TIMEOUTS if environ.get("AWS_LAMBDA_FUNCTION_NAME") else OTHER_TIMEOUTS


def quick_timeouts(environ: Mapping[str, str] = os.environ) -> Timeouts:
    """LAMBDA_QUICK_TIMEOUTS in Lambda; elsewhere no deadline has to be met (OTHER_TIMEOUTS)."""
    return LAMBDA_QUICK_TIMEOUTS if environ.get("AWS_LAMBDA_FUNCTION_NAME") else OTHER_TIMEOUTS


def client_config(timeouts: Timeouts | None = None, max_attempts: int = MAX_ATTEMPTS) -> Config:
    chosen = timeouts or default_timeouts()
    return Config(
        connect_timeout=chosen.connect,
        read_timeout=chosen.read,
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        max_pool_connections=50,
    )


class DeadlineReached(BotoCoreError):
    """An AWS call attempt not started: it could not have finished before the invocation's deadline."""

    fmt = "no time left for {operation} before the invocation's deadline"


class _Deadline:
    """The running invocation's deadline (time.monotonic seconds), None outside an invocation."""

    def __init__(self) -> None:
        self.at: float | None = None
        self.clock: Callable[[], float] = time.monotonic


_deadline = _Deadline()


class RemainingTime(Protocol):
    """What the deadline needs of a Lambda context."""

    def get_remaining_time_in_millis(self) -> int: ...


@contextmanager
def invocation_deadline(
    context: RemainingTime, clock: Callable[[], float] = time.monotonic
) -> Iterator[float]:
    """AWS calls made inside end by the context's remaining time minus INVOCATION_MARGIN (yielded)."""
    previous_at, previous_clock = _deadline.at, _deadline.clock
    _deadline.at = clock() + context.get_remaining_time_in_millis() / 1000 - INVOCATION_MARGIN
    _deadline.clock = clock
    try:
        yield _deadline.at
    finally:
        _deadline.at, _deadline.clock = previous_at, previous_clock


LambdaHandler = TypeVar("LambdaHandler", bound=Callable[[Any, Any], Any])


def within_remaining_time(handler: LambdaHandler) -> LambdaHandler:
    """Decorates a Lambda handler `(event, context)`: its AWS calls obey the invocation's deadline."""

    @functools.wraps(handler)
    def bounded(event: Any, context: Any) -> Any:
        with invocation_deadline(context):
            return handler(event, context)

    return bounded  # type: ignore[return-value]


def bound_by_deadline(client: Any) -> Any:
    """Make `client` refuse an attempt that could not end before the running invocation's deadline
    (its connect plus read timeout from now). Every client of this module is bound; a test that
    builds its own client binds it with this."""
    config = client.meta.config
    longest_attempt = float(config.connect_timeout) + float(config.read_timeout)

    def refuse_late_attempt(model: Any = None, **_: Any) -> None:
        deadline = _deadline.at
        if deadline is not None and _deadline.clock() + longest_attempt > deadline:
            operation = getattr(model, "name", "the call")
            raise DeadlineReached(operation=operation)

    # before-send fires for each attempt, retries included; raising there ends the call, unretried.
    client.meta.events.register("before-send", refuse_late_attempt, unique_id="eventrelay-deadline")
    return client


class _ProcessClients:
    """The process's session and its cached clients; botocore sessions are not thread-safe, so
    clients are created under the lock (clients themselves are)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.session: botocore.session.Session | None = None
        self.clients: dict[tuple[str, str, bool], Any] = {}

    def shared_session(self) -> botocore.session.Session:
        if self.session is None:
            self.session = botocore.session.get_session()
        return self.session


_process = _ProcessClients()


def create_client(
    service: str, region: str, *, endpoint_url: str | None = None, config: Config | None = None
) -> Any:
    """A new client of the process's session, bound by the invocation's deadline (not cached)."""
    with _process.lock:
        client = _process.shared_session().create_client(
            service, region_name=region, endpoint_url=endpoint_url, config=config or client_config()
        )
    return bound_by_deadline(client)


def _client(service: str, region: str, quick: bool = False) -> Any:
    key = (service, region, quick)
    client = _process.clients.get(key)
    if client is None:
        config = client_config(quick_timeouts(), max_attempts=2) if quick else None
        created = create_client(service, region, config=config)
        with _process.lock:
            client = _process.clients.setdefault(key, created)
    return client


def dynamodb_client(region: str) -> DynamoDBClient:
    return _client("dynamodb", region)  # type: ignore[no-any-return]


def quick_dynamodb_client(region: str) -> DynamoDBClient:
    """A DynamoDB client with short attempts (`quick_timeouts`), for a best-effort write that must
    fit in what a hang left of the invocation. Created on first use: most processes never need it."""
    return _client("dynamodb", region, quick=True)  # type: ignore[no-any-return]


def sqs_client(region: str) -> SQSClient:
    return _client("sqs", region)  # type: ignore[no-any-return]


def secretsmanager_client(region: str) -> SecretsManagerClient:
    return _client("secretsmanager", region)  # type: ignore[no-any-return]


def s3_client(region: str) -> Any:
    """S3 (typed by the narrow interfaces its users declare: eventrelay.datasets.files)."""
    return _client("s3", region)


def reset_clients() -> None:
    """Forget the cached clients and the session (the local stack and tests call this after
    changing endpoints or credentials)."""
    with _process.lock:
        _process.clients.clear()
        _process.session = None


class ServiceAnswer(Exception):
    """An AWS error answer the caller expects and turns into a domain outcome (a failed condition,
    a missing secret): its `code` and the parsed `response`. Never shown to users as it is."""

    def __init__(self, code: str, response: Mapping[str, Any]) -> None:
        super().__init__(code)
        self.code = code
        self.response = response


@contextmanager
def dependency_boundary(dependency: str, expected: Collection[str] = ()) -> Iterator[None]:
    """The one classification of AWS failures, shared by every adapter (DynamoDB, SQS, Secrets Manager).

    An error answer whose code is in `expected` becomes ServiceAnswer; every other botocore or
    network error (ClientError, BotoCoreError such as EndpointConnectionError or ReadTimeoutError)
    becomes DependencyFailure naming `dependency` and the error's code or class, never AWS's
    message text (it can quote request data).
    """
    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in expected:
            raise ServiceAnswer(code, dict(exc.response)) from None
        raise DependencyFailure(f"{dependency} unavailable ({code or 'error'})") from None
    except BotoCoreError as exc:
        raise DependencyFailure(f"{dependency} unavailable ({type(exc).__name__})") from None


SECRETS_MANAGER = "Secrets Manager"
_MISSING_RESOURCE = "ResourceNotFoundException"


def read_secret_string(client: SecretsManagerClient, secret_id: str) -> str | None:
    """The current value of a secret, None when it does not exist; any other failure is a
    DependencyFailure (the caller fails closed and never sees the AWS error text)."""
    try:
        with dependency_boundary(SECRETS_MANAGER, expected={_MISSING_RESOURCE}):
            response = client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
    except ServiceAnswer:
        return None
    return response["SecretString"]


def create_secret_string(client: SecretsManagerClient, secret_id: str, value: str, description: str) -> None:
    """A new secret; DependencyFailure if it cannot be created (including when it exists already)."""
    with dependency_boundary(SECRETS_MANAGER):
        client.create_secret(Name=secret_id, SecretString=value, Description=description)


def write_secret_string(client: SecretsManagerClient, secret_id: str, value: str, description: str) -> None:
    """Store `value` as the secret's current version, creating the secret when it does not exist."""
    try:
        with dependency_boundary(SECRETS_MANAGER, expected={_MISSING_RESOURCE}):
            # PutSecretValue moves AWSCURRENT to the new version in one call (AWS and moto alike).
            client.put_secret_value(SecretId=secret_id, SecretString=value)
    except ServiceAnswer:
        create_secret_string(client, secret_id, value, description)


def delete_secret(client: SecretsManagerClient, secret_id: str) -> None:
    """Delete the secret at once (no recovery window); a secret that does not exist is fine."""
    try:
        with dependency_boundary(SECRETS_MANAGER, expected={_MISSING_RESOURCE}):
            client.delete_secret(SecretId=secret_id, ForceDeleteWithoutRecovery=True)
    except ServiceAnswer:
        return
