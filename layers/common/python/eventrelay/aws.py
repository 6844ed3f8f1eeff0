"""AWS clients: created once per process, lazily, and injectable.

Endpoints follow boto3's own variables (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_DYNAMODB, ...), which is
how the local stack and the tests point the same code at moto server or DynamoDB Local.
"""

from __future__ import annotations

import threading
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


def reset_clients() -> None:
    """Forget cached clients (the local stack and tests call this after changing endpoints)."""
    with _lock:
        _clients.clear()


def read_secret_string(client: SecretsManagerClient, secret_id: str) -> str | None:
    """The current value of a secret, None when it does not exist; any other failure is a
    DependencyFailure (the caller fails closed and never sees the AWS error text)."""
    try:
        response = client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return None
        raise DependencyFailure("secrets manager") from None
    except BotoCoreError:
        raise DependencyFailure("secrets manager") from None
    return response["SecretString"]
