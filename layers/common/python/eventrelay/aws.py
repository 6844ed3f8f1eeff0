"""AWS clients: created once per process, lazily, and injectable.

Endpoints follow boto3's own variables (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_DYNAMODB, ...), which is
how the local stack and the tests point the same code at moto server or DynamoDB Local.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from eventrelay.errors import DependencyFailure

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

# Fail fast: a publisher waiting on a slow dependency is better told 1009 than left hanging.
_CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"mode": "standard", "total_max_attempts": 3},
    max_pool_connections=50,
)

_lock = threading.Lock()
_clients: dict[tuple[str, str], Any] = {}


def _client(service: str, region: str) -> Any:
    key = (service, region)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = boto3.session.Session().client(service, region_name=region, config=_CLIENT_CONFIG)  # type: ignore[call-overload]
                _clients[key] = client
    return client


def dynamodb_client(region: str) -> DynamoDBClient:
    return _client("dynamodb", region)  # type: ignore[no-any-return]


def sqs_client(region: str) -> SQSClient:
    return _client("sqs", region)  # type: ignore[no-any-return]


def secretsmanager_client(region: str) -> SecretsManagerClient:
    return _client("secretsmanager", region)  # type: ignore[no-any-return]


def s3_client(region: str) -> Any:
    """S3 (typed by the narrow interfaces its users declare: eventrelay.datasets.files)."""
    return _client("s3", region)


def reset_clients() -> None:
    """Forget cached clients (the local stack and tests call this after changing endpoints)."""
    with _lock:
        _clients.clear()


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
