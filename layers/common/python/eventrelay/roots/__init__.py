"""The composition roots: the only place that builds stores, services and AWS clients.

One root per process kind, each in its own module so a function imports only what it runs:
- `events.publish_root()` (the Events API function) and `events.bulk_worker_root()`;
- `delivery.runner_root()` (the action runner);
- `connectors.oauth_callback_root()` (GET /oauth/callback);
- `admin.build_admin_service(settings, clients)` (the CLI, `apply`, next the admin HTTP API).

Each root is built from `Settings` and an explicitly passed `AwsClients`; the `*_root()` functions
build theirs once per process from `get_settings()`. Tests call the `build_*` functions with their
own settings, clock and outbound client.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eventrelay.aws import dynamodb_client, quick_dynamodb_client, secretsmanager_client, sqs_client

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

    from eventrelay.settings import Settings


@dataclass(frozen=True)
class AwsClients:
    """The AWS clients a process uses, built once per process (one per service and region)."""

    dynamodb: DynamoDBClient
    sqs: SQSClient
    secretsmanager: SecretsManagerClient
    # Makes (on first use) a DynamoDB client with short attempts, for the rate-limit refund after a
    # hang; None: refunds use `dynamodb`.
    quick_dynamodb: Callable[[], DynamoDBClient] | None = None

    @classmethod
    def for_settings(cls, settings: Settings) -> AwsClients:
        return cls(
            dynamodb=dynamodb_client(settings.region),
            sqs=sqs_client(settings.region),
            secretsmanager=secretsmanager_client(settings.region),
            quick_dynamodb=functools.partial(quick_dynamodb_client, settings.region),
        )


__all__ = ["AwsClients"]
